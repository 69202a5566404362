"""`qbo-ingest emulator` options reach the served emulator (a real subprocess on 127.0.0.1), and a bad
option is one `error:` line with exit 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from qbo_ingest.local.emulator import EmulatorConfig, RotationPolicy

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "qbo_ingest.apps.cli.main"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize(("args", "fragment"), [
    (["--rotation", "sometimes"], "Unknown rotation policy"),
    (["--fault", "oops@query"], "Unknown fault kind"),
    (["--fault", "500@query:x"], "Bad fault spec"),
    (["--data-start", "2024-13-01"], "not a date"),
    (["--access-ttl", "0"], "access-token lifetime"),
])
def test_bad_options_are_one_error_line(args: list[str], fragment: str) -> None:
    res = subprocess.run([*CLI, "emulator", "--port", "0", *args], env=_env(), capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]


def test_library_parses_the_option_spellings() -> None:
    assert RotationPolicy.parse("intuit") == RotationPolicy(every_n=None, every_seconds=86400, grace_seconds=86400)
    assert RotationPolicy.parse("every:3", 60) == RotationPolicy(every_n=3, every_seconds=None, grace_seconds=60)
    cfg = EmulatorConfig.from_options(rotation="after:600", access_ttl=120, latency_ms=5, throttle=False,
                                      data_start="2024-01-01", data_end="2024-02-01")
    assert (cfg.rotation.every_seconds, cfg.access_ttl, cfg.latency_ms, cfg.throttle) == (600, 120, 5, False)
    assert (cfg.data_start.isoformat(), cfg.data_end.isoformat()) == ("2024-01-01", "2024-02-01")


def test_options_reach_the_running_emulator() -> None:
    args = ["emulator", "--port", "0", "--profile", "sparse", "--seed", "3", "--rotation", "every-refresh",
            "--access-ttl", "120", "--no-throttle", "--fault", "500@count:1", "--data-start", "2024-01-01",
            "--data-end", "2024-01-31"]
    proc = subprocess.Popen([*CLI, *args], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen: dict[str, str] = {}
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while "refresh token" not in seen and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.match(r"\s+([A-Za-z ]+?)\s+: (\S+)", line)
            if m:
                seen[m.group(1)] = m.group(2)
        base, realm, rt = seen["API base URL"], seen["realm id"], seen["refresh token"]
        auth = (seen["client id"], seen["client secret"])
        with httpx.Client(base_url=base, timeout=20) as http:
            tok = http.post("/oauth2/v1/tokens/bearer", data={"grant_type": "refresh_token", "refresh_token": rt},
                            auth=auth).json()
            assert tok["expires_in"] == 120 and tok["refresh_token"] != rt  # every-refresh rotation
            headers = {"Authorization": f"Bearer {tok['access_token']}", "Accept": "application/json"}
            q = {"query": "SELECT COUNT(*) FROM Invoice WHERE MetaData.LastUpdatedTime >= '2024-02-01T00:00:00Z'"}
            assert http.get(f"/v3/company/{realm}/query", params=q, headers=headers).status_code == 500  # the fault
            r = http.get(f"/v3/company/{realm}/query", params={"query": "SELECT * FROM Invoice MAXRESULTS 1"},
                         headers=headers)
            # no generated record is later than --data-end
            q2 = {"query": "SELECT COUNT(*) FROM Invoice WHERE MetaData.CreateTime >= '2024-02-01T08:00:00Z'"}
            assert r.status_code == 200
            assert http.get(f"/v3/company/{realm}/query", params=q2,
                            headers=headers).json()["QueryResponse"]["totalCount"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
