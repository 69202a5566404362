"""The functions the Mage blocks call, without Mage: planning, one day's outcome, summary, the trigger file."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml

from qbo_ingest import jobs
from qbo_ingest.apps.mage import blocks as mage_tasks
from qbo_ingest.apps.mage import triggers
from qbo_ingest.windows import DateRangeError

ROOT = Path(__file__).resolve().parents[2]


def test_plan_days_names_each_child_after_its_day() -> None:
    items, metadata = mage_tasks.plan_days(pipeline_uuid="qb_invoices_backfill",
                                           fecha_inicio="2025-10-14", fecha_fin="2025-10-16")
    assert items == [{"entity": "Invoice", "day": "2025-10-14"}, {"entity": "Invoice", "day": "2025-10-15"},
                     {"entity": "Invoice", "day": "2025-10-16"}]
    assert metadata == [{"block_uuid": "invoice_backfill_2025-10-14"},
                        {"block_uuid": "invoice_backfill_2025-10-15"},
                        {"block_uuid": "invoice_backfill_2025-10-16"}]


def test_plan_days_takes_the_entity_from_the_pipeline_or_a_name() -> None:
    items, metadata = mage_tasks.plan_days(pipeline_uuid="qb_bill_payments_backfill",
                                           fecha_inicio="2025-10-01", fecha_fin="2025-10-01")
    assert metadata == [{"block_uuid": "bill_payment_backfill_2025-10-01"}]
    items, _ = mage_tasks.plan_days("JournalEntry", fecha_inicio=date(2025, 1, 1), fecha_fin=date(2025, 1, 2))
    assert [i["entity"] for i in items] == ["JournalEntry", "JournalEntry"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "fecha_inicio is missing: give it as YYYY-MM-DD, e.g. fecha_inicio=2025-10-01"),
    ({"fecha_inicio": "", "fecha_fin": ""},
     "fecha_inicio is missing: give it as YYYY-MM-DD, e.g. fecha_inicio=2025-10-01"),
    ({"fecha_inicio": "2025-10-01"}, "fecha_fin is missing: give it as YYYY-MM-DD, e.g. fecha_fin=2025-10-01"),
    ({"fecha_inicio": "2025-10-32", "fecha_fin": "2025-10-01"},
     "fecha_inicio='2025-10-32' is not a date in ISO 8601 format YYYY-MM-DD (e.g. 2025-10-01)"),
    ({"fecha_inicio": "2025-10-05", "fecha_fin": "2025-10-01"},
     "fecha_fin (2025-10-01) is before fecha_inicio (2025-10-05): swap them"),
    ({"fecha_inicio": "2020-01-01", "fecha_fin": "2025-01-01"},
     "1828 days in one Mage run is too many (max 366, one block run per day): split fecha_inicio..fecha_fin "
     "into several runs, or use `qbo-ingest backfill` for long ranges"),
])
def test_plan_days_fails_with_one_clear_line(kwargs: dict, message: str) -> None:
    with pytest.raises(DateRangeError) as err:
        mage_tasks.plan_days(pipeline_uuid="qb_invoices_backfill", **kwargs)
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_unknown_pipeline_lists_valid_entities() -> None:
    with pytest.raises(ValueError, match=r"Unknown entity 'qb_invoces_backfill'\. Valid: Account, Bill"):
        mage_tasks.plan_days(pipeline_uuid="qb_invoces_backfill", fecha_inicio="2025-10-01",
                             fecha_fin="2025-10-01")


@dataclass
class Outcome:
    entity: str
    day: date
    status: str
    rows_fetched: int
    rows_upserted: int
    requests: int
    error: str | None = None


class FakeEngine:
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.calls: list[tuple] = []

    def load_days(self, engine, entity, days, *, run_id=None):
        assert engine is self
        self.calls.append((entity.name, list(days), run_id))
        return [self.outcome]


def _factory(engine: FakeEngine):
    @contextmanager
    def factory(settings):
        yield engine
    return factory


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {"QBO_CLIENT_ID": "cid", "QBO_CLIENT_SECRET": "sec", "QBO_REALM_ID": "123",
                 "QBO_API_BASE_URL": "http://127.0.0.1:9", "QBO_DATABASE_URL": "postgresql://x@127.0.0.1/db"}.items():
        monkeypatch.setenv(k, v)


def _no_row(dsn, realm, entity, day):
    return None


def test_load_day_fetches_a_day_the_ledger_does_not_have_and_returns_counts(settings_env: None) -> None:
    eng = FakeEngine(Outcome("Invoice", date(2025, 10, 15), "succeeded", 12, 12, 1))
    out = mage_tasks.load_day({"entity": "Invoice", "day": "2025-10-15"}, engine_factory=_factory(eng),
                              days_loader=eng.load_days, ledger=_no_row,
                              pipeline_uuid="qb_invoices_backfill", pipeline_run_id=7)
    assert eng.calls == [("Invoice", [date(2025, 10, 15)], "mage-qb_invoices_backfill-7")]
    assert out == {"block": "invoice_backfill_2025-10-15", "entity": "Invoice", "day": "2025-10-15",
                   "status": "succeeded", "rows_fetched": 12, "rows_upserted": 12, "requests": 1}


def test_load_day_raises_naming_the_day_when_it_failed(settings_env: None) -> None:
    eng = FakeEngine(Outcome("Invoice", date(2025, 10, 15), "failed", 0, 0, 7,
                             "RetriesExhausted: QBO query failed after 6 retries"))
    with pytest.raises(mage_tasks.DayFailedError) as err:
        mage_tasks.load_day({"entity": "Invoice", "day": "2025-10-15"}, engine_factory=_factory(eng),
                            days_loader=eng.load_days, ledger=_no_row)
    assert str(err.value) == (
        "invoice_backfill_2025-10-15 failed (requests=7): RetriesExhausted: QBO query failed after 6 retries. "
        "Fix the cause, then retry this day alone with 'Retry incomplete blocks' on this run (it fetches the "
        "day again)")


@dataclass
class Row:
    entity: str
    day: date
    status: str
    run_id: str | None
    rows_fetched: int = 0
    rows_upserted: int = 0
    requests: int = 0
    retries: int = 0
    intuit_tid: str | None = None
    error: str | None = None


def test_load_day_closes_a_day_the_planner_loaded_without_fetching(
        settings_env: None, caplog: pytest.LogCaptureFixture) -> None:
    eng = FakeEngine(Outcome("Invoice", date(2025, 10, 15), "succeeded", 0, 0, 0))
    row = Row("Invoice", date(2025, 10, 15), "succeeded", "mage-qb_invoices_backfill-7/plan-abc", 12, 12, 1)
    with caplog.at_level(logging.INFO, logger="qbo_ingest"):
        out = mage_tasks.load_day({"entity": "Invoice", "day": "2025-10-15"}, engine_factory=_factory(eng),
                                  days_loader=eng.load_days, ledger=lambda *a: row,
                                  pipeline_uuid="qb_invoices_backfill", pipeline_run_id=7)
    assert eng.calls == []  # nothing fetched
    assert out["rows_fetched"] == 12 and out["status"] == "succeeded"
    assert ("Validation: Integrity Check Passed Invoice invoice_backfill_2025-10-15: rows_fetched=12 "
            "rows_upserted=12") in caplog.messages


def test_load_day_fails_at_once_on_its_planners_failure_and_fetches_on_the_retry(
        settings_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[str] = []
    monkeypatch.setattr(jobs, "take_over_day", lambda dsn, row, run_id: taken.append(run_id))
    eng = FakeEngine(Outcome("Invoice", date(2025, 10, 15), "succeeded", 3, 3, 1))
    row = Row("Invoice", date(2025, 10, 15), "failed", "mage-qb_invoices_backfill-7/plan-abc", requests=7,
              retries=6, intuit_tid="tid-1", error="RetriesExhausted: QBO query failed after 6 retries")
    kw = {"pipeline_uuid": "qb_invoices_backfill", "pipeline_run_id": 7}
    with pytest.raises(mage_tasks.DayFailedError, match=r"invoice_backfill_2025-10-15 failed \(requests=7, "
                       r"retries=6, intuit_tid=tid-1\): RetriesExhausted"):
        mage_tasks.load_day({"entity": "Invoice", "day": "2025-10-15"}, engine_factory=_factory(eng),
                            days_loader=eng.load_days, ledger=lambda *a: row, **kw)
    assert eng.calls == [] and taken == ["mage-qb_invoices_backfill-7"]
    # "Retry incomplete blocks": the row now carries the child's run id, so the child fetches its day.
    row.run_id = "mage-qb_invoices_backfill-7"
    mage_tasks.load_day({"entity": "Invoice", "day": "2025-10-15"}, engine_factory=_factory(eng),
                        days_loader=eng.load_days, ledger=lambda *a: row, **kw)
    assert eng.calls == [("Invoice", [date(2025, 10, 15)], "mage-qb_invoices_backfill-7")]


def test_summarize_reports_a_list_entitys_empty_days_once(caplog: pytest.LogCaptureFixture) -> None:
    outputs = [{"entity": "Customer", "day": f"2025-10-0{d}", "rows_fetched": 0, "rows_upserted": 0,
                "requests": 0} for d in range(1, 8)]
    with caplog.at_level(logging.INFO, logger="qbo_ingest"):
        mage_tasks.summarize(outputs, pipeline_uuid="qb_customers_backfill")
    alerts = [r for r in caplog.records if "Validation: [ALERT]" in r.getMessage()]
    assert len(alerts) == 1 and alerts[0].levelno == logging.WARNING
    assert "Customer: 7 of 7 day(s) with 0 records changed" in alerts[0].getMessage()


def test_summarize_adds_up_the_days_and_lists_empty_ones(caplog: pytest.LogCaptureFixture) -> None:
    outputs = [
        {"entity": "Invoice", "day": "2025-10-02", "rows_fetched": 0, "rows_upserted": 0, "requests": 1},
        [{"entity": "Invoice", "day": "2025-10-01", "rows_fetched": 5, "rows_upserted": 5, "requests": 1}],
    ]
    with caplog.at_level(logging.INFO, logger="qbo_ingest"):
        out = mage_tasks.summarize(outputs, pipeline_uuid="qb_invoices_backfill")
    assert out == {"entity": "Invoice", "days": 2, "first_day": "2025-10-01", "last_day": "2025-10-02",
                   "rows_fetched": 5, "rows_upserted": 5, "requests": 2, "zero_days": ["2025-10-02"]}
    assert ("Summary: Invoice 2025-10-01..2025-10-02: 2 day(s) succeeded, rows_fetched=5 rows_upserted=5 "
            "requests=2, 1 day(s) with 0 records: 2025-10-02") in caplog.messages


def test_deactivate_without_a_pipeline_run_does_nothing() -> None:
    assert mage_tasks.deactivate_once_trigger({}, pipeline_uuid="qb_invoices_backfill") == {
        "trigger": None, "deactivated": False, "reason": "not a triggered run (no pipeline_run_id)"}


def test_trigger_yaml_edit_keeps_comments_and_layout(tmp_path: Path) -> None:
    generated = (ROOT / "mage/pipelines/qb_invoices_backfill/triggers.yaml").read_text()
    path = tmp_path / "triggers.yaml"
    path.write_text(generated.replace("status: inactive", "status: active"))
    assert triggers.set_trigger_inactive_in_yaml(path, "qb_invoices_backfill_once") is True
    assert path.read_text() == generated  # byte for byte: only the value changed
    assert triggers.set_trigger_inactive_in_yaml(path, "qb_invoices_backfill_once") is False
    assert triggers.set_trigger_inactive_in_yaml(path, "another") is False


def test_trigger_yaml_edit_on_the_file_mage_rewrote(tmp_path: Path) -> None:
    # What Mage writes when a trigger is enabled in the UI (yaml.safe_dump, keys sorted).
    path = tmp_path / "triggers.yaml"
    path.write_text(yaml.safe_dump({"triggers": [
        {"name": "other", "schedule_interval": "@daily", "schedule_type": "time", "status": "active",
         "start_time": "2026-01-01 00:00:00+00:00"},
        {"envs": [], "name": "qb_invoices_backfill_once", "schedule_interval": "@once", "schedule_type": "time",
         "start_time": "2026-02-02 04:07:00+00:00", "status": "active",
         "variables": {"fecha_fin": "2025-10-31", "fecha_inicio": "2025-10-01"}},
    ]}))
    assert triggers.set_trigger_inactive_in_yaml(path, "qb_invoices_backfill_once") is True
    data = {t["name"]: t for t in yaml.safe_load(path.read_text())["triggers"]}
    assert data["qb_invoices_backfill_once"]["status"] == "inactive"
    assert data["other"]["status"] == "active"
    assert data["qb_invoices_backfill_once"]["variables"]["fecha_inicio"] == "2025-10-01"


def test_incremental_sync_block_loads_changes_and_marks_cdc_deletes(qbo, settings_env: None) -> None:
    from datetime import datetime, timedelta, timezone

    from qbo_ingest.catalogue import get
    from qbo_ingest.windows import day_window

    today = datetime.now(timezone.utc).date()
    emu, eng, s = qbo(profile="sparse", data_start=today - timedelta(days=5), data_end=today - timedelta(days=1))
    assert jobs.backfill(eng, [get("Invoice")], (today - timedelta(days=5)).isoformat(), today.isoformat()).ok
    victim = sorted(emu.truth("Invoice", day_window(today - timedelta(days=5)).start, day_window(today).end))[0]
    emu.delete_record("Invoice", victim)

    @contextmanager
    def factory(settings):
        yield eng

    out = mage_tasks.incremental_sync(engine_factory=factory, entities="Invoice")
    assert out["entities"] == ["Invoice"] and out["deleted"] == {"Invoice": 1} and out["cdc_requests"] == 1


def test_mage_schedule_reads_the_time_in_utc_only() -> None:
    from datetime import datetime, timezone

    from qbo_ingest.apps.mage import api
    from qbo_ingest.errors import QboIngestError

    assert api.parse_at("2026-02-02 04:07 UTC") == datetime(2026, 2, 2, 4, 7, tzinfo=timezone.utc)
    assert api.parse_at("2026-02-02T04:07:30Z") == datetime(2026, 2, 2, 4, 7, 30, tzinfo=timezone.utc)
    for bad in ("2026-02-02 04:07", "2026-02-02 23:07 -05:00", "tomorrow"):
        with pytest.raises(QboIngestError, match="is not a UTC time: give it as 'YYYY-MM-DD HH:MM UTC'"):
            api.parse_at(bad)
    with pytest.raises(QboIngestError, match="is not a valid date and time"):
        api.parse_at("2026-02-30 04:07 UTC")
    assert api.trigger_name(mage_tasks.get("Invoice"), date(2025, 11, 1), date(2025, 11, 30),
                            api.parse_at("2026-02-02 04:07 UTC")) == \
        "qb_invoices_backfill_2025-11-01_2025-11-30_at_20260202T0407Z"


def test_package_records_reach_the_block_logger_at_their_own_level() -> None:
    """Issue 15 item 4: Mage's Warning/Error filters find our alert and error lines (Mage's block logger
    gets each record at its level, without a level prefix in the message, and still redacted)."""
    import json
    import subprocess
    import sys

    code = (
        "import json, logging\n"
        "from qbo_ingest.apps.mage.block_logs import route_logs\n"
        "got = []\n"
        "class Block(logging.Logger):\n"
        "    def log(self, level, msg, *a, **k): got.append([level, msg])\n"
        "route_logs({'block_uuid': 'load_day:invoice_backfill_2025-10-15', 'logger': Block('mage')})\n"
        "lg = logging.getLogger('qbo_ingest.backfill')\n"
        "lg.info('Validation: Integrity Check Passed Invoice 2025-10-15: rows_fetched=3 rows_upserted=3')\n"
        "lg.warning('Validation: [ALERT] Invoice 2025-10-16: 0 records')\n"
        "lg.error('failed: token=abcdef123456 refused')\n"
        "print(json.dumps(got))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert [level for level, _ in got] == [logging.INFO, logging.WARNING, logging.ERROR]
    assert got[1][1] == "Validation: [ALERT] Invoice 2025-10-16: 0 records"  # no "WARNING " prefix
    assert "abcdef123456" not in got[2][1]  # the redaction filter still runs
