"""An emulator company loaded the way a scheduled job loads it: `db init` as an admin, then the backfill, the
reports and `dbt build` as the least-privilege loader; the analyst reads the marts."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from qbo_ingest import jobs
from qbo_ingest import warehouse as wh
from qbo_ingest.apps.analytics import models
from qbo_ingest.catalogue import get
from qbo_ingest.jobs.reports import load_reports
from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread
from qbo_ingest.pipeline.engine import Engine
from support import FakeTime, make_engine, settings_for

DATA_START, DATA_END = date(2025, 1, 1), date(2025, 3, 31)
LOAD_FROM, LOAD_TO = date(2024, 12, 29), date(2025, 5, 15)  # creation days and the edits up to 20 days later
POSTING = ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt", "Payment", "Bill", "BillPayment",
           "VendorCredit", "Purchase", "Deposit", "JournalEntry", "Transfer")
# CreditCardPayment posts too, at the emulator's own rate (0-2 a day)
ENTITIES = ("Account", "Item", "Customer", "Vendor", *POSTING, "CreditCardPayment")


def without_dbt(path: str) -> str:
    """PATH minus every directory holding a dbt, as in the Mage image (its dbt is found by QBO_DBT_BIN)."""
    return os.pathsep.join(d for d in path.split(os.pathsep) if d and not os.path.exists(os.path.join(d, "dbt")))


def as_role(url: str, user: str) -> str:
    params = conninfo_to_dict(url)
    params["user"] = user
    params.pop("password", None)
    return make_conninfo(**params)  # type: ignore[arg-type]


@dataclass
class Company:
    emu: Emulator
    engine: Engine  # connected as the loader
    admin_dsn: str
    loader_dsn: str
    analyst_dsn: str
    loader: str
    analyst: str
    srv: Any = None

    def cli(self, *args: str, dsn: str | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        """`qbo-ingest ARGS` in a subprocess, configured like a scheduled job (the loader by default)."""
        env = {**self.srv.client_env(dsn or self.loader_dsn), "PATH": os.environ.get("PATH", ""),
               "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "COLUMNS": "200", **(env or {})}
        return subprocess.run([sys.executable, "-m", "qbo_ingest.apps.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=600, check=False)

    def build(self, select: str | None = None) -> models.BuildResult:
        """`dbt build` as the loader (a scheduled step); db init's default privileges let the analyst read."""
        res = models.build(self.loader_dsn, select=select)
        assert res.ok, res.output[-4000:]
        return res

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_dsn)


@pytest.fixture
def company(pg_url: str) -> Iterator[Callable[..., Company]]:
    suffix = uuid.uuid4().hex[:8]
    loader, analyst = f"qbo_loader_{suffix}", f"qbo_analyst_{suffix}"
    with ExitStack() as stack:

        def start(seed: int, per_day: int = 3, *, build: bool = True, entities: tuple[str, ...] = ENTITIES) -> Company:
            wh.init_db(pg_url, loader_role=loader, analyst_role=analyst)
            overrides: dict[str, Any] = {e: per_day for e in POSTING}
            emu = Emulator(EmulatorConfig(seed=seed, profile="sparse", data_start=DATA_START, data_end=DATA_END,
                                          profile_overrides=overrides))
            srv = stack.enter_context(serve_in_thread(emu))
            loader_dsn = as_role(pg_url, loader)
            eng = make_engine(settings_for(emu, srv, loader_dsn), loader_dsn, stack=stack, clock=FakeTime())
            rep = jobs.backfill(eng, [get(e) for e in entities], LOAD_FROM, LOAD_TO)
            assert rep.ok, rep
            loaded = load_reports(eng, DATA_START, DATA_END)
            assert loaded.ok and len(loaded.loaded) == 3 * (5 * 2 + 2), loaded
            co = Company(emu, eng, pg_url, loader_dsn, as_role(pg_url, analyst), loader, analyst, srv)
            if build:
                co.build()
            return co

        yield start
        with psycopg.connect(pg_url, autocommit=True) as admin:
            for name in (loader, analyst):
                if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                    admin.execute(f'DROP OWNED BY "{name}"')
                    admin.execute(f'DROP ROLE "{name}"')
