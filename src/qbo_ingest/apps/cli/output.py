"""What the CLI prints: run reports, the ledger, the spec's records-per-day chart, a progress bar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qbo_ingest.pipeline.report import DayOutcome, RunReport

console = Console(stderr=False, highlight=False)
if not console.is_terminal:  # piped or captured: don't squeeze tables into 80 columns
    console = Console(stderr=False, highlight=False, width=150)


class progress:
    """A rich progress bar fed by the engine's per-day callback (a no-op when disabled)."""

    def __init__(self, enabled: bool, *, total: int) -> None:
        self.enabled = enabled and console.is_terminal
        self.total = total
        self._bar: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=console, transient=True)
        self._bar.start()
        self._task = self._bar.add_task("days", total=self.total)
        return self._advance

    def _advance(self, out: DayOutcome) -> None:
        assert self._bar is not None
        self._bar.update(self._task, advance=1, description=f"{out.entity} {out.day}")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def print_report(report: RunReport) -> None:
    t = Table(title=f"run {report.run_id}: {len(report.outcomes)} day(s) in {report.seconds:.1f}s")
    for col in ("entity", "days ok", "days failed", "rows fetched", "rows upserted", "requests"):
        t.add_column(col, justify="right" if col != "entity" else "left")
    by: dict[str, list[DayOutcome]] = {}
    for o in report.outcomes:
        by.setdefault(o.entity, []).append(o)
    for name, outs in sorted(by.items()):
        ok = sum(1 for o in outs if o.status == "succeeded")
        bad = sum(1 for o in outs if o.status == "failed")
        t.add_row(name, str(ok), str(bad), str(sum(o.rows_fetched for o in outs)),
                  str(sum(o.rows_upserted for o in outs)), str(sum(o.requests for o in outs)))
    console.print(t)
    console.print(f"QBO requests: {report.requests}")
    for o in report.open_days:
        console.print(f"{o.entity} {o.day}: not ended yet (UTC), {o.rows_fetched} record(s) loaded so far; "
                      "not closed in the ledger")
    if report.stopped:
        console.print(f"[yellow]stopped: {report.stopped}; {report.pending} day(s) not loaded stay pending. "
                      "Next: the same command with --resume[/yellow]")
    for m in report.source_mismatches:
        console.print(f"[yellow]source mismatch: {m}[/yellow]")
    for o in report.failed[:20]:
        console.print(f"[red]failed {o.entity} {o.day}: {o.error}[/red]")
    if len(report.failed) > 20:
        console.print(f"[red]... and {len(report.failed) - 20} more failed day(s)[/red]")
    if report.failed and not report.stopped:
        console.print("Next: qbo-ingest retry-failed  (or rerun backfill with --resume)")


def print_status(rows: Sequence[Any], *, per_day: bool) -> None:
    if not rows:
        console.print("No ledger rows yet. Run: qbo-ingest backfill <Entity> --fecha-inicio ... --fecha-fin ...")
        return
    if per_day:
        t = Table(title="ledger by day")
        for col in ("entity", "day", "status", "fetched", "upserted", "pages", "requests", "retries", "error"):
            t.add_column(col)
        for r in rows:
            t.add_row(r.entity, str(r.day), r.status, str(r.rows_fetched), str(r.rows_upserted), str(r.pages),
                      str(r.requests), str(r.retries), (r.error or "")[:60])
        console.print(t)
        return
    agg: dict[str, dict[str, Any]] = {}
    for r in rows:
        a = agg.setdefault(r.entity, {"days": 0, "ok": 0, "failed": 0, "running": 0, "fetched": 0,
                                      "upserted": 0, "requests": 0, "first": r.day, "last": r.day})
        a["days"] += 1
        key = {"succeeded": "ok", "failed": "failed"}.get(r.status, "running")
        a[key] += 1
        a["fetched"] += r.rows_fetched or 0
        a["upserted"] += r.rows_upserted or 0
        a["requests"] += r.requests or 0
        a["first"], a["last"] = min(a["first"], r.day), max(a["last"], r.day)
    t = Table(title="ledger by entity")
    for col in ("entity", "from", "to", "days", "ok", "failed", "running", "fetched", "upserted", "requests"):
        t.add_column(col)
    for name, a in sorted(agg.items()):
        t.add_row(name, str(a["first"]), str(a["last"]), str(a["days"]), str(a["ok"]),
                  f"[red]{a['failed']}[/red]" if a["failed"] else "0", str(a["running"]), str(a["fetched"]),
                  str(a["upserted"]), str(a["requests"]))
    console.print(t)


def print_daily_chart(counts: Sequence[tuple[date, int]], start: date | None, end: date | None,
                      width: int = 40, max_rows: int = 62) -> None:
    """The spec's manual SQL (records per extract day) as a small bar chart."""
    rows = [(d, n) for d, n in counts if (start is None or d >= start) and (end is None or d <= end)]
    if not rows:
        return
    rows = rows[-max_rows:]
    top = max(n for _, n in rows) or 1
    console.print("fecha_proceso  total_registros")
    for d, n in rows:
        console.print(f"{d}  {n:>8}  {'█' * max(1 if n else 0, round(width * n / top))}")




def print_estimate(est: Any) -> None:
    """`qbo-ingest plan`: the backfill's requests per entity, what the estimate cost, the month's budget."""
    t = Table(title="backfill estimate (QBO requests)")
    for col in ("entity", "days", "runs", "records (QBO COUNT)", "streams", "data requests", "COUNT requests",
                "requests"):
        t.add_column(col, justify="left" if col == "entity" else "right")
    for x in est.lines:
        t.add_row(x.entity, str(x.days), str(x.runs), f"{x.records:,}", str(x.streams), str(x.data_requests),
                  str(x.count_requests), str(x.requests))
    console.print(t)
    console.print(f"estimated: {est.requests:,} metered request(s) (+ at most 1 token refresh); this estimate "
                  f"itself cost {est.estimate_cost} COUNT request(s), one per run of days (already in the book)")
    used = est.month_used + est.estimate_cost
    if est.monthly_budget:
        left = est.monthly_budget - used
        console.print(f"this month: {used:,} of {est.monthly_budget:,} metered calls used; {left:,} left"
                      f"{'' if est.requests <= left else ' - NOT enough: the backfill would stop, use --max-requests'}")
    else:
        console.print(f"this month: {used:,} metered calls used (no QBO_MONTHLY_CALL_BUDGET set)")


def print_month_calls(all_realms: dict[str, int], realm: dict[str, int] | None, *, month: date,
                      budget: int | None, realm_id: str | None) -> None:
    """`qbo-ingest status`: this month's QBO calls against the monthly budget."""
    def metered(calls: dict[str, int]) -> int:
        return sum(n for k, n in calls.items() if k != "token")

    total = metered(all_realms)
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(all_realms.items()) if k != "token") or "none"
    tokens = all_realms.get("token", 0)
    line = f"QBO calls in {month:%Y-%m} (UTC): {total:,} metered ({kinds}); token refreshes {tokens:,}"
    if realm is not None and realm_id and metered(realm) != total:
        line += f"; realm {realm_id}: {metered(realm):,}"
    if budget:
        line += f"; budget {budget:,} (QBO_MONTHLY_CALL_BUDGET): {total / budget:.1%} used, {budget - total:,} left"
    else:
        line += "; no QBO_MONTHLY_CALL_BUDGET set (Intuit's Builder tier includes 500,000 a month)"
    console.print(line)
