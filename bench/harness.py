"""What every benchmark needs: an embedded PostgreSQL, the QBO emulator in a separate process,
settings pointing at both, and a one-line description of the machine.

The emulator runs in its own process (multiprocessing "spawn") so its CPU does not share the
engine's GIL: on QBO the server's work is someone else's machine.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import psycopg

from qbo_ingest.settings import Settings


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    return (f"{os.cpu_count()} cores, {mem:.1f} GiB RAM, {platform.system()} {platform.machine()}, "
            f"python {sys.version.split()[0]}")


# ------------------------------------------------------------------------------------- PostgreSQL
@contextmanager
def postgres() -> Iterator[str]:
    """An embedded PostgreSQL in a temp dir (or `QBO_TEST_DATABASE_URL`); yields the server URL."""
    from qbo_ingest.local import postgres as embedded_db

    with embedded_db.temporary_server(prefix="qbo-bench-pg-") as url:
        yield url


def fresh_database(server_url: str, prefix: str = "bench") -> str:
    """A new empty database on the server; returns its connection string."""
    from qbo_ingest.local import postgres as embedded_db

    return embedded_db.create_database(server_url, prefix)


# -------------------------------------------------------------------------------------- emulator
@dataclass(frozen=True)
class EmulatorInfo:
    base_url: str
    token_url: str
    authorize_url: str
    revoke_url: str
    realm_id: str
    client_id: str
    client_secret: str
    refresh_token: str
    pid: int

    def env(self, dsn: str, *, refresh_token: str | None = None) -> dict[str, str]:
        return {
            "QBO_CLIENT_ID": self.client_id,
            "QBO_CLIENT_SECRET": self.client_secret,
            "QBO_REFRESH_TOKEN": refresh_token or self.refresh_token,
            "QBO_REALM_ID": self.realm_id,
            "QBO_ENTORNO": "sandbox",
            "QBO_API_BASE_URL": self.base_url,
            "QBO_TOKEN_URL": self.token_url,
            "QBO_AUTHORIZE_URL": self.authorize_url,
            "QBO_REVOKE_URL": self.revoke_url,
            "QBO_DATABASE_URL": dsn,
        }

    def settings(self, dsn: str) -> Settings:
        return Settings.load(env=self.env(dsn, refresh_token=self.new_refresh_token()), use_mage_secrets=False)

    def new_refresh_token(self) -> str:
        """A fresh refresh token (each fresh database's token store needs its own: tokens rotate)."""
        return str(httpx.get(f"{self.base_url}/admin/refresh-token", timeout=30).json()["refresh_token"])

    def counters(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.base_url}/admin/counters", timeout=30).json())

    def reset_counters(self) -> None:
        httpx.post(f"{self.base_url}/admin/reset-counters", timeout=30).raise_for_status()

    def truth_count(self, entity: str, start: str, end: str) -> int:
        r = httpx.get(f"{self.base_url}/admin/truth", params={"entity": entity, "start": start, "end": end},
                      timeout=300)
        r.raise_for_status()
        return int(r.json()["count"])

    def prerender(self, entity: str, start: str, end: str) -> int:
        """Render the records of [start, end) now (an emulator started with render_cache=True): serving
        them later costs the emulator no rendering, as QBO's servers cost this machine nothing."""
        r = httpx.post(f"{self.base_url}/admin/prerender", params={"entity": entity, "start": start, "end": end},
                       timeout=900)
        r.raise_for_status()
        return int(r.json()["rendered"])

    def cpu_seconds(self) -> float:
        t = psutil.Process(self.pid).cpu_times()
        return float(t.user + t.system)


def _serve(conn: Any, config: dict[str, Any]) -> None:
    from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

    emu = Emulator(EmulatorConfig(**config))
    srv = serve_in_thread(emu)
    cfg = emu.cfg
    conn.send(EmulatorInfo(srv.base_url, srv.token_url, srv.authorize_url, srv.revoke_url, cfg.realm_id,
                           cfg.client_id, cfg.client_secret, emu.issue_refresh_token(), os.getpid()))
    conn.recv()  # wait for "stop"
    srv.stop()


@contextmanager
def emulator_process(**config: Any) -> Iterator[EmulatorInfo]:
    """The emulator (`EmulatorConfig(**config)`) served from a separate process on 127.0.0.1."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, config), daemon=True)
    proc.start()
    try:
        info = parent.recv()
        yield info
    finally:
        with suppress(OSError):
            parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)


def day_counts(start: str, end: str, **config: Any) -> dict[str, int]:
    """Records per day the emulator's volume model gives (before edits move some of them)."""
    from datetime import date, timedelta

    from qbo_ingest.local.emulator.config import EmulatorConfig, Volumes

    entity = config.pop("entity")
    vol = Volumes(EmulatorConfig(**config))
    d, last = date.fromisoformat(start), date.fromisoformat(end)
    out: dict[str, int] = {}
    while d <= last:
        out[d.isoformat()] = vol.count(entity, vol.index(d))
        d += timedelta(days=1)
    return out


# ------------------------------------------------------------------------------------------- CPU
def postmaster_pid(dsn: str) -> int:
    """The PID of the PostgreSQL server behind `dsn` (the parent of our backend)."""
    with psycopg.connect(dsn) as conn:  # the backend is asked while it lives (it exits with the connection)
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        parent = psutil.Process(int(row[0])).parent()
    assert parent is not None
    return int(parent.pid)


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live children and the children it has reaped."""
    p = psutil.Process(pid)
    t = p.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for c in p.children(recursive=True):
        try:
            ct = c.cpu_times()
            total += ct.user + ct.system
        except psutil.NoSuchProcess:
            continue
    return float(total)


def busy_cpu() -> float:
    """CPU seconds the whole machine spent not idle (every process, ours and others)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


class CpuMeter:
    """CPU seconds between start() and stop() of: this process, the emulator, PostgreSQL, the machine."""

    def __init__(self, *, emulator_pid: int | None = None, pg_dsn: str | None = None) -> None:
        self.pids = {"engine": os.getpid()}
        if emulator_pid:
            self.pids["emulator"] = emulator_pid
        if pg_dsn:
            self.pids["postgres"] = postmaster_pid(pg_dsn)
        self.used: dict[str, float] = {}
        self._t0: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        # The engine is this process alone (the emulator and the embedded server are its children).
        me = psutil.Process().cpu_times()
        out = {name: tree_cpu(pid) for name, pid in self.pids.items() if name != "engine"}
        out["engine"] = me.user + me.system
        out["machine"] = busy_cpu()
        out["wall"] = time.monotonic()
        return out

    def start(self) -> None:
        self._t0 = self._now()

    def stop(self) -> dict[str, float]:
        t1 = self._now()
        self.used = {k: t1[k] - self._t0[k] for k in t1}
        ours = sum(v for k, v in self.used.items() if k not in ("machine", "wall"))
        self.used["others"] = max(0.0, self.used["machine"] - ours)
        return self.used

    def line(self) -> str:
        u = self.used
        parts = [f"{k} {u[k]:.1f}" for k in ("engine", "emulator", "postgres") if k in u]
        cap = (os.cpu_count() or 1) * u["wall"]
        return (f"CPU seconds: {', '.join(parts)}; other processes on the machine {u['others']:.1f}; "
                f"machine busy {u['machine']:.1f} of {cap:.0f} ({u['machine'] / cap:.0%})")
