"""Item 17 (demo) of issue 13: `qbo-ingest demo` says the warehouse stays up, so it does; it prints the way
to stop it, and a second demo on the same directory works (item 13's 0711 data directory)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from cx_support import base_env, run_cli


def test_the_demo_leaves_the_warehouse_up_and_says_how_to_stop_it() -> None:
    base = Path(tempfile.mkdtemp(prefix="cx-demo-"))
    base.chmod(0o755)
    stop = ""
    try:
        for _ in range(2):
            out = run_cli(["demo", "--data-dir", str(base / "pg"), "--from", "2026-11-20", "--to", "2026-11-20"],
                          base_env(), timeout=300)
            assert out.returncode == 0, out.stdout + out.stderr
            url = re.search(r"connection URL: (\S+)", out.stdout)
            stop_m = re.search(r"stop it with: (.+)", out.stdout)
            assert url and stop_m, out.stdout
            stop = stop_m.group(1)
            with psycopg.connect(url.group(1)) as conn:  # after the command ended
                n = conn.execute("SELECT count(*) FROM raw.qb_invoices").fetchone()
            assert n is not None and n[0] > 0
        done = subprocess.run(shlex.split(stop), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        stop = ""
    finally:
        if stop:
            subprocess.run(shlex.split(stop), capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
    assert os.path.exists(base) is False
