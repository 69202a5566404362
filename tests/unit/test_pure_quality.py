"""The spec's quality gates (section 7): exact log lines and levels."""

from __future__ import annotations

import logging

import pytest

from qbo_ingest.catalogue import get
from qbo_ingest.pipeline.quality import QualityGateError, check_window, source_check

log = logging.getLogger("qbo_ingest.test.quality")


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == log.name]


def test_passed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    check_window(log, "Invoice", "2025-10-15", 120, 120)
    assert _lines(caplog) == [
        ("INFO", "Validation: Integrity Check Passed Invoice 2025-10-15: rows_fetched=120 rows_upserted=120")
    ]


def test_passed_when_some_rows_were_older_than_raw(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    check_window(log, get("Customer"), "2025-10-15..2025-10-20", 10, 7)
    assert _lines(caplog) == [
        ("INFO",
         "Validation: Integrity Check Passed Customer 2025-10-15..2025-10-20: rows_fetched=10 rows_upserted=7")
    ]


def test_zero_records_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    check_window(log, "Invoice", "2025-12-25", 0, 0)
    assert _lines(caplog) == [
        ("WARNING",
         "Validation: [ALERT] Invoice 2025-12-25: 0 records; confirm a day without activity or an extraction error")
    ]


def test_fetched_but_nothing_written_fails_the_window(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with pytest.raises(QualityGateError) as info:
        check_window(log, "Invoice", "2025-10-15", 37, 0)
    msg = ("Validation: [ALERT] Invoice 2025-10-15: rows_fetched=37 rows_upserted=0; "
           "records were read from QBO but none were written to raw")
    assert _lines(caplog) == [("ERROR", msg)]
    assert info.value.message == msg
    assert str(info.value) == msg + ". Next: check the database log and the grants, then retry the day"
    assert (info.value.entity, info.value.label, info.value.rows_fetched, info.value.rows_upserted) == (
        "Invoice", "2025-10-15", 37, 0
    )


def test_a_single_fetched_record_not_written_fails_too(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(QualityGateError):
        check_window(log, "Invoice", "2025-10-15", 1, 0)
    check_window(log, "Invoice", "2025-10-15", 1, 1)


def test_source_check(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert source_check(log, "Invoice", "2025-10-15", 20, 20) is True
    assert source_check(log, "Invoice", "2025-10-16", 20, 19) is False
    assert _lines(caplog) == [
        ("INFO", "Validation: Integrity Check Passed Invoice 2025-10-15: source_count=20 raw_count=20"),
        ("WARNING", "Validation: [ALERT] Invoice 2025-10-16: source_count=20 raw_count=19 mismatch; "
                    "re-run the window and compare"),
    ]
