"""What each CLI command does: settings -> engine -> job -> output. The CLI parses; this module runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone
from pathlib import Path

from rich.table import Table

from qbo_ingest import jobs
from qbo_ingest import warehouse as wh
from qbo_ingest.apps import wiring
from qbo_ingest.apps.cli.output import (
    console,
    print_daily_chart,
    print_estimate,
    print_month_calls,
    print_report,
    print_status,
    progress,
)
from qbo_ingest.catalogue import Entity
from qbo_ingest.jobs.reconciliation import window_label
from qbo_ingest.pipeline.report import RunReport
from qbo_ingest.settings import Settings
from qbo_ingest.windows import DateLike, daily_windows, day_range


def _today() -> date:
    """Today in UTC: a fecha_inicio after it is a typo (there is nothing to load yet)."""
    return datetime.now(timezone.utc).date()


def _settings(settings: Settings | None) -> Settings:
    return settings or Settings.load()


def backfill(entities: Sequence[Entity], fecha_inicio: DateLike, fecha_fin: DateLike, *, resume: bool = False,
             concurrency: int = 4, show_progress: bool = True, max_requests: int | None = None,
             settings: Settings | None = None) -> RunReport:
    n_days = len(daily_windows(fecha_inicio, fecha_fin, today=_today()))  # validate before touching anything
    s = _settings(settings)
    with progress(show_progress, total=n_days * len(entities)) as on_day, \
            wiring.engine(s, concurrency=concurrency, on_day=on_day, max_requests=max_requests) as eng:
        return jobs.backfill(eng, list(entities), fecha_inicio, fecha_fin, resume=resume)


def plan(entities: Sequence[Entity], fecha_inicio: DateLike, fecha_fin: DateLike, *, resume: bool = False,
         concurrency: int = 4, settings: Settings | None = None) -> jobs.Estimate:
    daily_windows(fecha_inicio, fecha_fin, today=_today())
    s = _settings(settings)
    with wiring.engine(s, concurrency=concurrency) as eng:
        est = jobs.estimate(eng, list(entities), fecha_inicio, fecha_fin, resume=resume)
    print_estimate(est)
    return est


def retry_failed(entities: Sequence[Entity], *, start: DateLike | None = None, end: DateLike | None = None,
                 concurrency: int = 4, settings: Settings | None = None) -> RunReport:
    day_range(start, end)  # validate before touching anything
    s = _settings(settings)
    with wiring.engine(s, concurrency=concurrency) as eng:
        return jobs.retry_failed(eng, list(entities), start=start, end=end)


def status(entities: Sequence[Entity] | None, *, start: DateLike | None = None, end: DateLike | None = None,
           per_day: bool = False, settings: Settings | None = None) -> None:
    s_day, e_day = day_range(start, end)
    s = settings or Settings.load(require=("postgres",))
    names = [e.name for e in entities] if entities else None
    with wh.connect(s.dsn()) as conn:
        wh.ensure_schema(conn, list(entities) if entities else None)
        rows = wh.ledger_summary(conn, realm_id=s.realm_id or None, entities=names, start=s_day, end=e_day)
        print_status(rows, per_day=per_day)
        print_month_calls(wh.month_calls(conn), wh.month_calls(conn, realm_id=s.realm_id) if s.realm_id else None,
                          month=wh.month_of(), budget=s.monthly_call_budget, realm_id=s.realm_id)
        if entities and len(entities) == 1:
            print_daily_chart(wh.daily_counts(conn, entities[0], s.realm_id or None), s_day, e_day)


def db_init(*, loader_role: str, analyst_role: str, settings: Settings | None = None) -> None:
    s = settings or Settings.load(require=("postgres",))
    wh.init_db(s.dsn(), loader_role=loader_role, analyst_role=analyst_role,
               loader_password=s.loader_password.get_secret_value() if s.loader_password else None,
               analyst_password=s.analyst_password.get_secret_value() if s.analyst_password else None)
    console.print(f"schemas raw and qbo_ingest ready; roles {loader_role} (loader) and {analyst_role} (read-only)")


def auth(*, port: int, open_browser: bool, redirect_uri: str | None = None, redirected_url: str | None = None,
         wait: bool = True, settings: Settings | None = None) -> None:
    from platformdirs import user_state_dir

    from qbo_ingest.source.auth.code_flow import run_auth

    s = settings or Settings.load(require=("postgres",))
    realm = run_auth(s, port=port, open_browser=open_browser, redirect_uri=redirect_uri,
                     redirected_url=redirected_url, wait=wait, pending_dir=Path(user_state_dir("qbo-ingest")))
    if realm is not None:
        console.print(f"authorized realm {realm}; refresh token stored in qbo_ingest.oauth_tokens")


def sync(entities: Sequence[Entity], *, concurrency: int = 4, rescan: bool = False,
         settings: Settings | None = None) -> bool:
    s = _settings(settings)
    with wiring.engine(s, concurrency=concurrency) as eng:
        if rescan:
            for e in entities:
                n = jobs.rescan_deletes(eng, e)
                console.print(f"{e.name}: full re-scan marked {n} row(s) deleted")
        rep = jobs.sync(eng, list(entities))
    if rep.loads is not None:
        print_report(rep.loads)
    for name, n in sorted(rep.deleted.items()):
        if n:
            console.print(f"{name}: {n} deletion(s) from CDC marked (deleted_at_utc)")
    console.print(f"CDC requests: {rep.cdc_requests}")
    for note in rep.notes:
        console.print(f"[yellow]{note}[/yellow]")
    for err in rep.errors:
        console.print(f"[red]{err}[/red]")
    return rep.ok


def reconcile(entities: Sequence[Entity], fecha_inicio: DateLike, fecha_fin: DateLike, *,
              settings: Settings | None = None) -> bool:
    daily_windows(fecha_inicio, fecha_fin, today=_today())
    s = _settings(settings)
    with wiring.engine(s) as eng:
        rep = jobs.reconcile(eng, list(entities), fecha_inicio, fecha_fin)
    t = Table(title=f"reconcile {fecha_inicio}..{fecha_fin}: {rep.requests} COUNT request(s)")
    for col in ("entity", "window", "qbo", "raw", "diff", ""):
        t.add_column(col)
    for line in rep.lines:
        diff = line.raw - line.qbo
        t.add_row(line.entity, window_label(line.window), str(line.qbo), str(line.raw),
                  f"{diff:+d}" if diff else "0", "ok" if line.ok else "[red]MISMATCH[/red]")
    console.print(t)
    if not rep.ok:
        console.print(f"[red]{len(rep.mismatches)} window(s) differ.[/red] Next: qbo-ingest backfill <Entity> "
                      "--fecha-inicio D --fecha-fin D for each, then qbo-ingest sync for deletions")
    return rep.ok
