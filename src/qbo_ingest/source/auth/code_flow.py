"""`qbo-ingest auth`: the OAuth authorization-code flow, in one of two ways.

* A loopback redirect (`http://localhost:8040/callback`, the default; Intuit accepts it for sandbox
  keys only): a listener on 127.0.0.1 receives Intuit's redirect with `code`, `state`, `realmId`.
* An https redirect URI (`--redirect-uri https://...`, what production keys need): no listener. The
  user approves in any browser, which lands on that URI; they paste the full address it shows back
  (a prompt, or `--redirected-url` later: the pending `state` is kept in a 0600 file meanwhile).

Either way `state` is checked, the code is exchanged (Authlib, via `OAuthSession`) and the refresh
token is stored for that realm in the token store the loader reads, where it wins over
`QBO_REFRESH_TOKEN`.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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
PENDING_FILE = "auth-pending.json"
PENDING_TTL_S = 3600.0  # a pasted URL older than this is refused (Intuit's codes live minutes)
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


def is_loopback(redirect_uri: str) -> bool:
    parts = urlsplit(redirect_uri)
    return parts.scheme == "http" and (parts.hostname or "") in ("localhost", "127.0.0.1", "::1")


def check_redirect_uri(redirect_uri: str, *, entorno: str) -> None:
    """https anywhere, or http on a loopback host for sandbox keys; nothing else reaches Intuit."""
    parts = urlsplit(redirect_uri)
    if parts.scheme == "https" and parts.hostname and not parts.query and not parts.fragment:
        return
    if is_loopback(redirect_uri):
        if entorno == "production":
            raise AuthError(
                "Intuit accepts only https redirect URIs for production keys, not " + redirect_uri,
                kind="bad_redirect_uri",
                next_step="register an https URI for the app (developer.intuit.com > your app > Settings > "
                "Redirect URIs, production) and run `qbo-ingest auth --redirect-uri https://...`",
            )
        return
    raise AuthError(
        f"--redirect-uri must be https://host/path (production) or http://localhost:PORT/path (sandbox), "
        f"without query or fragment, not {redirect_uri!r}",
        kind="bad_redirect_uri",
        next_step="pass exactly the URI registered for the app in Intuit's developer portal",
    )


def run_auth(
    settings: Settings,
    *,
    store: TokenStore | None = None,
    port: int = DEFAULT_PORT,
    redirect_uri: str | None = None,
    redirect_host: str = "localhost",
    redirected_url: str | None = None,
    read_line: Callable[[str], str] | None = None,
    pending_dir: Path | None = None,
    wait: bool = True,
    open_browser: bool = False,
    open_url: Callable[[str], object] | None = None,
    timeout_s: float = 300.0,
    printer: Callable[[str], object] = print,
    transport: httpx.BaseTransport | None = None,
) -> str | None:
    """Authorize the app for one company; store its refresh token; return the realm id.

    `redirect_uri` must match one registered for the app in Intuit's developer portal (default
    `http://<redirect_host>:<port>/callback`, served by a listener; `port=0` picks a free port). An
    https `redirect_uri` is not listened on: the redirected URL comes from `redirected_url`, else from
    `read_line(prompt)` (default `input`). With `wait=False` only the URL is printed (and the pending
    state kept in `pending_dir`); the call returns None and a later call with `redirected_url` finishes.
    `open_url` is called with the URL in a thread (tests pass a function that follows the redirect);
    `open_browser` uses `webbrowser`.
    """
    for name, value in (("QBO_CLIENT_ID", settings.client_id), ("QBO_CLIENT_SECRET", settings.client_secret)):
        if not value:
            raise SettingsError(f"{name} is not set: set it {HOW}")
    assert settings.client_id and settings.client_secret
    if redirect_uri is not None:
        check_redirect_uri(redirect_uri, entorno=settings.entorno)
    elif settings.entorno == "production":
        check_redirect_uri(f"http://{redirect_host}:{port}{CALLBACK_PATH}", entorno="production")
    token_store = store if store is not None else PostgresTokenStore(
        settings.dsn(), key_material=settings.token_key_material())
    oauth = OAuthSession(
        settings.client_id, settings.client_secret, token_url=settings.token_url,
        authorize_url=settings.authorize_url, revoke_url=settings.revoke_url, transport=transport,
    )
    try:
        if redirect_uri is not None and not is_loopback(redirect_uri):
            pasted = _Pasted(settings.client_id, redirect_uri, pending_dir)
            if redirected_url is not None:
                state = pasted.load_state()
            else:
                state = secrets.token_urlsafe(24)
                url = oauth.authorization_url(redirect_uri, state)
                pasted.save_state(state)
                printer(f"Open this URL in a browser signed in to QuickBooks and approve access:\n{url}")
                printer(f"The browser then lands on {redirect_uri}?code=... (the page itself may show an "
                        "error: that is fine). Copy the whole address from the address bar.")
                if not wait:
                    printer(f"Then run: qbo-ingest auth --redirect-uri {redirect_uri} --redirected-url '<address>'")
                    return None
                try:
                    redirected_url = (read_line or input)("Paste the address here and press Enter: ")
                except EOFError:
                    raise AuthError(
                        "no address was pasted (standard input closed)", kind="no_redirected_url",
                        next_step=f"pass it as `qbo-ingest auth --redirect-uri {redirect_uri} --redirected-url "
                        "'<address>'` (the pending state is kept for an hour)",
                    ) from None
            params = _params_of(redirected_url, redirect_uri)
            realm = _finish(settings, oauth, token_store, params, state, redirect_uri, printer)
            pasted.clear()
            return realm
        return _listen(settings, oauth, token_store, port=port, redirect_uri=redirect_uri,
                       redirect_host=redirect_host, open_url=open_url or (webbrowser.open if open_browser else None),
                       timeout_s=timeout_s, printer=printer)
    finally:
        oauth.close()


def _listen(settings: Settings, oauth: OAuthSession, token_store: TokenStore, *, port: int,
            redirect_uri: str | None, redirect_host: str, open_url: Callable[[str], object] | None,
            timeout_s: float, printer: Callable[[str], object]) -> str:
    results: queue.Queue[dict[str, str]] = queue.Queue()
    if redirect_uri is not None:
        port = urlsplit(redirect_uri).port or 80
    server = _listener(port, results)
    bound = server.server_address[1]
    redirect = redirect_uri or f"http://{redirect_host}:{bound}{CALLBACK_PATH}"
    serve = threading.Thread(target=server.serve_forever, name="qbo-auth-listener", daemon=True)
    serve.start()
    try:
        state = secrets.token_urlsafe(24)
        url = oauth.authorization_url(redirect, state)
        printer(f"Open this URL in a browser signed in to QuickBooks and approve access:\n{url}")
        printer(f"Waiting for the redirect on {redirect} ...")
        if open_url is not None:
            threading.Thread(target=open_url, args=(url,), name="qbo-auth-open", daemon=True).start()
        try:
            params = results.get(timeout=timeout_s)
        except queue.Empty:
            raise AuthError(
                f"no authorization redirect reached {redirect} within {timeout_s:.0f}s",
                kind="auth_timeout",
                next_step="rerun `qbo-ingest auth` and approve access in the browser; check the redirect URI "
                "is registered for the app",
            ) from None
        return _finish(settings, oauth, token_store, params, state, redirect, printer)
    finally:
        server.shutdown()
        server.server_close()


def _finish(settings: Settings, oauth: OAuthSession, token_store: TokenStore, params: dict[str, str],
            state: str, redirect: str, printer: Callable[[str], object]) -> str:
    """Check the redirect's parameters, exchange the code, store the tokens as the loader reads them."""
    assert settings.client_id
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


