"""Run the emulator with uvicorn: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from qbo_ingest.local.emulator.app import TRANSPORTS, build_app
from qbo_ingest.local.emulator.config import EmulatorConfig
from qbo_ingest.local.emulator.core import Emulator


class _Protocol(H11Protocol):
    """h11 protocol that records its transport so a `reset` fault can abort the connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.client and self.server:
            TRANSPORTS[(self.client[0], self.client[1], int(self.server[1] or 0))] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client and self.server:
            TRANSPORTS.pop((self.client[0], self.client[1], int(self.server[1] or 0)), None)
        super().connection_lost(exc)


class RunningServer:
    """A live emulator server; use as a context manager (`with serve_in_thread(emu) as srv`)."""

    def __init__(self, emu: Emulator, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> None:
        self.emulator = emu
        self.host = host
        # proto=IPPROTO_TCP matters: asyncio only turns Nagle off (TCP_NODELAY) for such sockets,
        # and without it every small response waits ~40 ms for a delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(build_app(emu), log_level=log_level, access_log=False, http=_Protocol,
                                lifespan="off", timeout_keep_alive=30, ws="none", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """API base: data paths are `{base_url}/v3/company/{realm}/...`."""
        return f"http://{self.host}:{self.port}"

    def client_env(self, dsn: str | None = None) -> dict[str, str]:
        """The spec's variables for a client of this emulator (a fresh refresh token each call):
        what the demo, the tests and the benchmarks give Settings.load or a CLI subprocess."""
        cfg = self.emulator.cfg
        env = {
            "QBO_CLIENT_ID": cfg.client_id,
            "QBO_CLIENT_SECRET": cfg.client_secret,
            "QBO_REFRESH_TOKEN": self.emulator.issue_refresh_token(),
            "QBO_REALM_ID": cfg.realm_id,
            "QBO_ENTORNO": "sandbox",
            "QBO_API_BASE_URL": self.base_url,
            "QBO_TOKEN_URL": self.token_url,
            "QBO_AUTHORIZE_URL": self.authorize_url,
            "QBO_REVOKE_URL": self.revoke_url,
        }
        if dsn is not None:
            env["QBO_DATABASE_URL"] = dsn
        return env

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth2/v1/tokens/bearer"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/connect/oauth2"

    @property
    def revoke_url(self) -> str:
        return f"{self.base_url}/v2/oauth2/tokens/revoke"

    @property
    def admin_url(self) -> str:
        return f"{self.base_url}/admin"

    def start(self) -> RunningServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"qbo-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the QBO emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> RunningServer:
        return self if self._thread is not None else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer(base_url={self.base_url!r})"


def serve_in_thread(emu: Emulator, *, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start uvicorn on a free loopback port in a daemon thread; stops when the `with` block ends."""
    return RunningServer(emu, host, port).start()


def serve_forever(host: str = "127.0.0.1", port: int = 8765, seed: int = 1, profile: str = "demo",
                  *, config: EmulatorConfig | None = None, faults: Sequence[str] = (), **options: Any) -> None:
    """Foreground server for `qbo-ingest emulator`: prints what a client needs to connect. `config` wins
    over seed/profile/options; `faults` are specs for `Faults.add_spec` (e.g. `429@query:3,7`)."""
    emu = Emulator(config or EmulatorConfig(seed=seed, profile=profile, **options))
    for spec in faults:
        emu.faults.add_spec(spec)
    srv = RunningServer(emu, host, port, log_level="info")
    cfg = emu.cfg
    pol = cfg.rotation
    print(f"QBO emulator listening on {srv.base_url}  (profile={cfg.profile}, seed={cfg.seed}, "
          f"data {cfg.data_start}..{cfg.data_end})")
    print(f"  tokens         : access {cfg.access_ttl} s; refresh rotates every_n={pol.every_n} "
          f"every_seconds={pol.every_seconds} grace={pol.grace_seconds} s")
    print(f"  limits         : throttle {'on' if cfg.throttle else 'off'}, latency {cfg.latency_ms} ms "
          f"(+{cfg.jitter_ms} jitter), faults {len(emu.faults.list())}")
    print(f"  API base URL   : {srv.base_url}")
    print(f"  token URL      : {srv.token_url}")
    print(f"  authorize URL  : {srv.authorize_url}")
    print(f"  realm id       : {cfg.realm_id}")
    print(f"  client id      : {cfg.client_id}")
    print(f"  client secret  : {cfg.client_secret}")
    print(f"  refresh token  : {emu.issue_refresh_token()}")
    print(f"  admin          : {srv.admin_url}/counters, {srv.admin_url}/refresh-token")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        srv._server.run(sockets=[srv._sock])
    finally:
        srv._sock.close()
