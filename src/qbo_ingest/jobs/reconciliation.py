"""Source reconciliation: QBO `COUNT(*)` next to the non-deleted rows in `raw`, per entity and window.

Cheap by bisection: one COUNT covers a whole span; only a span whose counts differ is split in two,
down to single days, so the mismatching days are named and equal spans cost one request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import Entity
from qbo_ingest.pipeline.engine import Engine
from qbo_ingest.windows import DateLike, Window, daily_windows

UTC = timezone.utc


@dataclass(frozen=True)
class Line:
    entity: str
    window: Window
    qbo: int
    raw: int

    @property
    def ok(self) -> bool:
        return self.qbo == self.raw


@dataclass
class ReconcileReport:
    lines: list[Line]
    requests: int

    @property
    def mismatches(self) -> list[Line]:
        return [x for x in self.lines if not x.ok]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def reconcile(engine: Engine, entities: Sequence[Entity], fecha_inicio: DateLike, fecha_fin: DateLike, *,
              now: Callable[[], datetime] | None = None) -> ReconcileReport:
    windows = daily_windows(fecha_inicio, fecha_fin)
    clock = now or (lambda: datetime.now(UTC))
    span = Window(windows[0].start, min(windows[-1].end, _next_second(clock())))
    lines: list[Line] = []
    requests = 0
    with wh.connect(engine.dsn) as conn:
        wh.ensure_schema(conn, list(entities))
        for e in entities:
            stack = [span]
            while stack:
                w = stack.pop()
                qbo = int(engine.client.count(e, w.start, w.end))
                requests += 1
                raw = wh.count_rows(conn, e, engine.realm_id, w.start, w.end)
                if qbo == raw or w.end - w.start <= timedelta(days=1):
                    lines.append(Line(e.name, w, qbo, raw))
                    continue
                mid = _midnight_between(w)
                stack.extend([Window(mid, w.end), Window(w.start, mid)])
    lines.sort(key=lambda x: (x.entity, x.window.start))
    return ReconcileReport(lines, requests)


def _midnight_between(w: Window) -> datetime:
    days = (w.end - w.start).days
    return w.start + timedelta(days=max(1, days // 2))


def _next_second(t: datetime) -> datetime:
    return t.replace(microsecond=0) + timedelta(seconds=1)


def window_label(w: Window) -> str:
    last: date = (w.end - timedelta(microseconds=1)).date()
    first = w.start.date()
    return first.isoformat() if first == last else f"{first}..{last}"
