"""A page's query stops scanning once its first records are settled (store.select(need=...)): the records
it serves are exactly the whole result's, for any window, position and filter the scan may cut short -
edited records moved to later days, deleted ones, list entities' inactive rows, and records edited through
the admin API included."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbo_ingest.local.emulator import Emulator, EmulatorConfig
from qbo_ingest.local.emulator.predicates import prefix_ok

START = datetime(2025, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def emu() -> Emulator:
    e = Emulator(EmulatorConfig(seed=11, profile="demo", data_start=date(2025, 1, 1), data_end=date(2025, 3, 31),
                                max_lag_days=12, update_fraction=0.4, delete_fraction=0.1))
    # explicit edits: an overlay record wins over its generated one wherever its new time falls
    e.update_record("Invoice", e.store.day_data("Invoice", 3).recs[0].id, at=START + timedelta(days=40))
    return e


def _stmt(entity: str, lo: datetime, hi: datetime, position: int, size: int, extra: str = "") -> str:
    f = "%Y-%m-%dT%H:%M:%SZ"
    return (f"SELECT * FROM {entity} WHERE MetaData.LastUpdatedTime >= '{lo.strftime(f)}' AND "
            f"MetaData.LastUpdatedTime < '{hi.strftime(f)}'{extra} ORDERBY MetaData.LastUpdatedTime "
            f"STARTPOSITION {position} MAXRESULTS {size}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entity=st.sampled_from(["Invoice", "Customer", "Payment"]), lo_h=st.integers(0, 80 * 24),
       span_h=st.integers(1, 60 * 24), position=st.integers(1, 400), size=st.integers(1, 300),
       active=st.sampled_from(["", " AND Active IN (true, false)", " AND Active = false"]))
def test_a_page_from_the_cut_short_scan_is_the_page_of_the_whole_result(emu: Emulator, entity: str, lo_h: int,
                                                                          span_h: int, position: int, size: int,
                                                                          active: str) -> None:
    lo = START + timedelta(hours=lo_h)
    q = emu.parse(_stmt(entity, lo, lo + timedelta(hours=span_h), position, size,
                        active if entity == "Customer" else ""))
    assert prefix_ok(q)
    whole = emu.store.select(q)
    cut = emu.store.select(q, need=position - 1 + size)
    assert cut[position - 1: position - 1 + size] == whole[position - 1: position - 1 + size]
    assert [r.id for r in cut] == [r.id for r in whole[: len(cut)]]


def test_queries_the_scan_cannot_cut_are_answered_whole(emu: Emulator) -> None:
    for stmt in ("SELECT * FROM Invoice ORDERBY MetaData.LastUpdatedTime DESC MAXRESULTS 5",
                 "SELECT * FROM Invoice WHERE TotalAmt > '10' ORDERBY MetaData.LastUpdatedTime MAXRESULTS 5",
                 "SELECT * FROM Invoice WHERE Id IN ('1', '2') ORDERBY MetaData.LastUpdatedTime",
                 "SELECT COUNT(*) FROM Invoice WHERE MetaData.LastUpdatedTime >= '2025-01-01T00:00:00Z'"):
        assert not prefix_ok(emu.parse(stmt)), stmt
