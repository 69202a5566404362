"""The correctness suite (issue 13): failures found from outside the suite, as an operator would meet them."""
