"""The runs' COUNTs go out together: one call for the runs known to need one, a lone one at once, a
late one after the linger; a failed count is logged and never recorded (the source check counts again)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date

import pytest

from qbo_ingest.catalogue import get
from qbo_ingest.pipeline import counting
from qbo_ingest.pipeline.counting import Counts
from qbo_ingest.pipeline.planning import Span

INV, PAY, BILL = get("Invoice"), get("Payment"), get("Bill")
RUN = Span((date(2025, 1, 1), date(2025, 1, 2)))


class _Calls:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.recorded: dict[str, int] = {}
        self.fail = fail
        self.lock = threading.Lock()

    def count(self, asked):  # type: ignore[no-untyped-def]
        with self.lock:
            self.calls.append([e.name for e, _ in asked])
        if self.fail:
            raise RuntimeError("QBO said no")
        return [len(e.name) for e, _ in asked]

    def record(self, e, span, n):  # type: ignore[no-untyped-def]
        with self.lock:
            self.recorded[e.name] = n


def test_the_runs_owed_a_count_go_out_as_one_call_when_the_last_asks():
    c = _Calls()
    counts = Counts(c.count, c.record, owed=3)
    counts.ask(INV, RUN)
    counts.ask(PAY, RUN)
    time.sleep(0.05)
    assert c.calls == []  # waiting for the third
    counts.ask(BILL, RUN)
    counts.wait()
    assert c.calls == [["Invoice", "Payment", "Bill"]]
    assert c.recorded == {"Invoice": 7, "Payment": 7, "Bill": 4}
    counts.close()


def test_a_count_nobody_else_is_owed_goes_at_once_and_a_late_one_after_the_linger(monkeypatch):
    monkeypatch.setattr(counting, "LINGER_S", 0.05)
    c = _Calls()
    counts = Counts(c.count, c.record)
    counts.ask(INV, RUN)
    counts.wait()
    assert c.calls == [["Invoice"]]
    late = Counts(c.count, c.record, owed=2)
    late.ask(PAY, RUN)  # the other owed run never asks (its stream failed): the linger sends this one
    deadline = time.monotonic() + 2
    while len(c.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert c.calls == [["Invoice"], ["Payment"]]
    counts.close()
    late.close()


def test_a_failed_batch_is_logged_and_nothing_is_recorded(caplog: pytest.LogCaptureFixture):
    c = _Calls(fail=True)
    counts = Counts(c.count, c.record, owed=2)
    with caplog.at_level(logging.WARNING, logger="qbo_ingest.backfill"):
        counts.ask(INV, RUN)
        counts.ask(PAY, RUN)
        counts.wait()
    assert c.recorded == {}
    assert sum("the source check counts again" in r.getMessage() for r in caplog.records) == 2
    counts.close()
