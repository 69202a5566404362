"""A headless Chromium driven over the DevTools protocol (tornado's websocket client, which Mage
installs): open a page with a cookie, wait for a text, click a button by its label, screenshot."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1400,1000", "--remote-allow-origins=*"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Page:
    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self._id = 0
        self._ws: Any = None
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._connect())

    async def _connect(self) -> None:
        from tornado.websocket import websocket_connect

        self._ws = await websocket_connect(self.ws_url, max_message_size=64 * 1024 * 1024)

    async def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        me = self._id
        await self._ws.write_message(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            msg = await self._ws.read_message()
            if msg is None:
                raise RuntimeError("DevTools connection closed")
            data = json.loads(msg)
            if data.get("id") == me:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return dict(data.get("result") or {})

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self._loop.run_until_complete(self._send(method, params))

    def evaluate(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return (res.get("result") or {}).get("value")

    def wait_for(self, expression: str, timeout: float = 90) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"page never satisfied {expression!r}; text: {self.text()[:1500]}")

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''") or "")

    def click_button(self, label: str) -> bool:
        return bool(self.evaluate(
            "(() => { const b = [...document.querySelectorAll('button')].find("
            f"x => x.innerText.trim() === {json.dumps(label)}); if (!b) return false; b.click(); return true; }})()"))

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
        self._loop.close()


@contextmanager
def chromium(binary: Path, profile: Path) -> Iterator[Page]:
    port = _port()
    proc = subprocess.Popen([str(binary), *FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    targets = [t for t in json.loads(r.read()) if t.get("type") == "page"]
                if targets:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("headless Chromium did not open its DevTools port")
            time.sleep(0.5)
        page = Page(targets[0]["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Network.enable")
        try:
            yield page
        finally:
            page.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
