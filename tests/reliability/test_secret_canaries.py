"""Secret canaries: a unique client secret, every refresh and access token the emulator issued, and a
database password are run through failing runs (faults, retries, 401 renewals, invalid_client,
invalid_grant, an unreachable database, an unexpected traceback, JSON and DEBUG logs, Mage block logs).
None of them may appear in any output, log, error column, or in the `raw` schema."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from rel_support import EMU_NOW, ROOT, cli, cli_env

from qbo_ingest.local.emulator import Emulator, EmulatorConfig, RotationPolicy, serve_in_thread

MAGE_RUNNER = ROOT / "tests" / "mage" / "mage_runner.py"
# An unexpected exception deep in a run, with secrets in the frames' locals (Engine.dsn, conninfo ...)
TRACEBACK_MAIN = (
    "import sys; from qbo_ingest.pipeline import engine as b; "
    "orig = b.Engine.load_plan\n"
    "def boom(self, plan, **kw):\n"
    "    dsn = self.dsn; token = self.client._access.value  # secrets in locals\n"
    "    raise RuntimeError('unexpected failure in load_plan')\n"
    "b.Engine.load_plan = boom\n"
    "from qbo_ingest.apps.cli.main import main; sys.argv[0] = 'qbo-ingest'; main()"
)


def _emulator(secret: str) -> tuple[Emulator, list[str]]:
    """An emulator that records every access token it issues (refresh tokens it keeps itself)."""
    # rotation on every refresh: every run writes a new refresh token, the harshest case for leaks
    emu = Emulator(EmulatorConfig(seed=41, profile="sparse", throttle=False, clock=lambda: EMU_NOW,
                                  client_secret=secret,
                                  rotation=RotationPolicy(every_n=1, every_seconds=None, grace_seconds=0)))
    issued: list[str] = []
    orig = emu.oauth._access_for

    def record(chain: Any) -> str:
        tok = orig(chain)
        issued.append(tok)
        return tok

    emu.oauth._access_for = record  # type: ignore[method-assign]
    return emu, issued


def _role_dsn(pg_url: str, password: str) -> str:
    """A login role with a password (the canary) that owns the test database."""
    role = "canary_" + uuid.uuid4().hex[:8]
    dbname = conninfo_to_dict(pg_url)["dbname"]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        conn.execute(f'ALTER DATABASE "{dbname}" OWNER TO "{role}"')
    params = conninfo_to_dict(pg_url)
    params.update(user=role, password=password)
    return make_conninfo(**params)  # type: ignore[arg-type]


def _stored_text(pg_url: str) -> str:
    """Every payload in every raw table, and every error text the state tables keep, as one string."""
    parts: list[str] = []
    with psycopg.connect(pg_url) as conn:
        for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'raw'").fetchall():
            parts += [r[0] for r in conn.execute(f'SELECT payload::text FROM raw."{t}"').fetchall()]
            parts += [str(r) for r in conn.execute(f'SELECT * FROM raw."{t}" LIMIT 50').fetchall()]
        parts += [str(r) for r in conn.execute("SELECT * FROM qbo_ingest.ledger").fetchall()]
        parts += [str(r) for r in conn.execute("SELECT * FROM qbo_ingest.runs").fetchall()]
    return "\n".join(parts)


def _leaks(text: str, canaries: dict[str, list[str]]) -> dict[str, int]:
    return {name: n for name, values in canaries.items() if (n := sum(v in text for v in values))}


def test_no_secret_in_any_output_log_error_or_raw_row(pg_url, tmp_path: Path):
    secret = "cs-canary-" + uuid.uuid4().hex
    password = "pw-canary-" + uuid.uuid4().hex[:16]
    emu, access_tokens = _emulator(secret)
    dsn = _role_dsn(pg_url, password)
    outputs: dict[str, str] = {}
    t0 = time.monotonic()
    bf = ["backfill", "Invoice", "Customer", "--fecha-inicio", "2024-06-01", "--fecha-fin", "2024-06-10",
          "--no-progress"]
    with serve_in_thread(emu) as srv:
        env = cli_env(emu, srv, dsn, QBO_RETRY_BASE_SECONDS="0.01")
        seed = env["QBO_REFRESH_TOKEN"]

        def run(label: str, args: list[str], **over: str) -> subprocess.CompletedProcess[str]:
            res = subprocess.run(args, env={**env, **over}, capture_output=True, text=True, timeout=180)
            outputs[label] = res.stdout + "\n" + res.stderr
            return res

        # 1. faults of every kind, 401 renewals (revoke_access), retries exhausted for some windows; JSON + DEBUG logs
        for n, kind in enumerate(("revoke_access", "500", "429", "truncated", "fault200", "reset"), 1):
            emu.faults.add(kind, on="query", at_requests=[n])
        emu.faults.add("500", on="query", at_requests=list(range(8, 40)))  # a window exhausts its retries
        first = run("faulty-backfill-json", cli("--log-format", "json", "--log-level", "DEBUG", *bf))
        emu.faults.clear()
        run("status", cli("status", "Invoice", "--days"))
        retried = run("retry-failed", cli("retry-failed"))
        run("reconcile", cli("reconcile", "Invoice", "--from", "2024-06-01", "--to", "2024-06-10"))
        # 2. credentials refused: a wrong client secret, then a refresh token rotated away (invalid_grant)
        # (the stored access tokens are revoked first, so the runs must go to the token endpoint)
        emu.revoke_all_access_tokens()
        run("invalid-client", cli(*bf), QBO_CLIENT_SECRET="wrong-" + secret)
        emu.revoke_all_access_tokens()
        run("invalid-grant", cli(*bf), QBO_REFRESH_TOKEN=seed + "x")
        # 3. the database unreachable, with the password in the URL
        bad_db = make_conninfo(**{**conninfo_to_dict(dsn), "host": "127.0.0.1", "port": "1"})  # type: ignore[arg-type]
        run("db-unreachable", cli(*bf), QBO_DATABASE_URL=bad_db)
        # 4. an unexpected exception: one `internal error` line, and the full traceback under --debug
        one_line = run("internal-error", [sys.executable, "-c", TRACEBACK_MAIN, *bf])
        tb = run("traceback", [sys.executable, "-c", TRACEBACK_MAIN, "--debug", *bf])
        # refresh tokens: every one the emulator issued (the seed and each rotation)
        refresh_tokens = list(emu.oauth._refresh)
    print(f"\nfirst run exit {first.returncode}, retry-failed exit {retried.returncode}, traceback run exit "
          f"{tb.returncode}; {len(refresh_tokens)} refresh and {len(access_tokens)} access tokens issued; "
          f"{sum(len(v) for v in outputs.values())} characters of output; {time.monotonic() - t0:.1f}s")
    assert "Traceback" in outputs["traceback"] and "unexpected failure in load_plan" in outputs["traceback"]
    assert one_line.returncode == 70 and "Traceback" not in outputs["internal-error"]
    assert "internal error: RuntimeError: unexpected failure in load_plan" in outputs["internal-error"]
    assert "invalid_client" in outputs["invalid-client"] and "invalid_grant" in outputs["invalid-grant"]
    assert '"level"' in outputs["faulty-backfill-json"]  # JSON log records were written
    assert "retry" in outputs["faulty-backfill-json"]  # retries were logged
    assert first.returncode == 1 and retried.returncode == 0  # a run with failed days, then their retry
    assert len(access_tokens) >= 2 and len(refresh_tokens) >= 2  # renewals and rotations really happened
    canaries = {"client secret": [secret], "db password": [password], "refresh token": refresh_tokens,
                "access token": access_tokens}
    leaks = {label: got for label, text in outputs.items() if (got := _leaks(text, canaries))}
    stored = _leaks(_stored_text(pg_url), canaries)
    print(f"leaks in outputs: {leaks or 0}; in raw/ledger/runs: {stored or 0}")
    assert leaks == {}
    assert stored == {}


def test_no_secret_in_mage_block_logs(pg_url, tmp_path: Path):
    """A Mage pipeline run where one day fails (retries exhausted): the block logs hold no secret."""
    import shutil

    secret = "cs-canary-mage-" + uuid.uuid4().hex
    password = "pw-canary-" + uuid.uuid4().hex[:16]
    emu, access_tokens = _emulator(secret)
    dsn = _role_dsn(pg_url, password)
    project = tmp_path / "mage"
    shutil.copytree(ROOT / "mage", project, ignore=shutil.ignore_patterns("__pycache__", "mage_data", ".variables"))
    data_dir = tmp_path / "mage_data"
    data_dir.mkdir()
    out = data_dir / "result.json"
    t0 = time.monotonic()
    with serve_in_thread(emu) as srv:
        env = cli_env(emu, srv, dsn)
        # every query fails: the planner's one stream exhausts its retries, so its days fail and the
        # children report them failed (the error paths are logged)
        emu.faults.add("500", on="query", at_requests=list(range(1, 400)))
        proc = subprocess.run(
            [sys.executable, str(MAGE_RUNNER), "--project", str(project), "--data-dir", str(data_dir),
             "--pipeline", "qb_invoices_backfill", "--vars",
             json.dumps({"fecha_inicio": "2024-06-01", "fecha_fin": "2024-06-03"}), "--out", str(out),
             "--secrets", "{}", "--once-trigger", "--fast-sleep"],
            env=env, cwd=str(data_dir), capture_output=True, text=True, timeout=400)
        refresh_tokens = list(emu.oauth._refresh)
    assert proc.returncode == 0 and out.is_file(), proc.stderr[-4000:]
    result = json.loads(out.read_text())
    texts = {"runner stdout/stderr": proc.stdout + proc.stderr, "result": out.read_text()}
    texts.update({f"block {b}": str(log) for b, log in (result.get("logs") or {}).items()})
    for path in [*data_dir.rglob("*"), *project.rglob("*.log")]:  # Mage's own log and variable files
        if path.is_file() and path.stat().st_size < 5_000_000:
            texts[str(path.relative_to(tmp_path))] = path.read_text(errors="replace")
    canaries = {"client secret": [secret], "db password": [password], "refresh token": refresh_tokens,
                "access token": access_tokens}
    leaks = {label: got for label, text in texts.items() if (got := _leaks(text, canaries))}
    failed = [b for b, s in result["block_runs"].items() if s == "failed"]
    print(f"\nMage run {result['status']}, failed blocks {failed}; {len(texts)} logs/files scanned, "
          f"{sum(len(t) for t in texts.values())} characters; leaks {leaks or 0}; {time.monotonic() - t0:.1f}s")
    assert result["status"] == "failed" and failed  # the run did fail, so error paths were logged
    assert any("failed" in str(log) for log in (result.get("logs") or {}).values())
    assert leaks == {}
    assert _leaks(_stored_text(pg_url), canaries) == {}
