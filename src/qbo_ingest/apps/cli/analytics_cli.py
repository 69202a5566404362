"""The analytics commands (issue 18): `reports` (QBO's own reports into raw), `models build` (the dbt
project), `tieout` (the warehouse's statements next to QBO's reports). Registered on the main app by
`register`; each command only parses and calls apps/cli/analytics.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import typer

EXIT_FAILED = 1


def register(app: typer.Typer, guard: Callable[[Callable[[], Any]], Any]) -> None:
    models_app = typer.Typer(no_args_is_help=True, help="The dbt project (typed models, statements, tests).")
    app.add_typer(models_app, name="models")

    @app.command()
    def reports(
        start: str = typer.Option(..., "--from", help="First month (any day in it), YYYY-MM-DD."),
        end: str = typer.Option(..., "--to", help="Last month (any day in it), YYYY-MM-DD."),
        report: Optional[list[str]] = typer.Option(None, "--report", help="Only these reports (repeatable)."),
        resume: bool = typer.Option(False, "--resume", help="Skip (report, month, basis) already loaded."),
    ) -> None:
        """Load QBO's reports (P&L, balance sheet, trial balance, GL, transaction list, aging) month by month,
        Accrual and Cash, into raw.qb_report_<name>; exit 1 if any failed.

        Example: qbo-ingest reports --from 2025-01-01 --to 2025-12-31
        """
        from qbo_ingest.apps.cli import analytics

        if not guard(lambda: analytics.reports(start, end, names=report, resume=resume)):
            raise typer.Exit(EXIT_FAILED)

    @models_app.command("build")
    def models_build(
        select: Optional[str] = typer.Option(None, "--select", help="dbt node selection, e.g. marts"),
        grant: Optional[list[str]] = typer.Option(None, "--grant", help="Also GRANT SELECT on every model to "
                                                  "this role (repeatable); db init's default privileges usually do."),
    ) -> None:
        """Run `dbt build` (models and data tests) on the configured warehouse; exit 1 on a failure.

        Example: qbo-ingest models build
        """
        from qbo_ingest.apps.cli import analytics

        if not guard(lambda: analytics.models_build(select=select, grant=grant or [])):
            raise typer.Exit(EXIT_FAILED)

    @app.command("demo-analytics")
    def demo_analytics(
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Embedded PostgreSQL data directory."),
        seed: int = typer.Option(1, "--seed", help="The emulator company."),
    ) -> None:
        """Embedded PostgreSQL + emulator: backfill, QBO's reports, dbt build, tie-out; prints the P&L query.

        Example: qbo-ingest demo-analytics --seed 1
        """
        from qbo_ingest.apps.analytics import demo

        if not guard(lambda: demo.run(data_dir=data_dir, seed=seed)):
            raise typer.Exit(EXIT_FAILED)

    @app.command()
    def tieout(
        start: str = typer.Option(..., "--from", help="First month (any day in it), YYYY-MM-DD."),
        end: str = typer.Option(..., "--to", help="Last month (any day in it), YYYY-MM-DD."),
    ) -> None:
        """Compare the warehouse's P&L, balance sheet and trial balance with QBO's reports in raw, per
        account, month and basis; print the differences, store them in qbo_ingest.tieout; exit 1 on any.

        Example: qbo-ingest tieout --from 2025-01-01 --to 2025-12-31
        """
        from qbo_ingest.apps.cli import analytics

        if not guard(lambda: analytics.tieout(start, end)):
            raise typer.Exit(EXIT_FAILED)
