"""QBO query statements for one entity and a time range: the WHERE every read shares, the paged
SELECT and the COUNT. The replication key comes from the catalogue (`MetaData.LastUpdatedTime`)."""

from __future__ import annotations

from datetime import datetime, timezone

from qbo_ingest.catalogue import Entity
from qbo_ingest.records import to_qbo_literal
from qbo_ingest.windows import Window

MAX_PAGE = 1000  # QBO's MAXRESULTS cap


def where(ent: Entity, start: datetime, end: datetime) -> str:
    """`start <= key < end`, plus `Active IN (true, false)` for lists that hide inactive rows."""
    key = ent.replication_key
    conds = [f"{key} >= '{to_qbo_literal(start)}'", f"{key} < '{to_qbo_literal(end)}'"]
    if ent.needs_active_filter:
        conds.append("Active IN (true, false)")
    return " AND ".join(conds)


def select(ent: Entity, start: datetime, end: datetime, size: int, position: int | None = None) -> str:
    """One page in key order; `position` (1-based STARTPOSITION) reads past a page of equal keys."""
    stmt = f"SELECT * FROM {ent.name} WHERE {where(ent, start, end)} ORDERBY {ent.replication_key}"
    if position is not None:
        stmt += f" STARTPOSITION {position}"
    return stmt + f" MAXRESULTS {size}"


def count(ent: Entity, start: datetime, end: datetime) -> str:
    return f"SELECT COUNT(*) FROM {ent.name} WHERE {where(ent, start, end)}"


def label(start: datetime, end: datetime) -> str:
    """`2025-10-15` / `2025-10-15..2025-10-20` for whole UTC days, else the two literals."""
    if all(t.astimezone(timezone.utc).time() == datetime.min.time() for t in (start, end)):
        return Window(start.astimezone(timezone.utc), end.astimezone(timezone.utc)).label
    return f"{to_qbo_literal(start)}..{to_qbo_literal(end)}"
