"""Item 1 of issue 13 and item 9 of issue 15 through Mage itself: the generated `qb_incremental_sync`
pipeline, run by Mage 0.9.80's executor with the loader's environment (what its hourly trigger runs)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from cx_support import stack

ROOT = Path(__file__).resolve().parents[2]
MAGE_RUNNER = ROOT / "tests" / "mage" / "mage_runner.py"

pytestmark = [pytest.mark.mage, pytest.mark.slow]


def test_qb_incremental_sync_runs_in_mage_as_the_loader(pg_url: str, tmp_path: Path) -> None:
    pytest.importorskip("mage_ai")
    yesterday = date.today() - timedelta(days=1)
    with stack(pg_url, data_end=yesterday) as st:
        out = st.cli("backfill", "Invoice", "--fecha-inicio", str(yesterday - timedelta(days=2)), "--fecha-fin",
                     str(yesterday), "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        project = tmp_path / "mage"
        shutil.copytree(ROOT / "mage", project, ignore=shutil.ignore_patterns("__pycache__", "mage_data"))
        data_dir = tmp_path / "mage_data"
        data_dir.mkdir()
        result_file = data_dir / "result.json"
        # empty `entities`, as the hourly trigger has it: every entity (the never-loaded ones are skipped)
        proc = subprocess.run(
            [sys.executable, str(MAGE_RUNNER), "--project", str(project), "--data-dir", str(data_dir),
             "--pipeline", "qb_incremental_sync", "--vars", json.dumps({"entities": ""}), "--out",
             str(result_file), "--secrets", "{}"],
            env=st.env(), cwd=str(data_dir), capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0 and result_file.is_file(), proc.stderr[-4000:]
        result = json.loads(result_file.read_text())
        logs = " ".join(str(v) for v in (result.get("logs") or {}).values())
        assert result["status"] == "completed", (result, logs[-3000:])
        assert "permission denied" not in logs and "Traceback" not in logs
        with st.admin() as admin:
            checks = admin.execute("SELECT entity FROM qbo_ingest.cdc_state").fetchall()
            runs = admin.execute("SELECT status FROM qbo_ingest.runs WHERE command = 'sync'").fetchall()
        assert [c[0] for c in checks] == ["Invoice"]  # the loader wrote its CDC check
        assert runs == [("succeeded",)]
