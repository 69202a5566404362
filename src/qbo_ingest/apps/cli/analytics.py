"""What the analytics commands do: settings -> engine -> job -> output (reports, models build, tieout)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from qbo_ingest.apps import wiring
from qbo_ingest.apps.analytics import models
from qbo_ingest.apps.cli.output import console
from qbo_ingest.jobs.reports import REPORTS, load_reports
from qbo_ingest.jobs.tieout import tieout as run_tieout
from qbo_ingest.settings import Settings
from qbo_ingest.windows import parse_day


def reports(start: str, end: str, *, names: Sequence[str] | None = None, resume: bool = False,
            settings: Settings | None = None) -> bool:
    lo, hi = parse_day(start, name="--from"), parse_day(end, name="--to")
    s = settings or Settings.load()
    with wiring.engine(s) as eng:
        rep = load_reports(eng, lo, hi, names=list(names) if names else REPORTS, resume=resume)
    console.print(f"reports: {len(rep.loaded)} loaded, {rep.skipped} skipped (--resume), {len(rep.failed)} failed")
    for name, month, basis, err in rep.failed:
        console.print(f"[red]{name} {month:%Y-%m} {basis}: {err}[/red]")
    return rep.ok


def models_build(*, select: str | None = None, grant: Sequence[str] = (), settings: Settings | None = None) -> bool:
    s = settings or Settings.load(require=("postgres",))
    res = models.build(s.dsn(), select=select, readers=grant, dbt=s.dbt_bin, project=s.dbt_project_dir)
    tail = [ln for ln in res.output.splitlines() if ln.strip()][-12:]
    for ln in tail:
        console.print(ln, markup=False, highlight=False)
    console.print(f"dbt build {'passed' if res.ok else 'FAILED'} in {res.seconds:.1f}s")
    return res.ok


def tieout(start: str, end: str, *, settings: Settings | None = None) -> bool:
    lo, hi = parse_day(start, name="--from"), parse_day(end, name="--to")
    s = settings or Settings.load()
    with wiring.engine(s) as eng:
        rep = run_tieout(eng, lo, hi)
    t = Table(title=f"tie-out {lo:%Y-%m}..{hi:%Y-%m}: {rep.compared} figure(s) compared, "
                    f"{len(rep.differences)} difference(s)")
    for col in ("statement", "basis", "month", "account", "warehouse", "qbo", "difference"):
        t.add_column(col, justify="right" if col in ("warehouse", "qbo", "difference") else "left")
    for d in rep.differences:
        t.add_row(d.statement, d.basis, f"{d.month:%Y-%m}", f"{d.account_name} ({d.account})",
                  f"{d.warehouse / 100:,.2f}", f"{d.qbo / 100:,.2f}", f"{d.difference / 100:+,.2f}")
    if rep.differences:
        console.print(t)
    else:
        console.print(t.title)
    for statement, month, basis in rep.missing:
        console.print(f"[yellow]{statement} {month:%Y-%m} {basis}: no QBO report in raw "
                      f"(run qbo-ingest reports --from {month} --to {month})[/yellow]")
    if rep.ok:
        console.print("tie-out: zero differences")
    return rep.ok
