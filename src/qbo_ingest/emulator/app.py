"""HTTP routes of the emulator: the QBO data API, Intuit OAuth endpoints and a local `/admin/` API."""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qbo_ingest.emulator import responses as R
from qbo_ingest.emulator.core import Emulator
from qbo_ingest.emulator.oauth import OAuthError
from qbo_ingest.emulator.query import Query, QueryError, parse_instant
from qbo_ingest.emulator.records import Rec
from qbo_ingest.emulator.timefmt import pacific, pacific_ms
from qbo_ingest.entities import BY_NAME

CDC_MAX = 1000
CDC_DAYS = 30
BATCH_MAX = 30

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


def _tid() -> str:
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


class _IntuitTid:
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


def build_app(emu: Emulator) -> ASGIApp:
    cfg = emu.cfg

    def now_str() -> str:
        return pacific_ms(emu.now())

    async def latency() -> None:
        if cfg.latency_ms or cfg.jitter_ms:
            await asyncio.sleep((cfg.latency_ms + random.uniform(0, cfg.jitter_ms)) / 1000)

    async def guarded(request: Request, kind: str, realm: str | None,
                      work: Callable[[], tuple[Any, int]]) -> Response:
        """Count, authenticate, throttle, inject faults, then run `work` in a worker thread."""
        numbers = emu.count_request(kind)
        await latency()
        if kind != "token":
            auth = request.headers.get("authorization", "")
            token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
            if not emu.oauth.access_ok(token):
                return R.unauthorized(now_str())
            if realm != cfg.realm_id:
                return R.forbidden_realm(now_str(), str(realm), cfg.realm_id)
            if cfg.throttle and not emu.throttle.admit(cfg.realm_id, batch=kind == "batch"):
                emu.bump("throttled")
                return R.throttled(now_str(), cfg.retry_after)
        fault = emu.faults.pick(kind, numbers)
        if fault is not None:
            emu.bump("faults")
            k = fault.kind
            if k == "429":
                return R.throttled(now_str(), cfg.retry_after)
            if k in ("500", "502", "503"):
                return R.server_error(int(k), now_str())
            if k == "fault200":
                return R.fault_200(now_str())
            if k == "revoke_access":
                emu.revoke_all_access_tokens()
                return R.unauthorized(now_str(), "Token revoked")
            if k == "reset":
                await _reset_connection(request.scope)
                return Response(b"", status_code=502)  # written nowhere: the connection is gone
            if k == "slow":
                try:
                    await asyncio.sleep(fault.seconds)
                except asyncio.CancelledError:  # server shutting down while the client waits
                    return R.server_error(503, now_str())
        body, status = await run_in_threadpool(work)
        if isinstance(body, Response):
            return body
        data = body if isinstance(body, bytes) else R.dumps(body)
        if fault is not None and fault.kind == "truncated":
            data = data[: max(1, len(data) // 2)]
        return Response(data, status_code=status, media_type="application/json")

    # ---- query ---------------------------------------------------------------------------
    def run_query(q: Query) -> dict[str, Any] | bytes:
        if q.entity == "CompanyInfo":
            if q.count:
                return {"QueryResponse": {"totalCount": 1}, "time": now_str()}
            info = emu.builder.company_info()
            rows = [info] if q.start == 1 and q.max_results > 0 else []
            qr: dict[str, Any] = {"CompanyInfo": rows, "startPosition": 1, "maxResults": 1} if rows else {}
            return {"QueryResponse": qr, "time": now_str()}
        result = emu.store.select(q)
        if q.count:
            return {"QueryResponse": {"totalCount": len(result)}, "time": now_str()}
        page = result[q.start - 1: q.start - 1 + q.max_results]
        if not page:
            return {"QueryResponse": {}, "time": now_str()}
        objs = emu.store.page_json(q.entity, page)  # serialized directly: the hot path
        emu.after_page(q.entity, result)
        return (f'{{"QueryResponse":{{"{q.entity}":{objs},"startPosition":{q.start},"maxResults":{len(page)}}},'
                f'"time":"{now_str()}"}}').encode()

    def query_kind(text: str) -> tuple[str, Query | QueryError]:
        try:
            q = emu.parse(text)
        except QueryError as exc:
            return "query", exc
        if q.entity == "CompanyInfo":
            return "companyinfo", q
        return ("count" if q.count else "query"), q

    def query_error(exc: QueryError) -> Response:
        return R.validation(exc.message, exc.detail, exc.code, now_str())

    async def query(request: Request) -> Response:
        if request.method == "POST":
            text = (await request.body()).decode("utf-8", "replace")
        else:
            text = request.query_params.get("query", "")
        kind, parsed = query_kind(text)

        def work() -> tuple[Any, int]:
            if isinstance(parsed, QueryError):
                return query_error(parsed), 400
            return run_query(parsed), 200

        return await guarded(request, kind, request.path_params["realm"], work)

    # ---- cdc -----------------------------------------------------------------------------
    def run_cdc(entities: list[str], since_text: str) -> tuple[Any, int]:
        if not entities or not since_text:
            return R.validation("Invalid request", "entities and changedSince are required", "4001",
                                now_str()), 400
        try:
            since = parse_instant(since_text)
        except QueryError as exc:
            return query_error(exc), 400
        now = emu.now_ts()
        if since < now - CDC_DAYS * 86400:
            return R.validation("Invalid changedSince", f"changedSince {since_text} is more than {CDC_DAYS} "
                                "days in the past. CDC looks back at most 30 days", "4001", now_str()), 400
        for name in entities:
            ent = BY_NAME.get(name)
            if ent is None:
                return R.validation("Invalid entity", f"Entity '{name}' is not supported for CDC", "4001",
                                    now_str()), 400
            if not ent.cdc:
                return R.validation("Invalid entity", f"CDC is not supported for {name}", "4001",
                                    now_str()), 400
        changed: list[tuple[float, int, int, str, Rec]] = []
        for i, name in enumerate(entities):
            changed.extend((r.changed, i, r.id, name, r) for r in emu.store.changes(name, since, now))
        changed.sort(key=lambda t: t[:3])
        changed = changed[:CDC_MAX]
        groups: list[dict[str, Any]] = []
        for i, name in enumerate(entities):
            mine = [t[4] for t in changed if t[1] == i]
            objs = [
                {"Id": str(r.id), "status": "Deleted", "MetaData": {"LastUpdatedTime": pacific(r.deleted)}}
                if r.deleted is not None else emu.builder.build(name, r)
                for r in mine
            ]
            groups.append({name: objs, "startPosition": 1, "maxResults": len(objs)} if objs else {})
        return {"CDCResponse": [{"QueryResponse": groups}], "time": now_str()}, 200

    async def cdc(request: Request) -> Response:
        qp = request.query_params
        entities = [e.strip() for e in qp.get("entities", "").split(",") if e.strip()]
        since = qp.get("changedSince", "")
        return await guarded(request, "cdc", request.path_params["realm"], lambda: run_cdc(entities, since))

    # ---- batch ---------------------------------------------------------------------------
    async def batch(request: Request) -> Response:
        raw = await request.body()

        def work() -> tuple[Any, int]:
            import json

            try:
                items = json.loads(raw or b"{}").get("BatchItemRequest", [])
                if not isinstance(items, list):
                    raise ValueError
            except (ValueError, AttributeError):
                return R.validation("Invalid request", "Body must be JSON with a BatchItemRequest list", "4001",
                                    now_str()), 400
            if len(items) > BATCH_MAX:
                return R.validation("Invalid request", f"Batch size {len(items)} exceeds the maximum of "
                                    f"{BATCH_MAX}", "4001", now_str()), 400
            out: list[dict[str, Any]] = []
            for item in items:
                bid = str(item.get("bId", ""))
                text = item.get("Query")
                if not isinstance(text, str):
                    out.append({"bId": bid, "Fault": {"Error": [{"Message": "Unsupported operation",
                                "Detail": "The emulator supports Query batch items only", "code": "4001"}],
                                "type": "ValidationFault"}})
                    continue
                try:
                    resp = run_query(emu.parse(text))
                    if isinstance(resp, bytes):
                        resp = json.loads(resp)
                    out.append({"bId": bid, "QueryResponse": resp["QueryResponse"]})
                except QueryError as exc:
                    out.append({"bId": bid, "Fault": {"Error": [{"Message": exc.message, "Detail": exc.detail,
                                                                 "code": exc.code}], "type": "ValidationFault"}})
            return {"BatchItemResponse": out, "time": now_str()}, 200

        return await guarded(request, "batch", request.path_params["realm"], work)

    async def companyinfo(request: Request) -> Response:
        def work() -> tuple[Any, int]:
            if request.path_params["id"] != cfg.realm_id:
                return R.validation("Object Not Found", "Object Not Found : Something you're trying to use "
                                    "has been made inactive. Check the fields with accounts, customers, items, "
                                    "vendors or employees.", "610", now_str()), 400
            return {"CompanyInfo": emu.builder.company_info(), "time": now_str()}, 200

        return await guarded(request, "companyinfo", request.path_params["realm"], work)

    # ---- OAuth ---------------------------------------------------------------------------
    async def token(request: Request) -> Response:
        form = await _form(request)
        client_id, client_secret = _basic(request.headers.get("authorization", ""))
        if client_id is None:
            cid, csec = form.get("client_id"), form.get("client_secret")
            client_id = cid if isinstance(cid, str) else None
            client_secret = csec if isinstance(csec, str) else None

        def work() -> tuple[Any, int]:
            try:
                emu.oauth.check_client(client_id, client_secret)
                grant = form.get("grant_type")
                if grant == "refresh_token":
                    rt = form.get("refresh_token")
                    if not isinstance(rt, str) or not rt:
                        raise OAuthError(400, "invalid_request", "refresh_token is required")
                    body = emu.oauth.refresh(rt)
                elif grant == "authorization_code":
                    code = form.get("code")
                    if not isinstance(code, str) or not code:
                        raise OAuthError(400, "invalid_request", "code is required")
                    redirect = form.get("redirect_uri")
                    body = emu.oauth.exchange_code(code, redirect if isinstance(redirect, str) else None)
                else:
                    raise OAuthError(400, "unsupported_grant_type", "grant_type is not supported")
            except OAuthError as exc:
                return R.oauth_error(exc.status, exc.error, exc.description), exc.status
            return R.json_response(body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}), 200

        return await guarded(request, "token", None, work)

    async def authorize(request: Request) -> Response:
        emu.count_request("authorize")
        qp = request.query_params
        redirect = qp.get("redirect_uri", "")
        if qp.get("client_id") != cfg.client_id:
            return R.oauth_error(400, "invalid_client", "Unknown client_id")
        if qp.get("response_type") != "code" or not redirect:
            return R.oauth_error(400, "invalid_request", "response_type=code and redirect_uri are required")
        if cfg.redirect_uris and redirect not in cfg.redirect_uris:
            return R.oauth_error(400, "invalid_request", "redirect_uri is not registered for this app")
        code = emu.oauth.issue_code(redirect)
        params = {"code": code, "state": qp.get("state", ""), "realmId": cfg.realm_id}
        sep = "&" if "?" in redirect else "?"
        return RedirectResponse(redirect + sep + urlencode(params), status_code=302)

    async def revoke(request: Request) -> Response:
        emu.count_request("revoke")
        client_id, client_secret = _basic(request.headers.get("authorization", ""))
        try:
            emu.oauth.check_client(client_id, client_secret)
        except OAuthError as exc:
            return R.oauth_error(exc.status, exc.error, exc.description)
        value: Any = None
        if "json" in request.headers.get("content-type", ""):
            try:
                value = (await request.json()).get("token")
            except ValueError:
                value = None
        else:
            value = (await _form(request)).get("token")
        if not isinstance(value, str) or not value:
            return R.oauth_error(400, "invalid_request", "token is required")
        emu.oauth.revoke(value)
        return Response(b"", status_code=200)

    # ---- admin ---------------------------------------------------------------------------
    async def admin_truth(request: Request) -> Response:
        qp = request.query_params
        try:
            start = datetime.fromisoformat(qp["start"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(qp["end"].replace("Z", "+00:00"))
            entity = qp["entity"]
            truth = await run_in_threadpool(emu.truth, entity, start, end)
        except (KeyError, ValueError) as exc:
            return R.json_response({"error": str(exc)}, 400)
        records = {k: v.isoformat() for k, v in sorted(truth.items(), key=lambda kv: int(kv[0]))}
        return R.json_response({"entity": entity, "count": len(records), "records": records})

    async def admin_counters(request: Request) -> Response:
        return R.json_response(emu.counters())

    async def admin_faults(request: Request) -> Response:
        if request.method == "GET":
            return R.json_response(emu.faults.list())
        if request.method == "DELETE":
            emu.faults.clear()
            return R.json_response({"cleared": True})
        try:
            spec = await request.json()
            kind = spec.pop("kind")
            f = emu.faults.add(kind, **spec)
        except (KeyError, TypeError, ValueError) as exc:
            return R.json_response({"error": str(exc)}, 400)
        return R.json_response(f.to_dict(), 201)

    async def admin_reset(request: Request) -> Response:
        emu.reset_counters()
        return R.json_response(emu.counters())

    async def admin_refresh_token(request: Request) -> Response:
        return R.json_response({"refresh_token": emu.issue_refresh_token(), "realm_id": cfg.realm_id})

    async def admin_mutate(request: Request) -> Response:
        try:
            spec = await request.json()
            action = request.path_params["action"]
            at = datetime.fromisoformat(spec["at"].replace("Z", "+00:00")) if spec.get("at") else None
            if action == "update":
                when = emu.update_record(spec["entity"], spec["id"], at)
            elif action == "delete":
                when = emu.delete_record(spec["entity"], spec["id"], at)
            elif action == "mutate-between-pages":
                emu.mutate_between_pages(spec["entity"], int(spec["n"]))
                return R.json_response({"ok": True})
            else:
                return R.json_response({"error": f"unknown action {action}"}, 404)
        except (KeyError, TypeError, ValueError) as exc:
            return R.json_response({"error": str(exc)}, 400)
        return R.json_response({"ok": True, "at": when.isoformat()})

    async def admin_revoke_access(request: Request) -> Response:
        emu.revoke_all_access_tokens()
        return R.json_response({"ok": True})

    routes = [
        Route("/v3/company/{realm}/query", query, methods=["GET", "POST"]),
        Route("/v3/company/{realm}/cdc", cdc, methods=["GET"]),
        Route("/v3/company/{realm}/batch", batch, methods=["POST"]),
        Route("/v3/company/{realm}/companyinfo/{id}", companyinfo, methods=["GET"]),
        Route("/oauth2/v1/tokens/bearer", token, methods=["POST"]),
        Route("/connect/oauth2", authorize, methods=["GET"]),
        Route("/v2/oauth2/tokens/revoke", revoke, methods=["POST"]),
        Route("/admin/truth", admin_truth, methods=["GET"]),
        Route("/admin/counters", admin_counters, methods=["GET"]),
        Route("/admin/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
        Route("/admin/reset-counters", admin_reset, methods=["POST"]),
        Route("/admin/refresh-token", admin_refresh_token, methods=["GET"]),
        Route("/admin/revoke-access-tokens", admin_revoke_access, methods=["POST"]),
        Route("/admin/{action}", admin_mutate, methods=["POST"]),
    ]
    return _IntuitTid(Starlette(routes=routes))


async def _form(request: Request) -> dict[str, str]:
    """`application/x-www-form-urlencoded` body (no python-multipart needed for OAuth forms)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def _basic(header: str) -> tuple[str | None, str | None]:
    if header[:6].lower() != "basic ":
        return None, None
    try:
        raw = base64.b64decode(header[6:].strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None, None
    cid, sep, secret = raw.partition(":")
    return (cid, secret) if sep else (None, None)


Handler = Callable[[Request], Awaitable[Response]]
