"""`qbo-ingest auth`: the OAuth authorization-code flow with a redirect listener on 127.0.0.1.

Prints the URL to open (and opens it when asked), waits for Intuit's redirect with `code`, `state` and
`realmId`, checks `state`, exchanges the code (Authlib, via `OAuthSession`) and stores the refresh
token for that realm in the token store, where it wins over `QBO_REFRESH_TOKEN`.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from qbo_ingest.errors import AuthError
from qbo_ingest.settings import HOW, Settings, SettingsError
from qbo_ingest.source.auth.oauth import OAuthSession
from qbo_ingest.source.auth.token_store import PostgresTokenStore, TokenStore

log = logging.getLogger(__name__)

DEFAULT_PORT = 8040
CALLBACK_PATH = "/callback"
PAGE = (
    "<html><body style='font-family:sans-serif'><h2>{title}</h2><p>{text}</p>"
    "<p>You can close this tab.</p></body></html>"
)


def _listener(port: int, results: queue.Queue[dict[str, str]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != CALLBACK_PATH:
                self.send_error(404)
                return
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            ok = "code" in params and "error" not in params
            body = PAGE.format(
                title="qbo-ingest is authorized" if ok else "Authorization failed",
                text="Return to the terminal." if ok else "See the terminal for the reason.",
            ).encode()
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            results.put(params)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the query string holds the code: never log it

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def run_auth(
    settings: Settings,
    *,
    store: TokenStore | None = None,
    port: int = DEFAULT_PORT,
    redirect_uri: str | None = None,
    redirect_host: str = "localhost",
    open_browser: bool = False,
    open_url: Callable[[str], object] | None = None,
    timeout_s: float = 300.0,
    printer: Callable[[str], object] = print,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """Authorize the app for one company; store its refresh token; return the realm id.

    `port=0` picks a free port. `redirect_uri` must match one registered for the app in Intuit's
    developer portal (default `http://localhost:<port>/callback`). `open_url` is called with the URL
    in a thread (tests pass a function that follows the redirect); `open_browser` uses `webbrowser`.
    """
    for name, value in (("QBO_CLIENT_ID", settings.client_id), ("QBO_CLIENT_SECRET", settings.client_secret)):
        if not value:
            raise SettingsError(f"{name} is not set: set it {HOW}")
    assert settings.client_id and settings.client_secret
    token_store = store if store is not None else PostgresTokenStore(
        settings.dsn(), key_material=settings.token_key_material())
    results: queue.Queue[dict[str, str]] = queue.Queue()
    server = _listener(port, results)
    bound = server.server_address[1]
    redirect = redirect_uri or f"http://{redirect_host}:{bound}{CALLBACK_PATH}"
    serve = threading.Thread(target=server.serve_forever, name="qbo-auth-listener", daemon=True)
    serve.start()
    oauth = OAuthSession(
        settings.client_id, settings.client_secret, token_url=settings.token_url,
        authorize_url=settings.authorize_url, revoke_url=settings.revoke_url, transport=transport,
    )
    try:
        state = secrets.token_urlsafe(24)
        url = oauth.authorization_url(redirect, state)
        printer(f"Open this URL in a browser signed in to QuickBooks and approve access:\n{url}")
        printer(f"Waiting for the redirect on {redirect} ...")
        opener = open_url or (webbrowser.open if open_browser else None)
        if opener is not None:
            threading.Thread(target=opener, args=(url,), name="qbo-auth-open", daemon=True).start()
        try:
            params = results.get(timeout=timeout_s)
        except queue.Empty:
            raise AuthError(
                f"no authorization redirect reached {redirect} within {timeout_s:.0f}s",
                kind="auth_timeout",
                next_step="rerun `qbo-ingest auth` and approve access in the browser; check the redirect URI "
                "is registered for the app",
            ) from None
        if "error" in params:
            raise AuthError(f"authorization refused: {params.get('error')}", kind=params.get("error"),
                            next_step="rerun `qbo-ingest auth` and approve access")
        if not secrets.compare_digest(params.get("state", ""), state):
            raise AuthError("authorization redirect carried a wrong state (possible CSRF)", kind="bad_state",
                            next_step="rerun `qbo-ingest auth` and use only the URL it prints")
        realm = params.get("realmId")
        code = params.get("code")
        if not realm or not code:
            raise AuthError("authorization redirect lacked code or realmId", kind="bad_redirect",
                            next_step="rerun `qbo-ingest auth`")
        tokens = oauth.exchange_code(code, redirect)
        seed = settings.refresh_token.get_secret_value() if settings.refresh_token else None
        token_store.bind_key(oauth)
        token_store.save(realm, settings.client_id, tokens, seed_refresh_token=seed)
        printer(f"Authorized realm {realm}: refresh token stored; set QBO_REALM_ID={realm} if not yet set.")
        log.info("Authorized realm %s; refresh token stored", realm)
        return realm
    finally:
        server.shutdown()
        server.server_close()
        oauth.close()
