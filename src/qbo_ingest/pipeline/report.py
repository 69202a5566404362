"""What a run reports: one outcome per (entity, day), and the run's totals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date


@dataclass
class DayOutcome:
    entity: str
    day: date
    status: str  # succeeded | failed | open (the day had not ended: loaded, not closed in the ledger)
    rows_fetched: int
    rows_upserted: int
    requests: int
    error: str | None = None


@dataclass
class RunReport:
    run_id: str
    outcomes: list[DayOutcome] = field(default_factory=list)
    requests: int = 0
    source_mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str | None = None  # why the run stopped before its plan was done (the request budget, QBO's cap)
    pending: int = 0  # days of the plan not loaded because of the stop (no ledger row): for --resume

    @property
    def failed(self) -> list[DayOutcome]:
        return [o for o in self.outcomes if o.status not in ("succeeded", "open")]

    @property
    def open_days(self) -> list[DayOutcome]:
        return [o for o in self.outcomes if o.status == "open"]

    @property
    def ok(self) -> bool:
        return not self.failed and self.stopped is None

    @property
    def rows_fetched(self) -> int:
        return sum(o.rows_fetched for o in self.outcomes)

    @property
    def rows_upserted(self) -> int:
        return sum(o.rows_upserted for o in self.outcomes)


ProgressFn = Callable[[DayOutcome], None]


