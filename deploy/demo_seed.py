"""Demo profile only: hand the token store a refresh token issued by the local QBO emulator.

`docker compose --profile demo up -d` runs this after `init`, with the same variables as Mage. The
emulator keeps its tokens in memory, so a restarted emulator (a new `up`, a reboot) knows none of
the stored ones: with `--stay` this process seeds, then idles until stopped, so Docker's restart
policy runs it again whenever it starts the stack again. It never prints a token. With a real
Intuit app you run `qbo-ingest auth` instead.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Mapping

from qbo_ingest.settings import Settings
from qbo_ingest.source.auth.oauth import TokenSet
from qbo_ingest.source.auth.token_store import PostgresTokenStore


def fetch_refresh_token(admin_url: str, *, attempts: int = 30, delay: float = 1.0) -> dict[str, str]:
    """GET <emulator>/admin/refresh-token, waiting for the emulator to come up."""
    url = admin_url.rstrip("/") + "/refresh-token"
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"emulator admin URL must be http(s): {admin_url!r}")
    last: Exception | None = None
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (scheme checked above)
                data = json.loads(resp.read().decode("utf-8"))
            return {"refresh_token": str(data["refresh_token"]), "realm_id": str(data["realm_id"])}
        except Exception as exc:  # the emulator may still be starting
            last = exc
            time.sleep(delay)
    raise RuntimeError(f"the QBO emulator at {admin_url} did not answer: {type(last).__name__}: {last}")


def main(env: Mapping[str, str] | None = None, *, attempts: int = 30, delay: float = 1.0) -> int:
    environ = os.environ if env is None else env
    settings = Settings.load(environ, use_mage_secrets=False, require=("qbo", "postgres"))
    admin_url = environ.get("QBO_EMULATOR_ADMIN_URL") or f"{settings.api_base_url}/admin"
    got = fetch_refresh_token(admin_url, attempts=attempts, delay=delay)
    if got["realm_id"] != settings.realm_id:
        print(
            f"demo seed: the emulator serves realm {got['realm_id']} but QBO_REALM_ID is "
            f"{settings.realm_id}: set QBO_REALM_ID={got['realm_id']} in .env",
            file=sys.stderr,
        )
        return 2
    assert settings.client_id is not None
    store = PostgresTokenStore(settings.dsn(), key_material=settings.token_key_material())
    # No access token yet (expires_at=0): the first API call refreshes, and the rotated refresh token
    # is stored before use, exactly as with a real Intuit app.
    store.save(settings.realm_id, settings.client_id,
               TokenSet(access_token="", refresh_token=got["refresh_token"], expires_at=0.0))
    print(f"demo seed: token store ready for realm {settings.realm_id} (emulator at {settings.api_base_url})")
    return 0


def stay() -> None:
    """Idle until SIGTERM/SIGINT (`docker compose stop`), then exit 0 at once."""
    def stop(signum: int, frame: object) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("demo seed: idle; Docker runs this again with the stack (e.g. after a reboot)", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    rc = main()
    if rc == 0 and "--stay" in sys.argv[1:]:
        stay()
    sys.exit(rc)
