"""The metered-call budget (issue 17): the month's book, `plan`, `--max-requests`, QBO_MONTHLY_CALL_BUDGET,
and QBO's monthly-cap 429 - through the CLI against the emulator over HTTP and a real PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from qbo_ingest import warehouse as wh
from qbo_ingest.apps.cli.main import app
from qbo_ingest.catalogue import get
from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread
from qbo_ingest.windows import day_window

ENTITIES = ["Invoice", "Customer", "Vendor"]
FIRST, LAST = date(2024, 2, 1), date(2024, 3, 31)  # 60 days
PER_DAY = 30  # 1,800 records per entity: two data requests each (1000 + 800)
ENV_KEYS = ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REFRESH_TOKEN", "QBO_REALM_ID", "QBO_ENTORNO",
            "QBO_API_BASE_URL", "QBO_TOKEN_URL", "QBO_AUTHORIZE_URL", "QBO_REVOKE_URL", "QBO_DATABASE_URL",
            "POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD", "QBO_MONTHLY_CALL_BUDGET")


@pytest.fixture
def emu_srv() -> Iterator[tuple[Emulator, Any]]:
    emu = Emulator(EmulatorConfig(seed=17, profile="empty", throttle=False,
                                  profile_overrides={n: PER_DAY for n in ENTITIES}))
    with serve_in_thread(emu) as srv:
        yield emu, srv


def _cli(args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for k in ENV_KEYS:
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return CliRunner(mix_stderr=False).invoke(app, args, catch_exceptions=False)


def _out(res: Any) -> str:
    return " ".join(res.stdout.split())  # rich wraps long lines


def _range(*extra: str) -> list[str]:
    return [*ENTITIES, "--fecha-inicio", FIRST.isoformat(), "--fecha-fin", LAST.isoformat(), *extra]


def _metered(counters: dict[str, int]) -> int:
    """What QBO meters: queries, COUNTs and batch items (the runs' COUNTs sent together)."""
    return counters.get("query", 0) + counters.get("count", 0) + counters.get("batch_items", 0)


def _truth(emu: Emulator, name: str) -> dict[str, Any]:
    return emu.truth(name, day_window(FIRST).start, day_window(LAST).end)


def test_max_requests_stops_between_streams_and_resume_reaches_the_truth(emu_srv, pg_url, monkeypatch):
    emu, srv = emu_srv
    env = srv.client_env(pg_url)
    # 3 planning COUNTs + 2 data requests for the first entity fit in 6; the second stream (2) does not
    res = _cli(["backfill", *_range("--max-requests", "6", "--concurrency", "1", "--no-progress")], env, monkeypatch)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "stopped: --max-requests 6" in _out(res)
    assert "120 day(s) not loaded stay pending" in _out(res)
    sent = emu.counters()
    assert _metered(sent) <= 6
    with wh.connect(pg_url) as conn:
        by_entity = {n: wh.ledger_days(conn, srv.emulator.cfg.realm_id, n) for n in ENTITIES}
        loaded = [n for n, rows in by_entity.items() if rows]
        assert len(loaded) == 1  # one entity loaded whole, the two others untouched (no ledger row): pending
        assert [r.status for r in by_entity[loaded[0]]] == ["succeeded"] * 60
        assert wh.raw_snapshot(conn, get(loaded[0]), srv.emulator.cfg.realm_id) == _truth(emu, loaded[0])
        book = wh.month_calls(conn)
        run = wh.runs_recent(conn, 1)[0]
    assert book.get("query", 0) == sent["query"] and book.get("count", 0) == sent["count"]  # every call booked
    assert run.status == "failed" and (run.error or "").startswith("stopped: --max-requests 6")

    env = srv.client_env(pg_url)
    again = _cli(["backfill", *_range("--resume", "--no-progress")], env, monkeypatch)
    assert again.exit_code == 0, again.stdout + again.stderr
    with wh.connect(pg_url) as conn:
        for n in ENTITIES:
            assert wh.raw_snapshot(conn, get(n), srv.emulator.cfg.realm_id) == _truth(emu, n), n
            rows = wh.ledger_days(conn, srv.emulator.cfg.realm_id, n)
            assert [(r.day, r.status) for r in rows] == [(FIRST + timedelta(days=i), "succeeded") for i in range(60)]
        assert len(_truth(emu, "Invoice")) > 1000  # two pages: the comparison is not vacuous
        book = wh.month_calls(conn)
    total = emu.counters()
    assert book.get("query", 0) == total["query"] and book.get("count", 0) == total["count"]
    assert book.get("token", 0) >= 1


def test_plan_estimates_the_backfill_and_says_what_it_cost(emu_srv, pg_url, monkeypatch):
    emu, srv = emu_srv
    res = _cli(["plan", *_range()], srv.client_env(pg_url), monkeypatch)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "this estimate itself cost 3 COUNT request(s)" in _out(res)
    after_plan = emu.counters()
    assert (after_plan["count"], after_plan.get("query", 0)) == (3, 0)
    estimated = int(_out(res).split("estimated: ")[1].split(" ")[0].replace(",", ""))
    ran = _cli(["backfill", *_range("--no-progress")], srv.client_env(pg_url), monkeypatch)
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    spent = _metered(emu.counters()) - _metered(after_plan)
    assert estimated == spent == 3 * (2 + 1)  # per entity: 2 data pages + the planning COUNT (= source check)

    status = _cli(["status"], srv.client_env(pg_url, ) | {"QBO_MONTHLY_CALL_BUDGET": "500000"}, monkeypatch)
    assert status.exit_code == 0, status.stdout + status.stderr
    month = wh.month_of()
    # the plan's 3 COUNTs and the backfill (whose planning COUNTs check the realm: no CompanyInfo)
    assert f"QBO calls in {month:%Y-%m} (UTC): {spent + 3:,} metered" in _out(status)
    assert "budget 500,000 (QBO_MONTHLY_CALL_BUDGET)" in _out(status)


def test_the_monthly_budget_stops_a_run_before_it_is_spent(emu_srv, pg_url, monkeypatch):
    emu, srv = emu_srv
    realm = srv.emulator.cfg.realm_id
    with wh.connect(pg_url) as conn:
        wh.ensure_schema(conn, [get(n) for n in ENTITIES])
        wh.record_calls(conn, realm, {"query": 995, "count": 2})  # 997 of 1000 used this month
    env = srv.client_env(pg_url) | {"QBO_MONTHLY_CALL_BUDGET": "1000"}
    res = _cli(["backfill", *_range("--no-progress", "--concurrency", "1")], env, monkeypatch)
    # 997 of 1,000 used: the three planning COUNTs and a data request per entity do not fit, so the run
    # stops before sending any, before any stream: one `error:` line, exit 2, every day pending.
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.startswith("error: request budget spent: monthly call budget 1,000"), res.stderr
    assert _metered(emu.counters()) == 0
    with wh.connect(pg_url) as conn:
        assert sum(wh.month_calls(conn).get(k, 0) for k in ("query", "count")) <= 1000
        assert [r for n in ENTITIES for r in wh.ledger_days(conn, realm, n)] == []  # every day pending
    bad = _cli(["backfill", *_range("--no-progress")], env | {"QBO_MONTHLY_CALL_BUDGET": "lots"}, monkeypatch)
    assert bad.exit_code == 2 and "QBO_MONTHLY_CALL_BUDGET='lots' is invalid" in bad.stderr


CAP_BODY = (b'{"Fault":{"Error":[{"Message":"message=ApiLimitExceeded; statusCode=429","Detail":"The monthly '
            b'limit of CorePlus API calls for this app has been reached","code":"003002"}],"type":"SERVICE"},'
            b'"time":"2024-04-01T10:00:00.000-07:00"}')


@contextmanager
def _cap_after(upstream: str, n_queries: int) -> Iterator[tuple[str, dict[str, int]]]:
    """A loopback gateway in front of the emulator that answers QBO's monthly-cap 429 from the
    (n+1)-th query on (what Intuit does once the month's CorePlus calls are spent)."""
    seen = {"query": 0, "capped": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                is_query = "/query" in self.path
                seen["query"] += is_query
                capped = is_query and seen["query"] > n_queries
                seen["capped"] += capped
            if capped:
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(CAP_BODY)))
                self.end_headers()
                self.wfile.write(CAP_BODY)
                return
            r = httpx.get(upstream + self.path, headers={"Authorization": self.headers.get("Authorization", "")})
            self.send_response(r.status_code)
            for k in ("Content-Type", "intuit_tid"):
                if k in r.headers:
                    self.send_header(k, r.headers[k])
            self.send_header("Content-Length", str(len(r.content)))
            self.end_headers()
            self.wfile.write(r.content)

        def log_message(self, *a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_monthly_cap_429_stops_the_run_at_once_with_one_line(emu_srv, pg_url, monkeypatch, caplog):
    emu, srv = emu_srv
    # the 3 first pages and a few more requests pass; a later query meets the cap
    with _cap_after(srv.base_url, 5) as (gateway, seen):
        env = srv.client_env(pg_url) | {"QBO_API_BASE_URL": gateway}
        with caplog.at_level(logging.INFO, logger="qbo_ingest"):
            res = _cli(["backfill", *_range("--no-progress", "--concurrency", "1")], env, monkeypatch)
    assert res.exit_code == 1, res.stdout + res.stderr
    # no retry, no other stream tried again: the one request that met the cap, or two when the stream's
    # page and its run's COUNT (sent beside the stream after its full first page) were in flight together
    assert 1 <= seen["capped"] <= 2
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "monthly" in r.getMessage()]
    assert len([m for m in lines if m.startswith("Run stopped at once")]) == 1, lines
    assert not any("API Limit: 429" in r.getMessage() for r in caplog.records)
    assert "stopped: QBO " in _out(res) and "monthly call limit reached" in _out(res)  # a query or the COUNT
    with wh.connect(pg_url) as conn:
        rows = [r for n in ENTITIES for r in wh.ledger_days(conn, srv.emulator.cfg.realm_id, n)]
    assert rows and all(r.status == "succeeded" or "not loaded" in (r.error or "") for r in rows)
    assert any(r.status == "succeeded" for r in rows)  # what was loaded before the cap stays loaded


