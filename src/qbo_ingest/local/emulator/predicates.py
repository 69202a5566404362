"""Conditions of an emulator query applied to records and payloads: bounds, predicates, order (store.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qbo_ingest.local.emulator.query import TIME_FIELDS, Condition, Query, like_regex
from qbo_ingest.local.emulator.records import Rec

REC_FIELDS = {"Id", "Active", "SyncToken", *TIME_FIELDS}


def filter_objects(objs: list[dict[str, Any]], q: Query) -> list[dict[str, Any]]:
    """A query over a fixed set of objects (Preferences, ExchangeRate, ...): WHERE, then ORDERBY."""
    preds = [payload_pred(c) for c in q.conditions]
    out = [o for o in objs if all(p(o) for p in preds)]
    if q.order_field is not None:
        field = q.order_field

        def key(o: dict[str, Any]) -> Any:
            v = field_value(o, field)
            return (0, 0.0, "") if v is None else (1, float(v), "") if isinstance(v, (int, float)) else (2, 0.0, str(v))

        out.sort(key=key, reverse=q.descending)
    return out


def bounds(conds: tuple[Condition, ...], field: str) -> tuple[float | None, float | None]:
    lo: float | None = None
    hi: float | None = None
    for c in conds:
        if c.field != field:
            continue
        vals = c.value if isinstance(c.value, tuple) else (c.value,)
        if c.op in (">", ">=", "=", "IN"):
            v = min(vals)
            lo = v if lo is None else max(lo, v)
        if c.op in ("<", "<=", "=", "IN"):
            v = max(vals)
            hi = v if hi is None else min(hi, v)
    return lo, hi


def ids_wanted(conds: tuple[Condition, ...]) -> set[int] | None:
    """The Ids an `Id = x` / `Id IN (...)` condition allows (None: no such condition)."""
    wanted: set[int] | None = None
    for c in conds:
        if c.field == "Id" and c.op in ("=", "IN"):
            vals = c.value if c.op == "IN" else (c.value,)
            ids = {i for i in (as_int(v) for v in vals) if i is not None and i > 0}
            wanted = ids if wanted is None else wanted & ids
    return wanted


def cmp(op: str, a: Any, b: Any) -> bool:
    try:
        if op == "=":
            return bool(a == b)
        if op == "<":
            return bool(a < b)
        if op == ">":
            return bool(a > b)
        if op == "<=":
            return bool(a <= b)
        if op == ">=":
            return bool(a >= b)
    except TypeError:
        return False
    return False


def as_bool(v: Any) -> Any:
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return v


def as_int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def rec_pred(c: Condition) -> Callable[[Rec], bool]:
    getter: Callable[[Rec], Any]
    conv: Callable[[Any], Any]
    if c.field == "Id":
        getter, conv = (lambda r: r.id), as_int
    elif c.field == "SyncToken":
        getter, conv = (lambda r: r.sync), as_int
    elif c.field == "Active":
        getter, conv = (lambda r: r.active), as_bool
    elif c.field == "MetaData.LastUpdatedTime":
        getter, conv = (lambda r: r.lut), float
    else:
        getter, conv = (lambda r: r.ct), float
    if c.op == "IN":
        allowed = {conv(v) for v in c.value}
        return lambda r: getter(r) in allowed
    if c.op == "LIKE":
        rx = like_regex(str(c.value))
        return lambda r: rx.match(str(getter(r))) is not None
    target = conv(c.value)
    op = c.op
    return lambda r: cmp(op, getter(r), target)


def field_value(obj: dict[str, Any], field: str) -> Any:
    cur: Any = obj
    for part in field.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    if isinstance(cur, dict) and "value" in cur:
        cur = cur["value"]
    return cur


def coerce(actual: Any, literal: Any) -> Any:
    if isinstance(actual, bool):
        return as_bool(literal)
    if isinstance(actual, (int, float)) and isinstance(literal, str):
        try:
            return float(literal)
        except ValueError:
            return literal
    if isinstance(actual, str) and isinstance(literal, (int, float)) and not isinstance(literal, bool):
        return str(literal)
    return literal


def payload_pred(c: Condition) -> Callable[[dict[str, Any]], bool]:
    field, op = c.field, c.op
    if op == "LIKE":
        rx = like_regex(str(c.value))
        return lambda o: (v := field_value(o, field)) is not None and rx.match(str(v)) is not None
    if op == "IN":
        vals = c.value
        return lambda o: (v := field_value(o, field)) is not None and any(v == coerce(v, x) for x in vals)
    lit = c.value
    return lambda o: (v := field_value(o, field)) is not None and cmp(op, v, coerce(v, lit))


def prefix_ok(q: Query) -> bool:
    """A query whose first records can be found by scanning days in order: ascending LastUpdatedTime, with
    conditions on the record's own fields only (no payload field, no Id list)."""
    return (q.order_field == "MetaData.LastUpdatedTime" and not q.descending and not q.count
            and all(c.field in REC_FIELDS for c in q.conditions) and ids_wanted(q.conditions) is None)


def sort_key(field: str | None, payloads: dict[int, dict[str, Any]]) -> Callable[[Rec], Any]:
    if field is None or field == "Id":
        return lambda r: r.id
    if field == "MetaData.LastUpdatedTime":
        return lambda r: (r.lut, r.id)
    if field == "MetaData.CreateTime":
        return lambda r: (r.ct, r.id)
    if field == "SyncToken":
        return lambda r: (r.sync, r.id)
    if field == "Active":
        return lambda r: (r.active, r.id)

    def key(r: Rec) -> Any:
        v = field_value(payloads[r.id], field)
        if v is None:
            return (0, 0.0, "", r.id)
        if isinstance(v, (int, float)):
            return (1, float(v), "", r.id)
        return (2, 0.0, str(v), r.id)

    return key
