"""Helpers of the correctness suite (issue 13): an emulator over HTTP on 127.0.0.1, a warehouse made by
`qbo-ingest db init` as the admin, and the CLI run as a subprocess as the least-privilege loader that
Mage and a scheduled job use."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

ROOT = Path(__file__).resolve().parents[2]


def as_user(url: str, user: str) -> str:
    params = conninfo_to_dict(url)
    params["user"] = user
    params.pop("password", None)
    return make_conninfo(**params)  # type: ignore[arg-type]


def base_env(**over: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "POSTGRES_"))}
    env.update({"PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"})
    env.update(over)
    return {k: v for k, v in env.items() if v != "<unset>"}


def run_cli(args: list[str], env: dict[str, str], *, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qbo_ingest", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


@dataclass
class Stack:
    """An emulator, an admin DSN, a loader role made by `db init`, and the loader's CLI environment."""

    emu: Emulator
    srv: Any
    admin_dsn: str
    loader: str
    analyst: str
    loader_dsn: str
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, **over: str) -> dict[str, str]:
        """The CLI environment of the loader (a fresh emulator refresh token each call)."""
        return base_env(**{**self.srv.client_env(self.loader_dsn), **self.extra_env, **over})

    def cli(self, *args: str, timeout: float = 180, **over: str) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), self.env(**over), timeout=timeout)

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_dsn, autocommit=True)


def db_init(admin_dsn: str, loader: str, analyst: str, **over: str) -> subprocess.CompletedProcess[str]:
    env = base_env(QBO_DATABASE_URL=admin_dsn, **over)
    return run_cli(["db", "init", "--loader-role", loader, "--analyst-role", analyst], env)


def drop_roles(admin_dsn: str, *names: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        for name in names:
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                admin.execute(f'DROP OWNED BY "{name}"')
                admin.execute(f'DROP ROLE "{name}"')


@contextmanager
def stack(pg_url: str, **cfg: Any) -> Iterator[Stack]:
    suffix = uuid.uuid4().hex[:8]
    loader, analyst = f"cx_loader_{suffix}", f"cx_analyst_{suffix}"
    out = db_init(pg_url, loader, analyst)
    assert out.returncode == 0, out.stdout + out.stderr
    cfg.setdefault("seed", 13)
    cfg.setdefault("profile", "sparse")
    with ExitStack() as es:
        es.callback(drop_roles, pg_url, loader, analyst)
        emu = Emulator(EmulatorConfig(**cfg))
        srv = es.enter_context(serve_in_thread(emu))
        yield Stack(emu, srv, pg_url, loader, analyst, as_user(pg_url, loader))
