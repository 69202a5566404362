"""Mage's REST API, for what an operator does in the Triggers page: create a fresh one-time trigger.

A `@once` trigger that has run never fires again (Mage schedules it only while it has no runs), so
every backfill after the first needs a new trigger: `qbo-ingest mage schedule` creates one here, and
the pipeline's `deactivate_once_trigger` block sets it inactive after the successful run.

Mage 0.9.80 (server/api): every request carries the web app's public client id (`X-API-KEY`); with
the login on (`REQUIRE_USER_AUTHENTICATION`, the default since 0.9.78) `POST /api/sessions` with the
user's email and password returns a token, sent back as the `oauth_token` cookie, as the UI does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx

from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import QboIngestError
from qbo_ingest.windows import daily_windows

# mage_ai.settings.server.OAUTH2_APPLICATION_CLIENT_ID: the id of Mage's own web app (public, in its source).
MAGE_WEB_CLIENT_ID = "zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2"
DEFAULT_URL = "http://127.0.0.1:6789"
GUAYAQUIL = timezone(timedelta(hours=-5), "America/Guayaquil")
MAX_DAYS_PER_RUN = 366  # as plan_days: one block run per day


class MageApiError(QboIngestError):
    """Mage's API refused or could not be reached."""


@dataclass(frozen=True)
class Trigger:
    id: int
    name: str
    pipeline: str
    start_time: datetime
    status: str
    variables: dict[str, str]


def parse_at(text: str) -> datetime:
    """`2026-02-02 04:07 UTC` (or ISO 8601 with Z / +00:00) as an aware UTC datetime. UTC must be said."""
    s = text.strip()
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)\s*(UTC|Z|\+00:00)", s, flags=re.I)
    if m is None:
        raise QboIngestError(
            f"--at {text!r} is not a UTC time: give it as 'YYYY-MM-DD HH:MM UTC', e.g. --at '2026-02-02 04:07 UTC' "
            "(23:07 in Guayaquil is 04:07 UTC the next day)")
    t = m.group(2) if len(m.group(2)) == 8 else m.group(2) + ":00"
    try:
        return datetime.fromisoformat(f"{m.group(1)}T{t}").replace(tzinfo=timezone.utc)
    except ValueError:
        raise QboIngestError(f"--at {text!r} is not a valid date and time (YYYY-MM-DD HH:MM UTC)") from None


def check_range(fecha_inicio: str, fecha_fin: str) -> tuple[date, date]:
    """The same rules plan_days applies, before anything reaches Mage."""
    windows = daily_windows(fecha_inicio, fecha_fin, today=datetime.now(timezone.utc).date())
    if len(windows) > MAX_DAYS_PER_RUN:
        raise QboIngestError(
            f"{len(windows)} days in one Mage run is too many (max {MAX_DAYS_PER_RUN}): schedule several "
            "runs, or use `qbo-ingest backfill` for long ranges")
    return windows[0].day, windows[-1].day


def trigger_name(entity: Entity, first: date, last: date, at: datetime) -> str:
    return f"{entity.pipeline}_{first.isoformat()}_{last.isoformat()}_at_{at.strftime('%Y%m%dT%H%MZ')}"


