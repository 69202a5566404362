"""The emulator's ASGI app: the QBO data API, Intuit's OAuth endpoints and a local `/admin/` API, each a
route group over one `Emulator` (routes_api, routes_oauth, routes_admin), behind the `intuit_tid`
header Intuit's gateway adds."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from qbo_ingest.local.emulator import responses as R
from qbo_ingest.local.emulator.core import Emulator
from qbo_ingest.local.emulator.gateway import TRANSPORTS, IntuitTid
from qbo_ingest.local.emulator.routes_admin import AdminRoutes
from qbo_ingest.local.emulator.routes_api import ApiRoutes
from qbo_ingest.local.emulator.routes_oauth import OAuthRoutes
from qbo_ingest.local.emulator.timefmt import pacific_ms

__all__ = ["TRANSPORTS", "build_app"]


def build_app(emu: Emulator) -> ASGIApp:
    routes = [*ApiRoutes(emu).routes(), *OAuthRoutes(emu).routes(), *AdminRoutes(emu).routes()]

    async def unknown_route(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return R.not_found(request.method, request.url.path, pacific_ms(emu.now()), status)

    return IntuitTid(Starlette(routes=routes, exception_handlers={404: unknown_route, 405: unknown_route}))
