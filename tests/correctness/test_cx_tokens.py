"""Items 6 and 14 of issue 13, through the CLI as the loader: a database blip between Intuit's answer to
a rotating refresh and the commit does not lose the new refresh token (6); with `log_statement=all` the
server log holds no token, because tokens are stored sealed (14)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from cx_support import stack
from psycopg.conninfo import conninfo_to_dict

from qbo_ingest.local.emulator import RotationPolicy
from qbo_ingest.source.auth.token_store import PostgresTokenStore

B = ["backfill", "Invoice", "--fecha-inicio", "2025-03-10", "--fecha-fin", "2025-03-11", "--no-progress"]


def test_a_database_blip_during_rotation_keeps_the_new_token_and_no_token_reaches_the_log(pg_url: str) -> None:
    log_file = Path(str(conninfo_to_dict(pg_url).get("host") or "")) / "log"
    if not log_file.is_file():
        pytest.skip("needs the embedded server's log file (QBO_TEST_DATABASE_URL names another server)")
    # rotation on every refresh, the old token dead at once: the harshest policy Intuit may apply
    with stack(pg_url, rotation=RotationPolicy(every_n=1, every_seconds=None, grace_seconds=0)) as st:
        with st.admin() as admin:
            admin.execute(f'ALTER ROLE "{st.loader}" SET log_statement = \'all\'')
        env = st.env()  # one seed for both runs, as a scheduled job has
        seed = env["QBO_REFRESH_TOKEN"]
        st.emu.faults.add("slow", on="token", count=1, seconds=3.0)  # Intuit answers after 3 s ...
        log_start = log_file.stat().st_size
        proc = subprocess.Popen([sys.executable, "-m", "qbo_ingest", *B], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        killed = 0
        deadline = time.monotonic() + 20
        with st.admin() as admin:
            while not killed and time.monotonic() < deadline:  # ... and meanwhile the database drops us
                row = admin.execute(
                    "SELECT pg_terminate_backend(a.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND a.usename = %s", (st.loader,)).fetchall()
                killed = len(row)
                time.sleep(0.05)
        out, err = proc.communicate(timeout=180)
        assert killed == 1
        assert proc.returncode == 0, out + err
        assert "storing it again" in err
        with st.admin() as admin:  # the next run must refresh with the stored (rotated) refresh token
            admin.execute("UPDATE qbo_ingest.oauth_tokens SET access_expires_at = now() - interval '1 hour'")
        again = subprocess.run([sys.executable, "-m", "qbo_ingest", *B], env=env, capture_output=True, text=True,
                               timeout=180)
        assert again.returncode == 0, again.stdout + again.stderr  # no invalid_grant: the new token was kept

        store = PostgresTokenStore(st.loader_dsn, key_material=st.emu.cfg.client_secret)
        row = store.get(st.emu.cfg.realm_id, st.emu.cfg.client_id)
        assert row is not None and row.refresh_token and row.access_token and row.rotations >= 2
        with st.admin() as admin:
            sealed = admin.execute("SELECT refresh_token, access_token FROM qbo_ingest.oauth_tokens").fetchone()
        assert sealed is not None and all(str(v).startswith("fernet1:") for v in sealed)
        with log_file.open("rb") as f:
            f.seek(log_start)
            server_log = f.read().decode("utf-8", "replace")
        assert "qbo_ingest.oauth_tokens" in server_log  # the statements were logged ...
        for token in (seed, row.refresh_token, row.access_token):  # ... and no token with them
            assert token not in server_log
