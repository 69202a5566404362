"""The emulator's ASGI app: the QBO data API, Intuit's OAuth endpoints and a local `/admin/` API, each a
route group over one `Emulator` (routes_api, routes_oauth, routes_admin), behind the `intuit_tid`
header Intuit's gateway adds."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.types import ASGIApp

from qbo_ingest.local.emulator.core import Emulator
from qbo_ingest.local.emulator.gateway import TRANSPORTS, IntuitTid
from qbo_ingest.local.emulator.routes_admin import AdminRoutes
from qbo_ingest.local.emulator.routes_api import ApiRoutes
from qbo_ingest.local.emulator.routes_oauth import OAuthRoutes

__all__ = ["TRANSPORTS", "build_app"]


def build_app(emu: Emulator) -> ASGIApp:
    routes = [*ApiRoutes(emu).routes(), *OAuthRoutes(emu).routes(), *AdminRoutes(emu).routes()]
    return IntuitTid(Starlette(routes=routes))
