"""Intuit's OAuth 2.0 endpoints: token (both grants), authorize (a redirect with a code), revoke."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from qbo_ingest.local.emulator import responses as R
from qbo_ingest.local.emulator.gateway import Gateway
from qbo_ingest.local.emulator.oauth import OAuthError


class OAuthRoutes(Gateway):
    def routes(self) -> list[Route]:
        return [
            Route("/oauth2/v1/tokens/bearer", self.token, methods=["POST"]),
            Route("/connect/oauth2", self.authorize, methods=["GET"]),
            Route("/v2/oauth2/tokens/revoke", self.revoke, methods=["POST"]),
        ]

    async def token(self, request: Request) -> Response:
        form = await _form(request)
        client_id, client_secret = _basic(request.headers.get("authorization", ""))
        if client_id is None:
            cid, csec = form.get("client_id"), form.get("client_secret")
            client_id = cid if isinstance(cid, str) else None
            client_secret = csec if isinstance(csec, str) else None

        def work() -> tuple[Any, int]:
            try:
                self.emu.oauth.check_client(client_id, client_secret)
                grant = form.get("grant_type")
                if grant == "refresh_token":
                    rt = form.get("refresh_token")
                    if not isinstance(rt, str) or not rt:
                        raise OAuthError(400, "invalid_request", "refresh_token is required")
                    body = self.emu.oauth.refresh(rt)
                elif grant == "authorization_code":
                    code = form.get("code")
                    if not isinstance(code, str) or not code:
                        raise OAuthError(400, "invalid_request", "code is required")
                    redirect = form.get("redirect_uri")
                    body = self.emu.oauth.exchange_code(code, redirect if isinstance(redirect, str) else None)
                else:
                    raise OAuthError(400, "unsupported_grant_type", "grant_type is not supported")
            except OAuthError as exc:
                return R.oauth_error(exc.status, exc.error, exc.description), exc.status
            return R.json_response(body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}), 200

        return await self.guarded(request, "token", None, work)

    async def authorize(self, request: Request) -> Response:
        self.emu.count_request("authorize")
        qp = request.query_params
        redirect = qp.get("redirect_uri", "")
        if qp.get("client_id") != self.cfg.client_id:
            return R.oauth_error(400, "invalid_client", "Unknown client_id")
        if qp.get("response_type") != "code" or not redirect:
            return R.oauth_error(400, "invalid_request", "response_type=code and redirect_uri are required")
        if self.cfg.redirect_uris and redirect not in self.cfg.redirect_uris:
            return R.oauth_error(400, "invalid_request", "redirect_uri is not registered for this app")
        code = self.emu.oauth.issue_code(redirect)
        params = {"code": code, "state": qp.get("state", ""), "realmId": self.cfg.realm_id}
        sep = "&" if "?" in redirect else "?"
        return RedirectResponse(redirect + sep + urlencode(params), status_code=302)

    async def revoke(self, request: Request) -> Response:
        self.emu.count_request("revoke")
        client_id, client_secret = _basic(request.headers.get("authorization", ""))
        try:
            self.emu.oauth.check_client(client_id, client_secret)
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
        self.emu.oauth.revoke(value)
        return Response(b"", status_code=200)


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

