"""Token race: the emulator rotates the refresh token on every refresh and kills the old one at once
(RotationPolicy(every_n=1, grace_seconds=0)); 10 workers in 2 processes share the PostgreSQL token
store and force 1,000 refreshes in total. 0 invalid_grant, every fresh access token accepted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rel_support import EMU_NOW, ROOT

from qbo_ingest import warehouse as wh
from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread
from qbo_ingest.local.emulator.config import RotationPolicy
from qbo_ingest.source.auth.oauth import OAuthSession
from qbo_ingest.source.auth.token_store import PostgresTokenStore

WORKER = Path(__file__).with_name("token_race_worker.py")
TARGET = 1000


@pytest.mark.slow
def test_1000_rotating_refreshes_by_10_workers_in_2_processes(pg_url):
    with wh.connect(pg_url) as c:  # the state schema, as `qbo-ingest db init` leaves it
        wh.ensure_schema(c, [])
    emu = Emulator(EmulatorConfig(seed=3, profile="empty", throttle=False, clock=lambda: EMU_NOW,
                                  rotation=RotationPolicy(every_n=1, grace_seconds=0),
                                  client_secret="race-secret"))
    seed = emu.issue_refresh_token()
    t0 = time.monotonic()
    with serve_in_thread(emu) as srv:
        procs = [subprocess.Popen(
            [sys.executable, str(WORKER), pg_url, srv.base_url, srv.token_url, emu.cfg.client_id,
             emu.cfg.client_secret, emu.cfg.realm_id, seed, "5", str(TARGET)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT / "src")},
        ) for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        token_calls = emu.counters()["token"]
        row = PostgresTokenStore(pg_url, key_material=emu.cfg.client_secret).get(emu.cfg.realm_id, emu.cfg.client_id)
        assert row is not None and row.refresh_token
        # the stored refresh token is the live one: one more refresh works
        oauth = OAuthSession(emu.cfg.client_id, emu.cfg.client_secret, token_url=srv.token_url)
        try:
            oauth.refresh(row.refresh_token)
        finally:
            oauth.close()
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    errors = [e for r in results for e in r["errors"]]
    invalid_grant = sum("invalid_grant" in e or "refresh token" in e.lower() for e in errors)
    print(f"\n{token_calls} token endpoint calls, {row.refreshes} refreshes and {row.rotations} rotations "
          f"stored, {sum(r['used'] for r in results)} fresh access tokens used "
          f"({[r['used'] for r in results]} per process), invalid_grant {invalid_grant}, errors {len(errors)}; "
          f"{time.monotonic() - t0:.1f}s")
    assert errors == []
    assert invalid_grant == 0
    assert row.refreshes >= TARGET
    assert row.rotations == row.refreshes  # every refresh rotated, and the old token died at once
    assert token_calls == row.refreshes  # no refresh was lost or retried with a dead token
    assert all(r["used"] > 50 for r in results)  # both processes really took part
