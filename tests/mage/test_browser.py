"""A real browser on the real Mage server: `mage start` on the project, headless Chromium opens the
pipelines list and a run page. Screenshots are kept under artifacts/ (git-ignored)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from qbo_ingest.catalogue import CATALOGUE

pytestmark = [pytest.mark.mage, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1400,1000"]


def chromium(url: str, *, profile: Path, screenshot: Path | None = None) -> str:
    """The DOM after the client-side app rendered (virtual time lets its requests finish)."""
    args = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000"]
    if screenshot is not None:
        proc = subprocess.run([*args, f"--screenshot={screenshot}", url], capture_output=True, text=True,
                              timeout=120)
        assert screenshot.is_file(), proc.stderr[-2000:]
        return ""
    proc = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_pipelines_list_and_a_run_page_in_chromium(project_copy, qbo_env, mage_run, mage_server,
                                                    tmp_path: Path) -> None:
    if not CHROMIUM.is_file():
        pytest.skip("headless Chromium not found at /usr/bin/chromium: apt-get install -y chromium")
    data_dir = tmp_path / "mage_data"
    # A real run in the Mage database the server will use, so the run page has block runs to show.
    # (Done before the server starts: its scheduler would otherwise pick up the running run too.)
    res = mage_run(project_copy, data_dir, env=qbo_env.env, once_trigger=True,
                   variables={"fecha_inicio": "2025-10-01", "fecha_fin": "2025-10-03"})
    assert res["status"] == "completed"
    ARTIFACTS.mkdir(exist_ok=True)
    with mage_server(project_copy, data_dir, tmp_path) as base, \
            tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        dom = chromium(f"{base}/pipelines", profile=Path(profile))
        missing = [e.pipeline for e in CATALOGUE if e.pipeline not in dom]
        assert missing == [], f"pipelines not listed in the UI: {missing}"
        chromium(f"{base}/pipelines", profile=Path(profile), screenshot=ARTIFACTS / "mage_pipelines.png")

        run_url = f"{base}/pipelines/qb_invoices_backfill/runs/{res['pipeline_run_id']}"
        dom = chromium(run_url, profile=Path(profile))
        for day in ("2025-10-01", "2025-10-02", "2025-10-03"):
            assert f"invoice_backfill_{day}" in dom, f"block run of {day} not on the run page"
        chromium(run_url, profile=Path(profile), screenshot=ARTIFACTS / "mage_run.png")
    assert (ARTIFACTS / "mage_pipelines.png").stat().st_size > 10_000
    assert (ARTIFACTS / "mage_run.png").stat().st_size > 10_000
