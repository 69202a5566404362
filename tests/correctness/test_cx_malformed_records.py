"""Item 17 (records) of issue 13: a record without MetaData, or with a LastUpdatedTime without an offset,
no longer fails its whole stream: it is stored at the lower bound of the query that returned it, named (by
Id) in a warning, and every other record and day loads. Through the CLI as the loader."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
from cx_support import stack

UTC = timezone.utc
D1 = datetime(2025, 3, 10, tzinfo=UTC)


def test_records_without_a_readable_time_are_stored_not_fatal(pg_url: str) -> None:
    with stack(pg_url) as st:
        ids = sorted(st.emu.truth("Invoice", D1, D1 + timedelta(days=1)), key=int)
        no_meta, naive = ids[3], ids[7]
        for rid, fields in ((no_meta, {"MetaData": None}),
                            (naive, {"MetaData": {"CreateTime": "2025-03-10T01:00:00",
                                                  "LastUpdatedTime": "2025-03-10T09:30:00"}})):
            r = httpx.post(f"{st.srv.base_url}/admin/patch", json={"entity": "Invoice", "id": rid, "fields": fields})
            assert r.status_code == 200, r.text
        out = st.cli("backfill", "Invoice", "--fecha-inicio", "2025-03-10", "--fecha-fin", "2025-03-12",
                     "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "record(s) without a readable MetaData.LastUpdatedTime" in out.stderr
        assert no_meta in out.stderr and naive in out.stderr
        with st.admin() as admin:
            raw = {str(i) for (i,) in admin.execute("SELECT id FROM raw.qb_invoices").fetchall()}
            placed = admin.execute("SELECT last_updated_at FROM raw.qb_invoices WHERE id = %s", (no_meta,)).fetchone()
            ledger = admin.execute("SELECT status FROM qbo_ingest.ledger ORDER BY day").fetchall()
        assert raw == set(st.emu.truth("Invoice", D1, D1 + timedelta(days=3)))  # nothing lost
        assert placed is not None and D1 <= placed[0] < D1 + timedelta(days=3)
        assert ledger == [("succeeded",)] * 3
