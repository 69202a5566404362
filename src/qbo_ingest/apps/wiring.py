"""Wiring: settings -> database, token store, QBO client, engine. One place, used by the CLI and Mage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from qbo_ingest.pipeline.budget import CallBudget
from qbo_ingest.pipeline.engine import Engine
from qbo_ingest.pipeline.report import ProgressFn
from qbo_ingest.settings import Settings
from qbo_ingest.source.auth.token_store import PostgresTokenStore
from qbo_ingest.source.client import QboClient


@contextmanager
def engine(settings: Settings, *, concurrency: int = 4, page_size: int = 1000, source_checks: bool = True,
           on_day: ProgressFn | None = None, dsn: str | None = None,
           max_requests: int | None = None) -> Iterator[Engine]:
    """An Engine with its own QBO client; the client (and its HTTP pool) is closed on exit.

    Every request the client sends is counted by the engine's `CallBudget` (the client's meter), which
    refuses one past `max_requests` or the month's QBO_MONTHLY_CALL_BUDGET; the counts are written to
    the month's book (qbo_ingest.api_calls) as streams end, and on exit."""
    settings.require_qbo()
    conninfo = dsn or settings.dsn()
    budget = CallBudget(max_requests=max_requests, monthly_budget=settings.monthly_call_budget)
    store = PostgresTokenStore(conninfo, key_material=settings.token_key_material())
    client = QboClient(settings, token_store=store, meter=budget.on_call, max_in_flight=concurrency)
    eng = Engine(client=client, dsn=conninfo, realm_id=settings.realm_id or "", page_size=page_size,
                 concurrency=concurrency, source_checks=source_checks, on_day=on_day, budget=budget)
    try:
        yield eng
    finally:
        try:
            eng.book_calls()
        finally:
            client.close()