class MageApi:
    def __init__(self, base_url: str = DEFAULT_URL, *, email: str | None = None, password: str | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"X-API-KEY": MAGE_WEB_CLIENT_ID, "Accept": "application/json"})
        self._email, self._password = email, password
        self._logged_in = False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MageApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- transport
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if self._email and not self._logged_in:
            self._login()
        try:
            resp = self._http.request(method, f"/api/{path}", json=body)
        except httpx.HTTPError as exc:
            raise MageApiError(f"Mage at {self.base_url} is not reachable ({type(exc).__name__})",
                               next_step="start Mage (`docker compose up -d mage`) or pass --mage-url") from None
        return self._check(resp, path)

    def _check(self, resp: httpx.Response, path: str) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError:
            data = {}
        err = data.get("error") if isinstance(data, dict) else None
        if err or resp.status_code >= 400:
            code = (err or {}).get("code", resp.status_code) if isinstance(err, dict) else resp.status_code
            msg = (err or {}).get("message") if isinstance(err, dict) else None
            if code in (401, 403) or "token" in str(msg or "").lower() or "api key" in str(msg or "").lower():
                raise MageApiError(
                    f"Mage refused /api/{path} ({code}: {msg or 'login required'})",
                    next_step="give Mage's login with --email and --password (or MAGE_EMAIL / MAGE_PASSWORD); "
                    "the user needs the Editor role or higher")
            raise MageApiError(f"Mage refused /api/{path} ({code}: {msg or resp.text[:200]})",
                               next_step="check the pipeline name and the values, then run the command again")
        return data if isinstance(data, dict) else {}

    def _login(self) -> None:
        try:
            resp = self._http.post("/api/sessions", json={"session": {"email": self._email,
                                                                     "password": self._password}})
        except httpx.HTTPError as exc:
            raise MageApiError(f"Mage at {self.base_url} is not reachable ({type(exc).__name__})",
                               next_step="start Mage (`docker compose up -d mage`) or pass --mage-url") from None
        data = self._check(resp, "sessions")
        token = (data.get("session") or {}).get("token")
        if not token:
            raise MageApiError("Mage's login answered without a token", next_step="check --email and --password")
        self._http.cookies.set("oauth_token", str(token))
        self._logged_in = True

    # ---------------------------------------------------------------- triggers
    def create_once_trigger(self, pipeline: str, name: str, start_time: datetime,
                            variables: dict[str, str], description: str = "") -> Trigger:
        body = {"pipeline_schedule": {
            "name": name, "description": description, "schedule_type": "time", "schedule_interval": "@once",
            "start_time": start_time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "status": "active", "variables": variables,
        }}
        data = self._call("POST", f"pipelines/{pipeline}/pipeline_schedules", body)
        return _trigger(data.get("pipeline_schedule") or {}, pipeline)

    def triggers(self, pipeline: str) -> list[Trigger]:
        data = self._call("GET", f"pipelines/{pipeline}/pipeline_schedules")
        return [_trigger(s, pipeline) for s in data.get("pipeline_schedules") or []]

    def update_trigger(self, trigger_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """What the UI's trigger page sends when an operator saves a trigger."""
        data = self._call("PUT", f"pipeline_schedules/{trigger_id}", {"pipeline_schedule": changes})
        return dict(data.get("pipeline_schedule") or {})


def _trigger(s: dict[str, Any], pipeline: str) -> Trigger:
    raw = str(s.get("start_time") or "")
    try:
        start = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        start = datetime.min.replace(tzinfo=timezone.utc)
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    return Trigger(int(s.get("id") or 0), str(s.get("name") or ""), pipeline, start, str(s.get("status") or ""),
                   {str(k): str(v) for k, v in (s.get("variables") or {}).items()})


def schedule_backfill(api: MageApi, entity: Entity, fecha_inicio: str, fecha_fin: str, at: datetime) -> Trigger:
    """A fresh, active one-time trigger of `qb_<entity>_backfill` for these dates at `at` (UTC)."""
    first, last = check_range(fecha_inicio, fecha_fin)
    name = trigger_name(entity, first, last, at)
    existing = [t for t in api.triggers(entity.pipeline) if t.name == name]
    if existing:
        raise MageApiError(f"trigger {name!r} exists already (id {existing[0].id}, {existing[0].status})",
                           next_step="pick another --at, or delete that trigger in Mage > Triggers")
    variables = {"fecha_inicio": first.isoformat(), "fecha_fin": last.isoformat()}
    return api.create_once_trigger(
        entity.pipeline, name, at, variables,
        description=f"One-time backfill of {entity.name} {first}..{last}, created by `qbo-ingest mage schedule`; "
                    "set inactive by the pipeline after a successful run")


def describe(t: Trigger, entity: Entity) -> list[str]:
    local = t.start_time.astimezone(GUAYAQUIL).strftime("%Y-%m-%d %H:%M")
    now = datetime.now(timezone.utc)
    when = ("at the scheduler's next tick (the time is past)" if t.start_time <= now
            else f"at {t.start_time:%Y-%m-%d %H:%M} UTC ({local} America/Guayaquil)")
    return [
        f"Trigger {t.name!r} (id {t.id}, @once, {t.status}) created: Mage runs {t.pipeline} {when} with "
        f"fecha_inicio={t.variables.get('fecha_inicio')} fecha_fin={t.variables.get('fecha_fin')}.",
        f"Follow it in Mage > Pipelines > {t.pipeline} > Runs; every day is a block run "
        f"load_day:{entity.block_name('<YYYY-MM-DD>')}. After a successful run the pipeline sets the trigger "
        "inactive; if a day failed, fix the cause and press 'Retry incomplete blocks' on that run.",
    ]