def _params_of(redirected_url: str, redirect_uri: str) -> dict[str, str]:
    """The query of the pasted address, after checking it is the registered redirect URI's. The
    address carries the one-time code: it is never echoed in a message."""
    got, want = urlsplit(redirected_url.strip()), urlsplit(redirect_uri)
    same = (got.scheme, (got.hostname or "").lower(), got.port, got.path.rstrip("/")) == (
        want.scheme, (want.hostname or "").lower(), want.port, want.path.rstrip("/"))
    if not same:
        raise AuthError(
            f"the pasted address is not on the redirect URI {redirect_uri}", kind="bad_redirect",
            next_step="paste the whole address the browser shows after approving (it starts with the "
            "redirect URI and holds code=, state= and realmId=)",
        )
    return {k: v[0] for k, v in parse_qs(got.query).items()}


class _Pasted:
    """The pending `state` between printing the URL and receiving the pasted address (0600 file)."""

    def __init__(self, client_id: str, redirect_uri: str, directory: Path | None) -> None:
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.path = (directory or Path.cwd()) / PENDING_FILE

    def save_state(self, state: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"state": state, "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                       "created_at": time.time()}, fh)

    def load_state(self) -> str:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = None
        fresh = isinstance(data, dict) and time.time() - float(data.get("created_at", 0)) < PENDING_TTL_S
        if not fresh or data.get("client_id") != self.client_id or data.get("redirect_uri") != self.redirect_uri:
            raise AuthError(
                "no pending authorization for this app and redirect URI (or it is over an hour old)",
                kind="no_pending_auth",
                next_step=f"run `qbo-ingest auth --redirect-uri {self.redirect_uri}` first and approve the URL it "
                "prints, then pass the address the browser lands on",
            )
        return str(data["state"])

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
