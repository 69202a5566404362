"""What every emulated QBO endpoint does before its own work: count the request, wait the configured
latency, check the bearer token and realm, throttle, inject a scheduled fault, then run the work in a
worker thread. Also the `intuit_tid` header Intuit's gateway adds to every response."""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qbo_ingest.local.emulator import responses as R
from qbo_ingest.local.emulator.core import Emulator
from qbo_ingest.local.emulator.meter import METERED
from qbo_ingest.local.emulator.timefmt import pacific_ms

# Transports by client address, filled by the server's protocol class so a "reset" fault can abort
# the TCP connection (ASGI itself has no way to do that).
TRANSPORTS: dict[tuple[str, int, int], asyncio.Transport] = {}  # (client host, client port, server port)


async def _reset_connection(scope: Scope) -> None:
    """Abort the TCP connection with an RST (SO_LINGER 0), as a dropped upstream would."""
    client, server = scope.get("client"), scope.get("server")
    transport = TRANSPORTS.get((client[0], client[1], server[1])) if client and server else None
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    await asyncio.sleep(0.01)  # let the server see the connection is gone before anything is written


async def _trickle(data: bytes, seconds: float, pieces: int = 40) -> AsyncIterator[bytes]:
    step = max(1, -(-len(data) // pieces))
    for i in range(0, len(data), step):
        yield data[i:i + step]
        try:
            await asyncio.sleep(seconds / pieces)
        except asyncio.CancelledError:  # the client gave up
            return


def _tid() -> str:
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


class IntuitTid:
    """Adds a unique `intuit_tid` header to every response, as Intuit's gateway does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_tid(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"intuit_tid", _tid().encode())]
            await send(message)

        await self.app(scope, receive, send_with_tid)



class Gateway:
    """Shared by the route groups: one emulator, its config, and the guarded way to answer."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.cfg = emu.cfg

    def now_str(self) -> str:
        return pacific_ms(self.emu.now())

    async def latency(self) -> None:
        if self.cfg.latency_ms or self.cfg.jitter_ms:
            await asyncio.sleep((self.cfg.latency_ms + random.uniform(0, self.cfg.jitter_ms)) / 1000)

    def _gate(self, request: Request, kind: str, realm: str | None) -> Response | None:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if not self.emu.oauth.access_ok(token):
            return R.unauthorized(self.now_str())
        if realm != self.cfg.realm_id:
            return R.forbidden_realm(self.now_str(), str(realm), self.cfg.realm_id)
        if self.cfg.throttle and not self.emu.throttle.admit(self.cfg.realm_id, batch=kind == "batch"):
            self.emu.bump("throttled")
            return R.throttled(self.now_str(), self.cfg.retry_after)
        if kind in METERED and self.emu.meter.blocked():
            self.emu.bump("metered_blocked")
            return R.metered_cap(self.now_str(), self.cfg.monthly_call_cap or 0, self.emu.meter.resets_on())
        return None

    async def guarded(self, request: Request, kind: str, realm: str | None,
                      work: Callable[[], tuple[Any, int]]) -> Response:
        """Count, authenticate, throttle, inject faults, then run `work` in a worker thread.

        The gate (token, realm, throttle, monthly cap) is decided when the request arrives, before the
        simulated latency: QBO's throttle counts arrivals at its edge. Deciding it after the sleep counted
        requests by when this event loop woke up, and a busy loop woke several together - 429s the client's
        spacing had not caused (bench/README.md, dense throughput)."""
        numbers = self.emu.count_request(kind)
        refused = self._gate(request, kind, realm) if kind != "token" else None
        await self.latency()
        if refused is not None:
            return refused
        fault = self.emu.faults.pick(kind, numbers)
        if fault is not None:
            self.emu.bump("faults")
            k = fault.kind
            if k == "429":
                return R.throttled(self.now_str(), self.cfg.retry_after)
            if k in ("500", "502", "503"):
                return R.server_error(int(k), self.now_str())
            if k == "fault200":
                return R.fault_200(self.now_str())
            if k == "revoke_access":
                self.emu.revoke_all_access_tokens()
                return R.unauthorized(self.now_str(), "Token revoked")
            if k == "reset":
                await _reset_connection(request.scope)
                return Response(b"", status_code=502)  # written nowhere: the connection is gone
            if k == "slow":
                try:
                    await asyncio.sleep(fault.seconds)
                except asyncio.CancelledError:  # server shutting down while the client waits
                    return R.server_error(503, self.now_str())
        body, status = await run_in_threadpool(work)
        if kind in METERED and kind != "batch" and 200 <= status < 300:
            self.emu.meter.add()  # a batch counts its items itself
        if isinstance(body, Response):
            return body
        data = body if isinstance(body, bytes) else R.dumps(body)
        if fault is not None and fault.kind == "truncated":
            data = data[: max(1, len(data) // 2)]
        if fault is not None and fault.kind == "trickle":  # every read gets bytes, the whole body takes long
            return StreamingResponse(_trickle(data, fault.seconds), status_code=status,
                                     media_type="application/json")
        return Response(data, status_code=status, media_type="application/json")
