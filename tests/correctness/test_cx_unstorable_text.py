"""Item 3 of issue 13: a NUL or a lone surrogate in any text field. jsonb refuses both; the record is stored
with the characters escaped, counted in the ledger and the log, and no customer text reaches a message."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import httpx
from cx_support import stack

UTC = timezone.utc
SECRET_TEXT = "Customer-Private-Text-7f3a"


def test_nul_and_lone_surrogates_are_stored_escaped_counted_and_never_quoted(pg_url: str) -> None:
    last = date.today() - timedelta(days=1)
    first = last - timedelta(days=2)
    with stack(pg_url, data_end=last) as st:
        d2 = datetime.combine(first + timedelta(days=1), datetime.min.time(), UTC)
        ids = sorted(st.emu.truth("Invoice", d2, d2 + timedelta(days=1)), key=int)
        victim = ids[len(ids) // 2]
        fields = {"PrivateNote": f"{SECRET_TEXT}\u0000tail", "CustomerMemo": {"value": f"{SECRET_TEXT}\ud800x"},
                  f"Key\udfff{SECRET_TEXT}": "v\u0000\u0000"}
        body = json.dumps({"entity": "Invoice", "id": victim, "fields": fields})  # ASCII: \u escapes
        r = httpx.post(f"{st.srv.base_url}/admin/patch", content=body,
                       headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text

        out = st.cli("backfill", "Invoice", "--fecha-inicio", str(first), "--fecha-fin", str(last),
                     "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        assert SECRET_TEXT not in out.stdout + out.stderr
        assert f"5 character(s) jsonb cannot hold (NUL, lone surrogate) stored escaped as \\uXXXX text in 1 " \
               f"record(s), Id {victim}" in out.stderr

        with st.admin() as admin:
            payload = admin.execute("SELECT payload::text FROM raw.qb_invoices WHERE id = %s",
                                    (victim,)).fetchone()
            ledger = admin.execute("SELECT day, status, chars_escaped, error FROM qbo_ingest.ledger "
                                   "WHERE entity = 'Invoice' ORDER BY day").fetchall()
            total = admin.execute("SELECT count(*) FROM raw.qb_invoices").fetchone()
        assert payload is not None
        stored = json.loads(payload[0])
        assert stored["PrivateNote"] == f"{SECRET_TEXT}\\u0000tail"
        assert stored["CustomerMemo"]["value"] == f"{SECRET_TEXT}\\ud800x"
        assert stored[f"Key\\udfff{SECRET_TEXT}"] == "v\\u0000\\u0000"
        assert [(d, s, n, e) for d, s, n, e in ledger] == [
            (first, "succeeded", 0, None), (first + timedelta(days=1), "succeeded", 5, None),
            (last, "succeeded", 0, None)]
        truth = sum(len(st.emu.truth("Invoice", datetime.combine(first + timedelta(days=i), datetime.min.time(),
                                                                  UTC),
                                     datetime.combine(first + timedelta(days=i + 1), datetime.min.time(), UTC)))
                    for i in range(3))
        assert total is not None and total[0] == truth  # nothing lost: every day of the stream loaded
