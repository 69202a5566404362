"""Incremental sync with CDC deletes, and reconcile, against a mutated emulator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from qbo_ingest import jobs
from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import get
from qbo_ingest.jobs import incremental
from qbo_ingest.jobs.reconciliation import reconcile
from qbo_ingest.windows import day_window

UTC = timezone.utc
TODAY = datetime.now(UTC).date()
START = TODAY - timedelta(days=12)


def _recent(qbo, **kw):
    kw.setdefault("profile", "sparse")
    kw.setdefault("data_start", START)
    kw.setdefault("data_end", TODAY - timedelta(days=1))  # the emulator generates whole days: none in the future
    emu, eng, s = qbo(**kw)
    ents = [get("Invoice"), get("Customer")]
    assert jobs.backfill(eng, ents, START.isoformat(), TODAY.isoformat()).ok
    return emu, eng, s, ents


def _truth(emu, name):
    return emu.truth(name, day_window(START).start, datetime.now(UTC) + timedelta(days=1))


def _raw(pg_url, name, realm, include_deleted=False):
    with wh.connect(pg_url) as conn:
        return wh.raw_snapshot(conn, get(name), realm, include_deleted=include_deleted)


def test_sync_loads_updates_and_never_goes_back(qbo, pg_url):
    emu, eng, s, ents = _recent(qbo)
    ids = sorted(emu.truth("Invoice", day_window(START).start, day_window(START + timedelta(days=3)).end))[:5]
    assert ids
    for i in ids:
        emu.update_record("Invoice", i)
    rep = incremental.sync(eng, ents)
    assert rep.ok
    raw = _raw(pg_url, "Invoice", s.realm_id)
    assert raw == _truth(emu, "Invoice")
    with psycopg.connect(pg_url) as conn:
        newest = dict(conn.execute("SELECT id, payload FROM raw.qb_invoices WHERE id = ANY(%s)", (ids,)).fetchall())
    # an older payload of the same record never overwrites the newer one
    old = dict(newest[ids[0]])
    old["SyncToken"] = "0"
    old["MetaData"] = dict(old["MetaData"], LastUpdatedTime="2020-01-01T00:00:00-08:00")
    with wh.connect(pg_url) as conn:
        res = wh.upsert_page(conn, get("Invoice"), s.realm_id, [old], page_number=1)
    assert res.rows_upserted == 0
    with psycopg.connect(pg_url) as conn:
        kept = conn.execute("SELECT payload FROM raw.qb_invoices WHERE id = %s", (ids[0],)).fetchone()
    assert kept is not None and kept[0] == newest[ids[0]]


def test_records_at_the_watermark_boundary_are_not_missed(qbo, pg_url):
    emu, eng, s, ents = _recent(qbo)
    with wh.connect(pg_url) as conn:
        mark = wh.watermark(conn, get("Invoice"), s.realm_id)
    assert mark is not None
    some = sorted(emu.truth("Invoice", day_window(START).start, day_window(START).end))[0]
    # committed late at QBO: its LastUpdatedTime equals the newest we already loaded
    emu.update_record("Invoice", some, at=mark)
    other = sorted(emu.truth("Invoice", day_window(START).start, day_window(START).end))[1]
    emu.update_record("Invoice", other, at=mark - timedelta(minutes=3))
    assert incremental.sync(eng, ents).ok
    raw = _raw(pg_url, "Invoice", s.realm_id)
    assert raw[some] == mark and raw[other] == mark - timedelta(minutes=3)
    assert raw == _truth(emu, "Invoice")


def test_cdc_deletes_are_marked_and_payload_kept(qbo, pg_url):
    emu, eng, s, ents = _recent(qbo)
    victims = sorted(emu.truth("Invoice", day_window(START).start, day_window(TODAY).end))[:4]
    with psycopg.connect(pg_url) as conn:
        before = dict(conn.execute("SELECT id, payload FROM raw.qb_invoices WHERE id = ANY(%s)",
                                   (victims,)).fetchall())
    for v in victims:
        emu.delete_record("Invoice", v)
    rep = incremental.sync(eng, ents)
    assert rep.ok and rep.deleted["Invoice"] == 4
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT id, payload, deleted_at_utc FROM raw.qb_invoices WHERE id = ANY(%s)",
                            (victims,)).fetchall()
    assert len(rows) == 4
    for rid, payload, deleted_at in rows:
        assert deleted_at is not None
        assert payload == before[rid]
    assert _raw(pg_url, "Invoice", s.realm_id) == _truth(emu, "Invoice")


def test_cdc_answer_at_the_cap_is_continued(qbo, pg_url):
    emu, eng, s, ents = _recent(qbo, profile_overrides={"Invoice": 150})
    all_ids = sorted(emu.truth("Invoice", day_window(START).start, day_window(TODAY).end))
    assert len(all_ids) > 1500
    base = datetime.now(UTC) - timedelta(minutes=9)  # after the sync's changedSince (now - 10 min overlap)
    for n, v in enumerate(all_ids[:1500]):
        emu.delete_record("Invoice", v, at=base + timedelta(milliseconds=300 * n))
    rep = incremental.sync(eng, [get("Invoice")])
    assert rep.deleted["Invoice"] == 1500
    assert rep.cdc_requests >= 2
    assert _raw(pg_url, "Invoice", s.realm_id) == _truth(emu, "Invoice")


def test_reconcile_reports_a_gap_then_zero_after_sync(qbo, pg_url):
    emu, eng, s, ents = _recent(qbo)
    rep = reconcile(eng, ents, START.isoformat(), TODAY.isoformat())
    assert rep.ok, rep.mismatches
    n_days = (TODAY - START).days + 1
    assert rep.requests == len(ents) < n_days  # equal spans: one COUNT per entity, not per day
    gap_day = START + timedelta(days=4)
    w = day_window(gap_day)
    with psycopg.connect(pg_url) as conn:
        conn.execute("DELETE FROM raw.qb_invoices WHERE id = (SELECT id FROM raw.qb_invoices "
                     "WHERE last_updated_at >= %s AND last_updated_at < %s LIMIT 1)", (w.start, w.end))
    bad = reconcile(eng, ents, START.isoformat(), TODAY.isoformat())
    assert not bad.ok
    assert [(m.entity, m.window.start.date(), m.qbo - m.raw) for m in bad.mismatches] == [("Invoice", gap_day, 1)]
    assert jobs.backfill(eng, [get("Invoice")], gap_day.isoformat(), gap_day.isoformat()).ok
    assert reconcile(eng, ents, START.isoformat(), TODAY.isoformat()).ok


def test_sync_without_a_backfill_says_what_to_run(qbo):
    emu, eng, s = qbo(profile="sparse")
    with pytest.raises(incremental.SyncError, match="run a backfill first"):
        incremental.sync(eng, [get("Invoice")])
    assert emu.counters().get("query", 0) == 0
