"""Change Data Capture: what QBO accepts (30 days back at most, CDC-capable entities) and its answer
flattened by entity (QboClient.cdc)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import FatalApiError
from qbo_ingest.records import to_qbo_literal

CDC_MAX_DAYS = 30


def check(ents: list[Entity], changed_since: datetime, now: datetime) -> None:
    """Refuse what QBO would refuse, with the next step."""
    if changed_since.tzinfo is None:
        raise ValueError("changed_since must be timezone-aware")
    if now - changed_since > timedelta(days=CDC_MAX_DAYS):
        raise FatalApiError(
            f"CDC looks back at most {CDC_MAX_DAYS} days; changedSince={to_qbo_literal(changed_since)} "
            f"is {(now - changed_since).days} days back",
            kind="cdc_too_old", next_step="use a query backfill (`pages`) for older changes",
        )
    unsupported = [e.name for e in ents if not e.cdc]
    if unsupported:
        raise FatalApiError(
            f"QBO CDC does not support {', '.join(unsupported)}", kind="cdc_unsupported",
            next_step="query these entities by LastUpdatedTime instead",
        )


def by_entity(data: dict[str, Any], ents: list[Entity], log: logging.Logger) -> dict[str, list[dict[str, Any]]]:
    """The CDCResponse's objects (deleted stubs included) by entity name."""
    out: dict[str, list[dict[str, Any]]] = {e.name: [] for e in ents}
    for block in data.get("CDCResponse") or []:
        for qr in block.get("QueryResponse") or []:
            for key, value in qr.items():
                if isinstance(value, list):
                    out.setdefault(key, []).extend(value)
    total = sum(len(v) for v in out.values())
    if total >= 1000:
        log.warning("CDC answer holds %d objects (QBO's cap is 1000): query a narrower span", total)
    return out
