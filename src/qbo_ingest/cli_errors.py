"""The errors a user can act on: the CLI prints them as one line (no traceback) and exits non-zero."""

from __future__ import annotations


def expected_errors() -> tuple[type[BaseException], ...]:
    import psycopg

    from qbo_ingest.entities import UnknownEntityError
    from qbo_ingest.errors import QboError
    from qbo_ingest.quality import QualityGateError
    from qbo_ingest.warehouse import GrantError
    from qbo_ingest.windows import DateRangeError

    return (UnknownEntityError, DateRangeError, QboError, GrantError, QualityGateError,
            psycopg.OperationalError, psycopg.errors.InsufficientPrivilege, OSError)
