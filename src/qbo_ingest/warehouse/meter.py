"""The metered-call book: QBO requests per realm, calendar month (UTC) and kind (`qbo_ingest.api_calls`).

Intuit meters CorePlus calls per month (the Builder tier includes 500,000; past it reads are blocked
until the next month). Token refreshes are stored under kind `token` and never counted as metered.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

import psycopg

TOKEN = "token"  # noqa: S105 - the kind of a token refresh, not a secret


def month_of(at: datetime | date | None = None) -> date:
    """The first day of the UTC calendar month of `at` (default: now)."""
    if at is None:
        at = datetime.now(timezone.utc)
    if isinstance(at, datetime):
        at = at.astimezone(timezone.utc).date() if at.tzinfo else at.date()
    return at.replace(day=1)


def record_calls(conn: psycopg.Connection[Any], realm_id: str, calls: Mapping[str, int], *,
                 month: date | None = None) -> None:
    """Add `calls` (kind -> number) to the month's book; one transaction."""
    items = [(k, int(n)) for k, n in calls.items() if n]
    if not items:
        return
    m = month or month_of()
    with conn.transaction():
        conn.execute(
            """INSERT INTO qbo_ingest.api_calls AS a (realm_id, month, kind, calls)
SELECT %s, %s, k, n FROM unnest(%s::text[], %s::bigint[]) AS t(k, n)
ON CONFLICT (realm_id, month, kind) DO UPDATE SET calls = a.calls + EXCLUDED.calls, updated_at = now()""",
            (realm_id, m, [k for k, _ in items], [n for _, n in items]),
        )


def month_calls(conn: psycopg.Connection[Any], *, month: date | None = None,
                realm_id: str | None = None) -> dict[str, int]:
    """The month's calls by kind (token included), for one realm or all realms of this database."""
    m = month or month_of()
    with conn.transaction():
        rows = conn.execute(
            "SELECT kind, sum(calls) FROM qbo_ingest.api_calls WHERE month = %s AND (%s::text IS NULL OR "
            "realm_id = %s) GROUP BY kind ORDER BY kind", (m, realm_id, realm_id)).fetchall()
    return {str(k): int(n) for k, n in rows}


def metered(calls: Mapping[str, int]) -> int:
    """The calls Intuit meters (every kind but token)."""
    return sum(n for k, n in calls.items() if k != TOKEN)
