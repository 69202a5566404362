"""Parse QBO query statements with a real grammar (`query.lark`) into a small `Query` value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedInput

from qbo_ingest.local.emulator.capabilities import Schema
from qbo_ingest.local.emulator.timefmt import PACIFIC, UTC

MAX_RESULTS = 1000
DEFAULT_MAX_RESULTS = 100
TIME_FIELDS = ("MetaData.LastUpdatedTime", "MetaData.CreateTime")

_GRAMMAR = (Path(__file__).with_name("query.lark")).read_text(encoding="utf-8")
_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)


class QueryError(Exception):
    """An Intuit ValidationFault for a bad query (HTTP 400)."""

    def __init__(self, code: str, message: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.message = message
        self.detail = detail


def parser_error(detail: str) -> QueryError:
    return QueryError("4000", "Error parsing query", f"QueryParserError: {detail}")


def validation_error(detail: str) -> QueryError:
    return QueryError("4001", "Invalid query", f"QueryValidationError: {detail}")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # = < > <= >= IN LIKE
    value: Any  # scalar, or a tuple for IN; time fields hold epoch seconds

    def key(self) -> tuple[str, str, Any]:
        return (self.field, self.op, self.value)


@dataclass(frozen=True)
class Query:
    entity: str
    count: bool
    conditions: tuple[Condition, ...]
    order_field: str | None
    descending: bool
    start: int
    max_results: int
    # A select list: the properties to return (None: every property, for `*` and `*, X`)
    fields: tuple[str, ...] | None = None

    def filter_key(self) -> tuple[Any, ...]:
        """What decides the result set (not the page): entity, conditions, order."""
        return (self.entity, tuple(c.key() for c in self.conditions), self.order_field, self.descending)

    def has_condition(self, field: str) -> bool:
        return any(c.field == field for c in self.conditions)


_TS = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$")


def parse_instant(text: str) -> float:
    """A QBO time literal as epoch seconds. Without an offset (or date only) it is Pacific time,
    the zone QBO's own timestamps are written in (unconfirmed upstream; clients should send one)."""
    m = _TS.match(text.strip())
    if not m:
        raise validation_error(f"Invalid date/time value '{text}'")
    day, clock, offset = m.groups()
    try:
        d = datetime.fromisoformat(day)
        if clock is None:
            return d.replace(tzinfo=PACIFIC).timestamp()
        if clock.count(":") == 1:
            clock += ":00"
        if "." in clock:  # Python 3.10 only parses 3 or 6 fraction digits
            whole, frac = clock.split(".")
            clock = f"{whole}.{(frac + '000000')[:6]}"
        t = time.fromisoformat(clock)
        dt = datetime.combine(d.date(), t)
        if offset is None:
            return dt.replace(tzinfo=PACIFIC).timestamp()
        if offset == "Z":
            return dt.replace(tzinfo=UTC).timestamp()
        off = offset if ":" in offset else offset[:3] + ":" + offset[3:]
        return datetime.fromisoformat(dt.isoformat() + off).timestamp()
    except ValueError:
        raise validation_error(f"Invalid date/time value '{text}'") from None


