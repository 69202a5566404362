"""What each CLI command does, as library functions (settings -> engine -> rich output)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qbo_ingest import warehouse as wh
from qbo_ingest.backfill import DayOutcome, RunReport
from qbo_ingest.entities import Entity
from qbo_ingest.settings import Settings
from qbo_ingest.windows import daily_windows, parse_day

console = Console(stderr=False, highlight=False)
if not console.is_terminal:  # piped or captured: don't squeeze tables into 80 columns
    console = Console(stderr=False, highlight=False, width=150)


def _today() -> date:
    """Today in UTC: a fecha_inicio after it is a typo (there is nothing to load yet)."""
    return datetime.now(timezone.utc).date()


def _settings(settings: Settings | None) -> Settings:
    return settings or Settings.load()


def backfill(entities: Sequence[Entity], fecha_inicio: object, fecha_fin: object, *, resume: bool = False,
             concurrency: int = 4, progress: bool = True, settings: Settings | None = None) -> RunReport:
    from qbo_ingest import runtime

    n_days = len(daily_windows(fecha_inicio, fecha_fin, today=_today()))  # validate before touching anything
    s = _settings(settings)
    with _progress(progress, total=n_days * len(entities)) as on_day, \
            runtime.engine(s, concurrency=concurrency, on_day=on_day) as eng:
        return eng.backfill(list(entities), fecha_inicio, fecha_fin, resume=resume)


def retry_failed(entities: Sequence[Entity], *, start: object = None, end: object = None,
                 concurrency: int = 4, settings: Settings | None = None) -> RunReport:
    from qbo_ingest import runtime

    s = _settings(settings)
    with runtime.engine(s, concurrency=concurrency) as eng:
        return eng.retry_failed(list(entities), start=start, end=end)


class _progress:
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
        t.add_row(name, str(ok), str(len(outs) - ok), str(sum(o.rows_fetched for o in outs)),
                  str(sum(o.rows_upserted for o in outs)), str(sum(o.requests for o in outs)))
    console.print(t)
    console.print(f"QBO requests: {report.requests}")
    for m in report.source_mismatches:
        console.print(f"[yellow]source mismatch: {m}[/yellow]")
    for o in report.failed[:20]:
        console.print(f"[red]failed {o.entity} {o.day}: {o.error}[/red]")
    if len(report.failed) > 20:
        console.print(f"[red]... and {len(report.failed) - 20} more failed day(s)[/red]")
    if report.failed:
        console.print("Next: qbo-ingest retry-failed  (or rerun backfill with --resume)")


def status(entities: Sequence[Entity] | None, *, start: object = None, end: object = None,
           per_day: bool = False, settings: Settings | None = None) -> None:
    s_day = parse_day(start, name="--from") if start else None
    e_day = parse_day(end, name="--to") if end else None
    s = settings or Settings.load(require=("postgres",))
    names = [e.name for e in entities] if entities else None
    with wh.connect(s.dsn()) as conn:
        wh.ensure_schema(conn, list(entities) if entities else None)
        rows = wh.ledger_summary(conn, realm_id=s.realm_id or None, entities=names, start=s_day, end=e_day)
        print_status(rows, per_day=per_day)
        if entities and len(entities) == 1:
            print_daily_chart(wh.daily_counts(conn, entities[0], s.realm_id or None), s_day, e_day)


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


def db_init(*, loader_role: str, analyst_role: str, settings: Settings | None = None) -> None:
    import os

    s = settings or Settings.load(require=("postgres",))
    wh.init_db(s.dsn(), loader_role=loader_role, analyst_role=analyst_role,
               loader_password=os.environ.get("QBO_LOADER_PASSWORD"),
               analyst_password=os.environ.get("QBO_ANALYST_PASSWORD"))
    console.print(f"schemas raw and qbo_ingest ready; roles {loader_role} (loader) and {analyst_role} (read-only)")


def auth(*, port: int, open_browser: bool, settings: Settings | None = None) -> None:
    from qbo_ingest.auth_flow import run_auth

    s = settings or Settings.load(require=("postgres",))
    realm = run_auth(s, port=port, open_browser=open_browser)
    console.print(f"authorized realm {realm}; refresh token stored in qbo_ingest.oauth_tokens")


def sync(entities: Sequence[Entity], *, concurrency: int = 4, rescan: bool = False,
         settings: Settings | None = None) -> bool:
    from qbo_ingest import incremental, runtime

    s = _settings(settings)
    with runtime.engine(s, concurrency=concurrency) as eng:
        if rescan:
            for e in entities:
                n = incremental.rescan_deletes(eng, e)
                console.print(f"{e.name}: full re-scan marked {n} row(s) deleted")
        rep = incremental.sync(eng, list(entities))
    if rep.loads is not None:
        print_report(rep.loads)
    for name, n in sorted(rep.deleted.items()):
        if n:
            console.print(f"{name}: {n} deletion(s) from CDC marked (deleted_at_utc)")
    console.print(f"CDC requests: {rep.cdc_requests}")
    for note in rep.notes:
        console.print(f"[yellow]{note}[/yellow]")
    return rep.ok


def reconcile(entities: Sequence[Entity], fecha_inicio: object, fecha_fin: object, *,
              settings: Settings | None = None) -> bool:
    from qbo_ingest import reconcile as rec
    from qbo_ingest import runtime

    daily_windows(fecha_inicio, fecha_fin, today=_today())
    s = _settings(settings)
    with runtime.engine(s) as eng:
        rep = rec.reconcile(eng.client, eng.dsn, eng.realm_id, list(entities), fecha_inicio, fecha_fin)
    t = Table(title=f"reconcile {fecha_inicio}..{fecha_fin}: {rep.requests} COUNT request(s)")
    for col in ("entity", "window", "qbo", "raw", "diff", ""):
        t.add_column(col)
    for line in rep.lines:
        diff = line.raw - line.qbo
        t.add_row(line.entity, rec.window_label(line.window), str(line.qbo), str(line.raw),
                  f"{diff:+d}" if diff else "0", "ok" if line.ok else "[red]MISMATCH[/red]")
    console.print(t)
    if not rep.ok:
        console.print(f"[red]{len(rep.mismatches)} window(s) differ.[/red] Next: qbo-ingest backfill <Entity> "
                      "--fecha-inicio D --fecha-fin D for each, then qbo-ingest sync for deletions")
    return rep.ok
