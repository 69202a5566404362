"""Heavy days: a day is fetched by several streams over time slices, and closed once by the last of them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest

from qbo_ingest import faultpoints, jobs
from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import get
from qbo_ingest.pipeline.planning import Span, split_run
from qbo_ingest.windows import day_window

DAY = date(2024, 3, 10)
GENERATED = 5000
PAGE = 250
UPPER = re.compile(r"LastUpdatedTime < '([^']+)'")


def _record_statements(emu: Any) -> list[str]:
    """Every query statement the emulator receives (its parser is the one place all of them pass)."""
    seen: list[str] = []
    parse: Callable[[str], Any] = emu.parse

    def recording(statement: str) -> Any:
        seen.append(statement)
        return parse(statement)

    emu.parse = recording
    return seen


def _heavy(qbo: Any) -> tuple[Any, Any, Any]:
    return qbo(profile="empty", profile_overrides={"Invoice": {DAY.isoformat(): GENERATED, "default": 0}},
               engine_kw={"page_size": PAGE, "concurrency": 4})


def _truth(emu: Any) -> dict[str, Any]:
    w = day_window(DAY)
    return emu.truth("Invoice", w.start, w.end)


def test_split_run_cuts_few_dense_days_into_day_aligned_slices():
    one = split_run([DAY], count=100_000, page_size=1000, max_streams=4)
    assert len(one) == 4 and all(s.days == (DAY,) for s in one)
    w = day_window(DAY)
    assert one[0].window.start == w.start and one[-1].window.end == w.end
    assert all(a.window.end == b.window.start for a, b in pairwise(one))
    assert one[1].window.start - one[0].window.start == timedelta(hours=6)
    assert one[0].label == "2024-03-10T00:00:00Z..2024-03-10T06:00:00Z"
    two = split_run([DAY, DAY + timedelta(days=1)], count=100_000, page_size=1000, max_streams=10)
    assert len(two) == 10 and [s.days[0] for s in two] == [DAY] * 5 + [DAY + timedelta(days=1)] * 5
    # unchanged: enough days for the streams -> whole-day spans; a light run -> one stream
    days = [DAY + timedelta(days=i) for i in range(8)]
    assert split_run(days, count=100_000, page_size=1000, max_streams=4) == [
        Span(tuple(days[0:2])), Span(tuple(days[2:4])), Span(tuple(days[4:6])), Span(tuple(days[6:8]))]
    assert split_run([DAY], count=4000, page_size=1000, max_streams=4) == [Span((DAY,))]
    assert split_run([DAY], count=None, page_size=1000, max_streams=4) == [Span((DAY,))]


def test_heavy_day_loads_through_parallel_slices_and_closes_once(qbo, pg_url, caplog):
    emu, eng, s = _heavy(qbo)
    truth = _truth(emu)
    n = len(truth)
    assert n > 3000  # the day is dense (some records are later edited out of it)
    statements = _record_statements(emu)
    before = emu.counters()
    with caplog.at_level(logging.INFO, logger="qbo_ingest"):
        report = jobs.backfill(eng, [get("Invoice")], DAY.isoformat(), DAY.isoformat())
    after = emu.counters()
    assert report.ok, report.failed
    assert [(o.day, o.rows_fetched) for o in report.outcomes] == [(DAY, n)]
    with wh.connect(pg_url) as conn:
        assert wh.raw_snapshot(conn, get("Invoice"), s.realm_id) == truth

    # several streams: data queries with different upper bounds (one per slice)
    data = [t for t in statements if "COUNT(*)" not in t]
    streams = {UPPER.search(t).group(1) for t in data}  # type: ignore[union-attr]
    assert len(streams) == 4, streams
    assert len(data) == after["query"] - before.get("query", 0)
    # paging cost: at most one partial page per stream. A throttled request is sent again (the same
    # statement): the in-process emulator shares the GIL with the client, and on a loaded machine its
    # arrivals can bunch past the client's 10-per-1.2 s spacing; those re-sends are not pages.
    resent = after.get("throttled", 0) - before.get("throttled", 0)
    assert -(-n // PAGE) <= len(data) - resent <= -(-n // PAGE) + len(streams)
    # the requests of the run: data + the planning COUNT of the single day, which is also its source
    # check (reused when raw agrees with it: issue 17)
    counts = after["count"] - before.get("count", 0)
    assert counts == 1
    assert report.requests == len(data) + counts

    # ONE ledger row for the day, with the slices' figures summed
    with wh.connect(pg_url) as conn:
        rows = wh.ledger_days(conn, s.realm_id, "Invoice")
    assert [(r.day, r.status, r.rows_fetched, r.rows_upserted) for r in rows] == [(DAY, "succeeded", n, n)]
    assert rows[0].requests == len(data)
    assert rows[0].pages >= -(-n // PAGE)
    passed = [r.getMessage() for r in caplog.records if "Validation: Integrity Check Passed" in r.getMessage()]
    assert len([m for m in passed if "invoice_backfill_2024-03-10:" in m]) == 1


def test_a_failed_slice_fails_the_day_and_resume_completes_it(qbo, pg_url, caplog):
    emu, eng, s = _heavy(qbo)
    truth = _truth(emu)

    def boom(name: str, n: int) -> None:
        if name == "fetch" and n == 3:  # one stream's page, while the other streams go on
            raise RuntimeError("simulated failure of one slice")

    faultpoints.set_hook(boom)
    try:
        with caplog.at_level(logging.INFO, logger="qbo_ingest"):
            report = jobs.backfill(eng, [get("Invoice")], DAY.isoformat(), DAY.isoformat())
    finally:
        faultpoints.set_hook(None)
    assert not report.ok
    assert [(o.day, o.status) for o in report.failed] == [(DAY, "failed")]
    assert "simulated failure of one slice" in (report.failed[0].error or "")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("invoice_backfill_2024-03-10" in m and "(span 2024-03-10" in m for m in errors), errors
    assert not any("Validation: Integrity Check Passed" in r.getMessage() and "invoice_backfill" in r.getMessage()
                   for r in caplog.records)
    with wh.connect(pg_url) as conn:
        rows = wh.ledger_days(conn, s.realm_id, "Invoice")
        partial = wh.raw_snapshot(conn, get("Invoice"), s.realm_id)
    assert [(r.day, r.status) for r in rows] == [(DAY, "failed")]
    assert "simulated failure of one slice" in (rows[0].error or "")
    assert 0 < len(partial) < len(truth)  # the other slices loaded, the failed one did not finish

    resumed = jobs.backfill(eng, [get("Invoice")], DAY.isoformat(), DAY.isoformat(), resume=True)
    assert resumed.ok and [(o.day, o.rows_fetched) for o in resumed.outcomes] == [(DAY, len(truth))]
    with wh.connect(pg_url) as conn:
        assert wh.raw_snapshot(conn, get("Invoice"), s.realm_id) == truth
        rows = wh.ledger_days(conn, s.realm_id, "Invoice")
    assert [(r.day, r.status, r.rows_fetched, r.attempts) for r in rows] == [(DAY, "succeeded", len(truth), 2)]


@pytest.mark.parametrize("days", [1, 3])
def test_sparse_days_keep_their_request_cost(qbo, days):
    """A sparse backfill of one run costs one data request: a short first page is the whole answer and
    its count, the source check's (issue 17); a Mage child (`run_days`) costs one data request and no
    COUNT either."""
    emu, eng, s = qbo(profile="sparse")
    first = date(2024, 4, 1)
    last = first + timedelta(days=days - 1)
    before = emu.counters()
    assert jobs.backfill(eng, [get("Invoice")], first.isoformat(), last.isoformat()).ok
    mid = emu.counters()
    assert (mid["query"] - before.get("query", 0), mid["count"] - before.get("count", 0)) == (1, 0)
    outs = jobs.load_days(eng, get("Invoice"), [first + timedelta(days=i) for i in range(days)])
    assert all(o.status == "succeeded" for o in outs) and len(outs) == days
    end = emu.counters()
    assert (end["query"] - mid["query"], end["count"] - mid["count"]) == (1, 0)


def test_two_dense_days_get_more_streams_than_days(qbo, pg_url):
    nxt = DAY + timedelta(days=1)
    emu, eng, s = qbo(profile="empty",
                      profile_overrides={"Invoice": {DAY.isoformat(): 2500, nxt.isoformat(): 2500, "default": 0}},
                      engine_kw={"page_size": PAGE, "concurrency": 6})
    statements = _record_statements(emu)
    report = jobs.backfill(eng, [get("Invoice")], DAY.isoformat(), nxt.isoformat())
    assert report.ok, report.failed
    data = [t for t in statements if "COUNT(*)" not in t]
    start, end = day_window(DAY).start, day_window(nxt).end
    expected = min(6, -(-len(emu.truth("Invoice", start, end)) // (PAGE * 5)))  # N = min(workers, pages / 5)
    assert expected > 2
    assert len({UPPER.search(t).group(1) for t in data}) == expected  # type: ignore[union-attr]
    with wh.connect(pg_url) as conn:
        assert wh.raw_snapshot(conn, get("Invoice"), s.realm_id) == emu.truth("Invoice", start, end)
        rows = wh.ledger_days(conn, s.realm_id, "Invoice")
    assert [(r.day, r.status) for r in rows] == [(DAY, "succeeded"), (nxt, "succeeded")]
    for r in rows:
        w = day_window(r.day)
        assert r.rows_fetched == len(emu.truth("Invoice", w.start, w.end)) > 1000
    assert sum(r.requests for r in rows) == len(data)
