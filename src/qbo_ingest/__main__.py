"""`python -m qbo_ingest`: the CLI."""

from qbo_ingest.apps.cli.main import main

main()
