"""A small in-process QBO for MockTransport unit tests: token endpoint with rotation, query with faults.

Integration tests use the real emulator (`qbo_ingest.local.emulator`) over HTTP; this fake keeps the unit
tests independent of it and lets a test script exact responses.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import httpx

from qbo_ingest.records import parse_qbo_time
from qbo_ingest.settings import Settings

REALM = "9341453000000001"
CLIENT_ID = "unit-client-id"
CLIENT_SECRET = "CANARY-client-secret-5f1e"
BASE = "https://qbo.test"
TOKEN_URL = "https://oauth.test/oauth2/v1/tokens/bearer"

Responder = Callable[[httpx.Request], httpx.Response]


def settings(**extra: str) -> Settings:
    env = {
        "QBO_CLIENT_ID": CLIENT_ID,
        "QBO_CLIENT_SECRET": CLIENT_SECRET,
        "QBO_REALM_ID": REALM,
        "QBO_ENTORNO": "sandbox",
        "QBO_API_BASE_URL": BASE,
        "QBO_TOKEN_URL": TOKEN_URL,
        "QBO_AUTHORIZE_URL": "https://auth.test/connect/oauth2",
        "QBO_DATABASE_URL": "postgresql://u:CANARY-pg-password@127.0.0.1:1/db",
    }
    env.update(extra)
    return Settings.load(env=env, use_mage_secrets=False)


class FakeTime:
    """Monotonic and wall clocks that only move when `sleep` is called."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def fault(status: int, ftype: str, message: str, code: str, *, lower: bool = False) -> dict:
    if lower:
        return {"fault": {"error": [{"message": message, "detail": message, "code": code}], "type": ftype}}
    return {"Fault": {"Error": [{"Message": message, "Detail": message, "code": code}], "type": ftype}}


