"""Item 5 of issue 13: more than 1000 CDC changes of one entity in one second. CDC cannot page past
that second; the sync finds the deletions by a full id re-scan instead, and the next entities are
still checked. Through the CLI as the loader."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import httpx
from cx_support import Stack, stack

UTC = timezone.utc


def _admin(st: Stack, action: str, **spec: object) -> None:
    r = httpx.post(f"{st.srv.base_url}/admin/{action}", json=spec, timeout=60)
    assert r.status_code == 200, r.text


def test_a_cdc_burst_in_one_second_does_not_stop_the_sync_or_hide_deletions(pg_url: str) -> None:
    last = date.today() - timedelta(days=1)
    first = last - timedelta(days=1)
    start = datetime.combine(first, datetime.min.time(), UTC)
    end = start + timedelta(days=2)
    with stack(pg_url, data_end=last, profile_overrides={"Invoice": 800}, delete_fraction=0.0) as st:
        out = st.cli("backfill", "Invoice", "Payment", "--fecha-inicio", str(first), "--fecha-fin", str(last),
                     "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        invoices = sorted(st.emu.truth("Invoice", start, end), key=int)
        payments = sorted(st.emu.truth("Payment", start, end), key=int)
        burst = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
        _admin(st, "update-many", entity="Invoice", ids=invoices[:1200], at=burst.isoformat())
        gone = invoices[1300:1303]
        for rid in gone:
            _admin(st, "delete", entity="Invoice", id=rid, at=(burst + timedelta(seconds=30)).isoformat())
        _admin(st, "delete", entity="Payment", id=payments[0], at=(burst + timedelta(seconds=40)).isoformat())

        outs = [st.cli("sync", "Invoice", "Payment") for _ in range(2)]  # and the next hourly run
        for out in outs:
            assert out.returncode == 0, out.stdout + out.stderr
            assert "Traceback" not in out.stderr
        assert "Invoice: CDC burst at" in outs[0].stdout
        with st.admin() as admin:
            deleted = {(str(e), str(i)) for e, i in admin.execute(
                "SELECT 'Invoice', id FROM raw.qb_invoices WHERE deleted_at_utc IS NOT NULL UNION ALL "
                "SELECT 'Payment', id FROM raw.qb_payments WHERE deleted_at_utc IS NOT NULL").fetchall()}
            burst_rows = admin.execute("SELECT count(*) FROM raw.qb_invoices WHERE last_updated_at = %s",
                                       (burst,)).fetchone()
        assert deleted == {("Invoice", g) for g in gone} | {("Payment", payments[0])}
        assert burst_rows is not None and burst_rows[0] == 1200
