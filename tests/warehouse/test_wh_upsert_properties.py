"""upsert_page on a real PostgreSQL: for any set of record versions cut into pages and loaded in any order,
with pages repeated, raw holds exactly the newest version of each record (newer wins), and loading every
page once more changes nothing (idempotent)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbo_ingest import warehouse as wh

UTC = timezone.utc
REALM = "9130350000000001"
T0 = datetime(2025, 3, 9, tzinfo=UTC)  # US spring-forward day: Pacific offsets change inside it
ZONES = [timezone(timedelta(hours=-8)), timezone(timedelta(hours=-7)), UTC, timezone(timedelta(hours=5, minutes=30))]


@st.composite
def loads(draw: st.DrawFn) -> tuple[list[list[dict[str, Any]]], list[int], dict[str, dict[str, Any]]]:
    """(pages, order of page indexes with repeats, the newest version of each id)."""
    versions: list[dict[str, Any]] = []
    newest: dict[str, dict[str, Any]] = {}
    for rid in range(1, draw(st.integers(1, 8)) + 1):
        # distinct instants per id (an equal time with another payload would make the winner order-bound)
        seconds = draw(st.lists(st.integers(0, 3 * 86_400), min_size=1, max_size=4, unique=True))
        for sync, s in enumerate(seconds):
            t = T0 + timedelta(seconds=s)
            zone = draw(st.sampled_from(ZONES))  # the same instant written with any offset
            rec = {"Id": str(rid), "SyncToken": str(sync), "DocNumber": f"{rid}-{s}",
                   "MetaData": {"LastUpdatedTime": t.astimezone(zone).isoformat()}}
            versions.append(rec)
            if rid not in map(int, newest) or s == max(seconds):
                newest[str(rid)] = rec
    order = draw(st.permutations(versions))
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(order) - 1)), max_size=4, unique=True)))
    pages = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, len(order)], strict=False) if order[a:b]]
    sequence = draw(st.permutations(list(range(len(pages))) + draw(st.lists(st.integers(0, len(pages) - 1),
                                                                              max_size=3))))
    return pages, list(sequence), newest


def _snapshot(conn: psycopg.Connection[Any]) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute("SELECT id, payload, last_updated_at, extract_window_start_utc, extract_window_end_utc, "
                        "deleted_at_utc FROM raw.qb_invoices WHERE realm_id = %s", (REALM,)).fetchall()
    conn.rollback()
    return {r[0]: tuple(r[1:]) for r in rows}


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(load=loads(), with_body=st.booleans())
def test_upsert_is_newer_wins_and_idempotent_under_any_order_of_pages(
        conn: psycopg.Connection[Any], load: tuple[list[list[dict[str, Any]]], list[int], dict[str, Any]],
        with_body: bool) -> None:
    pages, sequence, newest = load
    conn.execute("TRUNCATE raw.qb_invoices")
    conn.commit()

    def put(i: int) -> wh.UpsertResult:
        body = json.dumps({"QueryResponse": {"Invoice": pages[i]}}).encode() if with_body else None
        return wh.upsert_page(conn, "Invoice", REALM, pages[i], page_number=i + 1, body=body)

    for i in sequence:
        res = put(i)
        assert res.rows_fetched == len(pages[i]) and 0 <= res.rows_upserted <= len({r["Id"] for r in pages[i]})
    state = _snapshot(conn)
    assert set(state) == set(newest)
    for rid, rec in newest.items():
        payload, lu, ws, we, deleted = state[rid]
        assert payload == rec, f"id {rid}: an older version won"
        t = datetime.fromisoformat(rec["MetaData"]["LastUpdatedTime"])
        assert lu == t
        day = t.astimezone(UTC).replace(hour=0, minute=0, second=0, tzinfo=None)
        assert (ws, we) == (day, day + timedelta(days=1)) and deleted is None
    for i in range(len(pages)):
        put(i)
    assert _snapshot(conn) == state