def test_only_a_429_naming_the_monthly_limit_is_the_cap():
    from qbo_ingest.errors import CallLimitReached, RetryableError
    from qbo_ingest.source.responses import classify
    from qbo_ingest.source.throttle import CircuitBreaker

    def answer(body: bytes) -> httpx.Response:
        return httpx.Response(429, content=body, headers={"Content-Type": "application/json", "intuit_tid": "t-1"})

    counted: list[str] = []
    breaker = CircuitBreaker()

    def count(name: str, n: int = 1, *, kind: str | None = None) -> None:
        counted.append(kind or name)

    with pytest.raises(CallLimitReached, match="monthly call limit reached") as cap:
        classify(answer(CAP_BODY), "query (Invoice)", breaker=breaker, count=count)
    assert cap.value.intuit_tid == "t-1" and "--resume" in str(cap.value)
    assert breaker.state == "closed"  # the cap is not QBO failing: the breaker does not count it
    throttle = (b'{"Fault":{"Error":[{"Message":"message=ThrottleExceeded; errorCode=003001; statusCode=429",'
                b'"Detail":"The request limit was reached.  Try again later","code":"3001"}],"type":"SERVICE"}}')
    with pytest.raises(RetryableError):  # the per-minute throttle is retried as before
        classify(answer(throttle), "query (Invoice)", breaker=breaker, count=count)
    assert counted == ["429", "429"]


