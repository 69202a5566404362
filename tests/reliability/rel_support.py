"""Helpers of the reliability suite: a fast in-process engine, equality with the emulator's ground truth
(0 lost, 0 duplicated, 0 extra), ledger consistency, and the environment of a CLI subprocess."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg

from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import get
from qbo_ingest.local.emulator import Emulator
from qbo_ingest.pipeline.engine import Engine
from qbo_ingest.source.throttle import CircuitBreaker, NoLimit
from qbo_ingest.windows import day_window

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[2]
# A fixed past "now" for every emulator of the suite: no record is ever newer than the emulator's clock.
EMU_NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


def span(a: str, b: str) -> tuple[datetime, datetime]:
    return day_window(date.fromisoformat(a)).start, day_window(date.fromisoformat(b)).end


def fast_engine(emu: Emulator, srv: Any, dsn: str, *, stack: ExitStack, timeout: float = 30.0,
                page_size: int = 1000, concurrency: int = 4, **kw: Any) -> Engine:
    """An engine whose client never waits for real: fake clock (backoff and breaker cool-down are
    instant), no client-side rate limit. Everything else (retries, breaker, token store) is the product's."""
    from qbo_ingest.source.auth.token_store import PostgresTokenStore
    from qbo_ingest.source.client import QboClient
    from support import FakeTime, settings_for

    t = FakeTime()
    settings = settings_for(emu, srv, dsn)
    client = QboClient(settings, token_store=PostgresTokenStore(dsn), sleep=t.sleep, clock=t,
                       limiter=NoLimit(), breaker=CircuitBreaker(clock=t), timeout=timeout)
    stack.callback(client.close)
    eng = Engine(client=client, dsn=dsn, realm_id=emu.cfg.realm_id, page_size=page_size,
                 concurrency=concurrency, **kw)
    eng.fake_time = t  # type: ignore[attr-defined]
    return eng


@dataclass
class Equality:
    rows: int = 0
    truth: int = 0
    lost: int = 0
    extra: int = 0
    stale: int = 0
    duplicated: int = 0
    by_entity: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.lost == self.extra == self.stale == self.duplicated == 0 and self.rows == self.truth


def compare_with_truth(emu: Emulator, dsn: str, entities: Sequence[str], start: datetime,
                       end: datetime) -> Equality:
    """raw vs ground truth over [start, end): ids lost, extra, with a stale LastUpdatedTime, and
    duplicated primary keys (count(*) against count(DISTINCT (realm_id, id)))."""
    eq = Equality()
    realm = emu.cfg.realm_id
    with wh.connect(dsn) as conn:
        for name in entities:
            e = get(name)
            truth = emu.truth(name, start, end)
            raw = wh.raw_snapshot(conn, e, realm)
            eq.truth += len(truth)
            eq.rows += len(raw)
            eq.by_entity[name] = len(raw)
            eq.lost += len(set(truth) - set(raw))
            eq.extra += len(set(raw) - set(truth))
            eq.stale += sum(1 for k, v in truth.items() if k in raw and raw[k] != v)
            n, distinct = conn.execute(
                f"SELECT count(*), count(DISTINCT (realm_id, id)) FROM raw.{e.table}"
            ).fetchone() or (0, 0)
            eq.duplicated += int(n) - int(distinct)
            conn.commit()
    return eq


def ledger_problems(dsn: str, realm: str, entities: Sequence[str], first: date, last: date) -> list[str]:
    """Every way the ledger disagrees with raw: a day missing or not `succeeded` (a `running` row left
    by a crash included), or a succeeded day whose rows_fetched is not what raw holds for that day."""
    problems: list[str] = []
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    with wh.connect(dsn) as conn:
        for name in entities:
            e = get(name)
            rows = {r.day: r for r in wh.ledger_days(conn, realm, name, start=first, end=last)}
            per_day = dict(conn.execute(
                f"SELECT CAST(extract_window_start_utc AS date), count(*) FROM raw.{e.table} "
                "WHERE realm_id = %s AND deleted_at_utc IS NULL GROUP BY 1", (realm,)).fetchall())
            conn.commit()
            for d in days:
                r = rows.get(d)
                if r is None:
                    problems.append(f"{name} {d}: no ledger row")
                elif r.status != "succeeded":
                    problems.append(f"{name} {d}: ledger status {r.status}")
                elif r.rows_fetched != per_day.get(d, 0):
                    problems.append(f"{name} {d}: ledger rows_fetched {r.rows_fetched} != raw {per_day.get(d, 0)}")
    return problems


def cli_env(emu: Emulator, srv: Any, dsn: str, **over: str) -> dict[str, str]:
    """The environment of a `python -m qbo_ingest.apps.cli.main` subprocess pointed at an emulator and a database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "POSTGRES_"))}
    env.update(srv.client_env(dsn))
    env.update({
        "PYTHONPATH": str(ROOT / "src"),
        "COLUMNS": "200",
    })
    env.update(over)
    return {k: v for k, v in env.items() if v != "<unset>"}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "qbo_ingest.apps.cli.main", *args]


def raw_row_count(dsn: str) -> int:
    """All rows in every table of schema raw (0 when the schema does not exist)."""
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'raw'").fetchall()]
        return sum(int(conn.execute(f'SELECT count(*) FROM raw."{t}"').fetchone()[0])  # type: ignore[index]
                   for t in tables)
