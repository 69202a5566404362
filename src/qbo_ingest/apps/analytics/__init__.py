"""The analytics layer's application side: running the dbt project (`models`)."""
