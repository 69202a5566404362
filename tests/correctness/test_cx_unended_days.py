"""Item 7 of issue 13: a day that has not ended (today, UTC) is never closed `succeeded`; a future
fecha_fin is one error line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cx_support import stack

UTC = timezone.utc


def _ledger(st) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with st.admin() as admin:
        return {str(d): s for d, s in admin.execute(
            "SELECT day, status FROM qbo_ingest.ledger WHERE entity = 'Invoice' ORDER BY day").fetchall()}


def test_today_is_loaded_but_not_closed_and_the_future_is_refused(pg_url: str) -> None:
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    with stack(pg_url, data_end=yesterday) as st:
        tomorrow = today + timedelta(days=1)
        out = st.cli("backfill", "Invoice", "--fecha-inicio", str(yesterday), "--fecha-fin", str(tomorrow),
                     "--no-progress")
        assert out.returncode == 2 and out.stderr.strip().count("\n") == 0, out.stderr
        assert out.stderr.startswith(f"error: fecha_fin ({today + timedelta(days=1)}) is in the future")
        assert _ledger(st) == {}

        out = st.cli("backfill", "Invoice", "--fecha-inicio", str(yesterday), "--fecha-fin", str(today),
                     "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"Invoice {today}: not ended yet (UTC)" in out.stdout
        assert _ledger(st) == {str(yesterday): "succeeded"}  # no row claims today is complete

        out = st.cli("backfill", "Invoice", "--fecha-inicio", str(yesterday), "--fecha-fin", str(today),
                     "--resume", "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"Invoice {today}: not ended yet" in out.stdout  # --resume fetches today again

        out = st.cli("sync", "Invoice")
        assert out.returncode == 0, out.stdout + out.stderr
        assert _ledger(st) == {str(yesterday): "succeeded"}
