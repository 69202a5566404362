"""Items 4 and 10 of issue 13: keyset paging loses nothing when records change between pages: more
than a page of records in one second with edits between its STARTPOSITION pages (4), and a record
edited between two pages to a time still inside the window (10). Through the CLI as the loader."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import httpx
from cx_support import Stack, stack

UTC = timezone.utc
DAY = date(2025, 3, 12)
START = datetime(2025, 3, 12, tzinfo=UTC)
END = START + timedelta(days=1)


def _admin(st: Stack, action: str, **spec: object) -> None:
    r = httpx.post(f"{st.srv.base_url}/admin/{action}", json=spec, timeout=60)
    assert r.status_code == 200, r.text


def _raw(st: Stack) -> dict[str, tuple[datetime, str]]:
    with st.admin() as admin:
        rows = admin.execute("SELECT id, last_updated_at, payload->>'SyncToken' FROM raw.qb_invoices").fetchall()
    return {str(i): (lu, str(tok)) for i, lu, tok in rows}


def _backfill(st: Stack) -> None:
    out = st.cli("backfill", "Invoice", "--fecha-inicio", str(DAY), "--fecha-fin", str(DAY), "--no-progress")
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_dense_second_edited_between_its_position_pages_loses_nothing(pg_url: str) -> None:
    with stack(pg_url, data_end=date(2025, 3, 31), profile_overrides={"Invoice": {str(DAY): 2500}}) as st:
        ids = sorted(st.emu.truth("Invoice", START, END), key=int)
        _admin(st, "update-many", entity="Invoice", ids=ids, at="2025-03-12T12:00:00+00:00")
        # after the 2nd query (the first STARTPOSITION page of 12:00:00) 60 records of the second move to
        # 13:00, shifting the later positions; and 30 more after the 3rd
        _admin(st, "mutate-between-pages", entity="Invoice", n=60, after=2, at="2025-03-12T13:00:00+00:00")
        _admin(st, "mutate-between-pages", entity="Invoice", n=30, after=3, at="2025-03-12T14:00:00+00:00")
        _backfill(st)
        truth = st.emu.truth("Invoice", START, END)
        raw = _raw(st)
        assert len(st.emu.mutations) == 90
        assert sorted(set(truth) - set(raw), key=int) == []  # nothing skipped
        stale = [i for i, lu in truth.items() if raw[i][0] != lu]
        assert stale == []  # and every edited record holds its newest version


def test_a_record_edited_between_pages_to_a_time_inside_the_window_is_kept_newest(pg_url: str) -> None:
    with stack(pg_url, data_end=date(2025, 3, 31), profile_overrides={"Invoice": {str(DAY): 2500}}) as st:
        _admin(st, "mutate-between-pages", entity="Invoice", n=40, after=1, at="2025-03-12T23:59:30+00:00")
        _backfill(st)
        truth = st.emu.truth("Invoice", START, END)
        raw = _raw(st)
        edited = {rid for _, rid, _ in st.emu.mutations}
        assert len(edited) == 40
        assert set(raw) == set(truth)
        assert [i for i in edited if raw[i][0] != truth[i]] == []
        assert all(raw[i][1] == str(st.emu.record("Invoice", i)["SyncToken"]) for i in edited)  # type: ignore[index]
