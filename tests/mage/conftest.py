"""Fixtures for the Mage tests: a copy of the project, the emulator over HTTP, and the runner subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "mage"
RUNNER = Path(__file__).with_name("mage_runner.py")


def mage_installed() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("mage_ai") is not None
    except Exception:
        return False


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The committed Mage project copied to a temp dir (runs rewrite triggers.yaml and add caches)."""
    dst = tmp_path / "mage"
    shutil.copytree(PROJECT, dst, ignore=shutil.ignore_patterns("__pycache__", "mage_data", ".variables"))
    return dst


@dataclass
class QboEnv:
    emu: Any
    env: dict[str, str]


@pytest.fixture
def qbo_env(pg_url: str) -> Iterator[QboEnv]:
    """A sparse emulator served on 127.0.0.1 and the environment a Mage block reads its settings from."""
    from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

    emu = Emulator(EmulatorConfig(seed=3, profile="sparse"))
    with serve_in_thread(emu) as srv:
        env = srv.client_env(pg_url)
        yield QboEnv(emu, env)


@pytest.fixture
def loader_env(qbo_env: QboEnv, pg_url: str) -> Iterator[dict[str, str]]:
    """The compose environment Mage runs with: the database set up by `qbo-ingest db init` (as the
    admin), then QBO settings plus the least-privilege loader role's connection string."""
    import uuid

    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    suffix = uuid.uuid4().hex[:8]
    loader, analyst = f"qbo_loader_{suffix}", f"qbo_analyst_{suffix}"
    cli = Path(sys.executable).with_name("qbo-ingest")
    proc = subprocess.run([str(cli), "db", "init", "--loader-role", loader, "--analyst-role", analyst],
                          env=child_env({"QBO_DATABASE_URL": pg_url}), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    params = conninfo_to_dict(pg_url)
    params["user"] = loader
    params.pop("password", None)
    yield {**qbo_env.env, "QBO_DATABASE_URL": make_conninfo(**params)}  # type: ignore[arg-type]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for name in (loader, analyst):
            admin.execute(f'DROP OWNED BY "{name}"')
            admin.execute(f'DROP ROLE "{name}"')


def child_env(env: dict[str, str], drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment without QBO/Postgres/Mage settings, plus `env`, with src/ importable."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "POSTGRES_", "MAGE_")) and k not in drop}
    full.update({k: v for k, v in env.items() if k not in drop})
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), full.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return full


def run_mage(project: Path, data_dir: Path, *, env: dict[str, str], pipeline: str = "qb_invoices_backfill",
             variables: dict[str, Any] | None = None, once_trigger: bool = False,
             retry_incomplete: int | None = None, fast_sleep: bool = True,
             secrets: dict[str, str] | None = None, drop_env: tuple[str, ...] = (),
             timeout: float = 300) -> dict[str, Any]:
    """Run tests/mage/mage_runner.py in a subprocess and return its JSON result."""
    data_dir.mkdir(parents=True, exist_ok=True)
    out = data_dir / f"result-{retry_incomplete or 'first'}.json"
    cmd = [sys.executable, str(RUNNER), "--project", str(project), "--data-dir", str(data_dir),
           "--pipeline", pipeline, "--vars", json.dumps(variables or {}), "--out", str(out),
           "--secrets", json.dumps(secrets or {})]
    if once_trigger:
        cmd.append("--once-trigger")
    if retry_incomplete is not None:
        cmd += ["--retry-incomplete", str(retry_incomplete)]
    if fast_sleep:
        cmd.append("--fast-sleep")
    full_env = child_env(env, drop_env)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=full_env, cwd=str(data_dir), capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    if proc.returncode != 0 or not out.is_file():
        raise AssertionError(f"mage runner failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    result["wall_seconds"] = round(wall, 3)
    result["stdout"] = proc.stdout
    result["stderr"] = proc.stderr
    return result


@pytest.fixture
def mage_run() -> Any:
    """`mage_run(project, data_dir, env=..., ...)`: one headless Mage pipeline run in a subprocess."""
    if not mage_installed():
        pytest.skip("mage-ai is not installed in this environment (scripts/test installs it)")
    return run_mage


@pytest.fixture
def subprocess_env() -> Any:
    """`subprocess_env(env)`: an environment for a child process with exactly these QBO settings."""
    return child_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def start_mage_server(project: Path, data_dir: Path, tmp_path: Path,
                      env: dict[str, str] | None = None, *, login: bool = False,
                      trigger_interval: float = 2) -> Iterator[str]:
    """`mage start` (web server + scheduler) on a free loopback port; yields its base URL. `login`: Mage's
    user authentication on (as in compose; the owner is admin@admin.com / admin on a fresh database)."""
    port = free_port()
    mage_env = {"MAGE_DATA_DIR": str(data_dir), "MAGE_DATABASE_CONNECTION_URL": f"sqlite:///{data_dir}/mage.db",
                "REQUIRE_USER_AUTHENTICATION": "1" if login else "0",
                "SCHEDULER_TRIGGER_INTERVAL": str(trigger_interval), **(env or {})}
    mage = Path(sys.executable).with_name("mage")
    log = (tmp_path / "mage-server.log").open("w")
    proc = subprocess.Popen([str(mage), "start", str(project), "--host", "127.0.0.1", "--port", str(port)],
                            env=child_env(mage_env), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=5) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("mage start did not come up:\n"
                                     + (tmp_path / "mage-server.log").read_text()[-4000:])
            time.sleep(1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the scheduler it started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture
def mage_server() -> Any:
    """`with mage_server(project, data_dir, tmp_path, env) as base_url:` the real `mage start`."""
    if not mage_installed():
        pytest.skip("mage-ai is not installed in this environment (scripts/test installs it)")
    return start_mage_server