THROTTLE = fault(429, "SERVICE", "message=ThrottleExceeded; errorCode=003001; statusCode=429", "3001")
AUTH_401 = fault(401, "AUTHENTICATION", "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                 "3200", lower=True)


class FakeQbo:
    """Thread-safe fake of Intuit's token endpoint and the query endpoint.

    Refresh tokens rotate on every refresh and the old one dies at once (the strictest policy).
    `script` holds responses for the next query requests (status, body, headers); after it is used up,
    queries are answered from `records` (a list of QBO objects) by a tiny evaluator of the statements
    `QboClient` sends.
    """

    def __init__(self, records: list[dict] | None = None) -> None:
        self.lock = threading.Lock()
        self._n = itertools.count(1)
        self.valid_refresh = {f"CANARY-refresh-{next(self._n)}"}
        self.first_refresh = next(iter(self.valid_refresh))
        self.valid_access: set[str] = set()
        self.script: list[tuple[int, object, dict[str, str]]] = []
        self.records = records or []
        self.statements: list[str] = []
        self.params: list[dict[str, str]] = []
        self.token_calls = 0
        self.invalid_grants = 0
        self.on_page: Callable[[FakeQbo], None] | None = None
        self.access_ttl = 3600
        self.api_requests = 0
        self.revoke_at: set[int] = set()  # API request numbers before which every access token dies

    # -- transport -----------------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        tid = f"tid-{next(self._n)}"
        if str(request.url).startswith(TOKEN_URL):
            return self._token(request, tid)
        return self._api(request, tid)

    def _token(self, request: httpx.Request, tid: str) -> httpx.Response:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return httpx.Response(401, json={"error": "invalid_client"}, headers={"intuit_tid": tid})
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        with self.lock:
            self.token_calls += 1
            rt = form.get("refresh_token", "")
            if form.get("grant_type") != "refresh_token" or rt not in self.valid_refresh:
                self.invalid_grants += 1
                return httpx.Response(400, json={"error": "invalid_grant", "error_description": "Token invalid"},
                                      headers={"intuit_tid": tid})
            self.valid_refresh = {f"CANARY-refresh-{next(self._n)}"}
            access = f"CANARY-access-{next(self._n)}"
            self.valid_access.add(access)
            new_rt = next(iter(self.valid_refresh))
        return httpx.Response(200, json={
            "access_token": access, "refresh_token": new_rt, "token_type": "bearer",
            "expires_in": self.access_ttl, "x_refresh_token_expires_in": 8726400,
        }, headers={"intuit_tid": tid})

    def revoke_access(self) -> None:
        with self.lock:
            self.valid_access.clear()

    def _api(self, request: httpx.Request, tid: str) -> httpx.Response:
        params = dict(request.url.params)
        with self.lock:
            self.params.append(params)
            if "query" in params:
                self.statements.append(params["query"])
            self.api_requests += 1
            if self.api_requests in self.revoke_at:
                self.valid_access.clear()
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in self.valid_access:
                return httpx.Response(401, json=AUTH_401, headers={"intuit_tid": tid})
            if self.script:
                status, body, headers = self.script.pop(0)
                if isinstance(body, Exception):
                    raise body
                content = body if isinstance(body, bytes) else json.dumps(body).encode()
                return httpx.Response(status, content=content, headers={"intuit_tid": tid, **headers})
        with self.lock:
            resp = httpx.Response(200, json=self._answer(params.get("query", "")), headers={"intuit_tid": tid})
            if self.on_page is not None:  # an edit in QBO right after this page was served
                hook, self.on_page = self.on_page, None
                hook(self)
        return resp

    # -- a tiny query evaluator ----------------------------------------------------------------------
    def _answer(self, stmt: str) -> dict:
        m = re.match(r"SELECT (\*|COUNT\(\*\)) FROM (\w+) WHERE (.*?)( ORDERBY .*)?$", stmt)
        assert m, stmt
        where, tail = m.group(3), m.group(4) or ""
        lo = parse_qbo_time(re.search(r"LastUpdatedTime >= '([^']+)'", where).group(1))  # type: ignore[union-attr]
        hi = parse_qbo_time(re.search(r"LastUpdatedTime < '([^']+)'", where).group(1))  # type: ignore[union-attr]
        rows = sorted(
            (r for r in self.records if lo <= parse_qbo_time(r["MetaData"]["LastUpdatedTime"]) < hi),
            key=lambda r: (parse_qbo_time(r["MetaData"]["LastUpdatedTime"]), int(r["Id"])),
        )
        if m.group(1) != "*":
            return {"QueryResponse": {"totalCount": len(rows)}}
        pos = int(re.search(r"STARTPOSITION (\d+)", tail).group(1)) if "STARTPOSITION" in tail else 1  # type: ignore[union-attr]
        size = int(re.search(r"MAXRESULTS (\d+)", tail).group(1)) if "MAXRESULTS" in tail else 100  # type: ignore[union-attr]
        page = rows[pos - 1: pos - 1 + size]
        if not page:
            return {"QueryResponse": {}, "time": "2026-11-27T10:00:00-08:00"}
        return {"QueryResponse": {m.group(2): page, "startPosition": pos, "maxResults": len(page)}}

    def touch(self, ids: list[str], at: datetime) -> None:
        """Move records' LastUpdatedTime (an edit in QBO)."""
        stamp = at.astimezone(timezone(timedelta(hours=-8))).isoformat()
        for r in self.records:
            if r["Id"] in ids:
                r["MetaData"]["LastUpdatedTime"] = stamp


def make_records(n: int, start: datetime, step_s: float, *, same_second_every: int = 1) -> list[dict]:
    """n invoices from `start`, LastUpdatedTime advancing `step_s` per `same_second_every` records."""
    pst = timezone(timedelta(hours=-8))
    out = []
    for i in range(n):
        at = start + timedelta(seconds=step_s * (i // same_second_every))
        out.append({"Id": str(i + 1), "MetaData": {"LastUpdatedTime": at.astimezone(pst).isoformat()}})
    return out


def serve_http(fake: FakeQbo) -> tuple[str, str, Callable[[], None]]:
    """Serve the fake over real HTTP on 127.0.0.1 (for tests with several processes).

    Returns (api base URL, token URL, stop)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _do(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            target = TOKEN_URL if self.path.startswith("/oauth2/") else BASE + self.path
            req = httpx.Request(self.command, target, headers=dict(self.headers.items()), content=body)
            try:
                resp = fake.handle(req)
                resp.read()
                status, content, headers = resp.status_code, resp.content, resp.headers
            except httpx.HTTPError:
                self.close_connection = True
                return
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _do

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/oauth2/v1/tokens/bearer", stop
