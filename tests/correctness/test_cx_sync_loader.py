"""Items 1 and 2 of issue 13: `sync` as the least-privilege loader, and an entity with nothing in raw."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from cx_support import stack


def test_sync_as_the_loader_after_a_backfill_including_an_empty_entity(pg_url: str) -> None:
    yesterday = date.today() - timedelta(days=1)
    first = yesterday - timedelta(days=3)
    # TaxAgency has no record in these days: a successful backfill leaves it empty in raw.
    with stack(pg_url, data_end=yesterday, profile_overrides={"TaxAgency": 0}) as st:
        out = st.cli("backfill", "Invoice", "TaxAgency", "--fecha-inicio", str(first), "--fecha-fin",
                     str(yesterday), "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        out = st.cli("sync", "Invoice", "TaxAgency")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "Traceback" not in out.stderr and "internal error" not in out.stderr
        assert "TaxAgency" in out.stdout + out.stderr
        with st.admin() as admin:
            n = admin.execute("SELECT count(*) FROM qbo_ingest.cdc_state WHERE entity = 'Invoice'").fetchone()
        assert n is not None and n[0] == 1  # the loader recorded its CDC check


def test_hourly_default_sync_of_every_entity_skips_the_never_loaded_ones(pg_url: str) -> None:
    yesterday = date.today() - timedelta(days=1)
    with stack(pg_url, data_end=yesterday) as st:
        out = st.cli("backfill", "Invoice", "--fecha-inicio", str(yesterday), "--fecha-fin", str(yesterday),
                     "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        out = st.cli("sync")  # what qb_incremental_sync runs every hour: all entities
        assert out.returncode == 0, out.stdout + out.stderr
        assert "Customer: nothing loaded for realm" in out.stdout + out.stderr
        with st.admin() as admin:
            rows = admin.execute("SELECT entity FROM qbo_ingest.cdc_state").fetchall()
        assert [r[0] for r in rows] == ["Invoice"]


def test_two_first_ever_syncs_at_once_as_the_loader(pg_url: str) -> None:
    """Item 15 (race): two hourly syncs overlapping on their first run (no CDC check stored yet)."""
    import subprocess
    import sys

    yesterday = date.today() - timedelta(days=1)
    with stack(pg_url, data_end=yesterday) as st:
        env = st.env()
        out = st.cli("backfill", "Invoice", "Customer", "--fecha-inicio", str(yesterday - timedelta(days=2)),
                     "--fecha-fin", str(yesterday), "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        procs = [subprocess.Popen([sys.executable, "-m", "qbo_ingest", "sync", "Invoice", "Customer"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=180)
            assert p.returncode == 0, err
            assert "Traceback" not in err and "internal error" not in err
        with st.admin() as admin:
            rows = admin.execute("SELECT entity, count(*) FROM qbo_ingest.cdc_state GROUP BY 1 ORDER BY 1").fetchall()
            running = admin.execute("SELECT count(*) FROM qbo_ingest.runs WHERE status <> 'succeeded'").fetchone()
        assert rows == [("Customer", 1), ("Invoice", 1)]  # one CDC check per entity, whoever wrote it last
        assert running == (0,)


def test_the_mage_sync_block_runs_as_the_loader(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 1 through what `qb_incremental_sync` calls: the block function with Mage's environment."""
    from qbo_ingest.apps.mage import blocks

    yesterday = date.today() - timedelta(days=1)
    with stack(pg_url, data_end=yesterday) as st:
        out = st.cli("backfill", "Invoice", "--fecha-inicio", str(yesterday), "--fecha-fin", str(yesterday),
                     "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        for k, v in st.env().items():
            if k.startswith("QBO_"):
                monkeypatch.setenv(k, v)
        got = blocks.incremental_sync(entities="Invoice")
        assert got["entities"] == ["Invoice"] and got["deleted"] == {"Invoice": 0}
        with st.admin() as admin:
            user = admin.execute("SELECT DISTINCT run_id FROM qbo_ingest.runs WHERE command = 'sync'").fetchall()
        assert len(user) == 1