class _Build(Transformer[Token, Any]):
    def string(self, items: list[Token]) -> str:
        return str(items[0])[1:-1].replace("\\'", "'")

    def number(self, items: list[Token]) -> float | int:
        s = str(items[0])
        return float(s) if "." in s else int(s)

    def true(self, _items: list[Token]) -> bool:
        return True

    def false(self, _items: list[Token]) -> bool:
        return False

    def star(self, _items: list[Token]) -> tuple[str, tuple[str, ...]]:
        return ("star", ())

    def star_plus(self, items: list[Token]) -> tuple[str, tuple[str, ...]]:
        return ("star", tuple(str(t) for t in items))

    def count(self, _items: list[Token]) -> tuple[str, tuple[str, ...]]:
        return ("count", ())

    def all_fields(self, _items: list[Token]) -> str:
        return "*"

    def one_field(self, items: list[Token]) -> str:
        return str(items[0])

    def fields(self, items: list[Any]) -> tuple[str, tuple[str, ...]]:
        names = (str(items[0]), *items[1:])
        if "*" in names:
            return ("star", tuple(n for n in names if n != "*"))
        return ("fields", names)

    def compare(self, items: list[Any]) -> Condition:
        return Condition(str(items[0]), str(items[1]), items[2])

    def in_list(self, items: list[Any]) -> Condition:
        return Condition(str(items[0]), "IN", tuple(items[1:]))

    def like(self, items: list[Any]) -> Condition:
        raw = str(items[1])[1:-1].replace("\\'", "'")
        return Condition(str(items[0]), "LIKE", raw)

    def where(self, items: list[Condition]) -> tuple[str, tuple[Condition, ...]]:
        return ("where", tuple(items))

    def orderby(self, items: list[Token]) -> tuple[str, tuple[str, bool]]:
        desc = len(items) > 1 and str(items[1]).upper() == "DESC"
        return ("orderby", (str(items[0]), desc))

    def startposition(self, items: list[Token]) -> tuple[str, int]:
        return ("start", int(items[0]))

    def maxresults(self, items: list[Token]) -> tuple[str, int]:
        return ("max", int(items[0]))


def _condition(field: str, op: str, value: Any) -> Condition:
    if field in TIME_FIELDS and op != "LIKE":
        values = value if isinstance(value, tuple) else (value,)
        if not all(isinstance(v, str) for v in values):
            raise validation_error(f"{field} needs a quoted date/time value")
        conv = tuple(parse_instant(v) for v in values)
        value = conv if isinstance(value, tuple) else conv[0]
    return Condition(field, op, value)


def _property(schema: Schema, entity: str, name: str) -> str:
    exact = schema.property(entity, name)
    if exact is None:
        raise validation_error(f"Property {name} not found for Entity {entity}")
    return exact


@lru_cache(maxsize=2048)
def parse(statement: str, schema: Schema) -> Query:
    """Parse one statement; raises `QueryError` shaped like Intuit's faults."""
    text = statement.strip().rstrip(";")
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        if token is not None and getattr(token, "type", "") == "$END":
            shown = "<EOF>"
        elif token is not None and str(token):
            shown = str(token)
        else:
            rest = text[exc.pos_in_stream or 0:]
            shown = (rest.split() or [""])[0][:20]
        raise parser_error(
            f'Encountered "{shown}" at line {exc.line}, column {exc.column}.'
            if shown else f"Unexpected end of statement at line {exc.line}, column {exc.column}."
        ) from None
    built = _Build().transform(tree)
    children = list(built.children)
    projection, selected = children[0]
    entity = str(children[1])
    if entity not in schema:
        raise parser_error(f"Entity '{entity}' is not supported or the name is misspelled "
                           "(entity names are case-sensitive)")
    # Property names are case-insensitive in QBO; an unknown one is a 400 before any record is looked at.
    fields = tuple(dict.fromkeys(_property(schema, entity, f) for f in selected))
    opts = dict(children[2:])
    conditions = tuple(_condition(_property(schema, entity, c.field), c.op, c.value)
                       for c in opts.get("where", ()))
    start = max(1, int(opts.get("start", 1)))
    max_results = int(opts.get("max", DEFAULT_MAX_RESULTS))
    if max_results > MAX_RESULTS:
        raise validation_error(f"value {max_results} is too large. Max allowed value is {MAX_RESULTS}")
    order_field, desc = opts.get("orderby", (None, False))
    if order_field is not None:
        order_field = _property(schema, entity, order_field)
    return Query(entity, projection == "count", conditions, order_field, desc, start, max_results,
                 fields if projection == "fields" else None)


def like_regex(pattern: str) -> re.Pattern[str]:
    """QBO LIKE supports `%` only; matching is case-insensitive."""
    parts = [re.escape(p) for p in pattern.split("%")]
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)