def test_every_metered_kind_is_booked_cdc_included(pg_url, monkeypatch):
    from datetime import datetime, timezone

    today = datetime.now(timezone.utc).date()
    first, last = today - timedelta(days=5), today - timedelta(days=1)
    emu = Emulator(EmulatorConfig(seed=18, profile="sparse", throttle=False, data_start=first, data_end=last))
    with serve_in_thread(emu) as srv:
        args = ["Invoice", "Customer", "--fecha-inicio", first.isoformat(), "--fecha-fin", last.isoformat()]
        assert _cli(["backfill", *args, "--no-progress"], srv.client_env(pg_url), monkeypatch).exit_code == 0
        synced = _cli(["sync", "Invoice", "Customer"], srv.client_env(pg_url), monkeypatch)
        assert synced.exit_code == 0, synced.stdout + synced.stderr
        sent = emu.counters()
    with wh.connect(pg_url) as conn:
        book = wh.month_calls(conn, realm_id=emu.cfg.realm_id)
    assert sent["cdc"] >= 1 and sent["query"] >= 1 and sent["count"] >= 1
    assert {k: book.get(k, 0) for k in ("query", "count", "cdc")} == {k: sent[k] for k in ("query", "count", "cdc")}
    assert book["token"] == sent["token"] >= 1  # token-endpoint calls, booked apart
