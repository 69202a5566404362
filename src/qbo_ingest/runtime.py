"""Wiring: settings -> database, token store, QBO client, engine. One place, used by the CLI and Mage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from qbo_ingest.backfill import Engine, ProgressFn
from qbo_ingest.settings import Settings


@contextmanager
def engine(settings: Settings, *, concurrency: int = 4, page_size: int = 1000, source_checks: bool = True,
           on_day: ProgressFn | None = None, dsn: str | None = None) -> Iterator[Engine]:
    """An Engine with its own QBO client; the client (and its HTTP pool) is closed on exit."""
    from qbo_ingest.qbo import QboClient
    from qbo_ingest.token_store import PostgresTokenStore

    settings.require_qbo()
    conninfo = dsn or settings.dsn()
    client = QboClient(settings, token_store=PostgresTokenStore(conninfo))
    try:
        yield Engine(client=client, dsn=conninfo, realm_id=settings.realm_id or "", page_size=page_size,
                     concurrency=concurrency, source_checks=source_checks, on_day=on_day)
    finally:
        client.close()
