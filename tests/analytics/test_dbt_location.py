"""Where `qbo-ingest models build` finds dbt and the dbt project: QBO_DBT_BIN and QBO_DBT_PROJECT_DIR (the
Mage image sets /opt/dbt/bin/dbt and /home/src/qbo-ingest/analytics), run here as the loader with dbt off
PATH, exactly as the image's qb_analytics step runs it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from qbo_ingest.apps.analytics import models

from .conftest import Company, without_dbt


def test_models_build_runs_the_dbt_and_the_project_the_settings_name(
        company: Callable[..., Company], tmp_path: Path) -> None:
    dbt = models.dbt_executable()  # the test venv's dbt (scripts/dbt.sh), standing in for /opt/dbt/bin/dbt
    co = company(17, 1, build=False, entities=("Account", "Item", "Customer", "Vendor", "Invoice"))
    project = tmp_path / "analytics"  # a copy elsewhere, with one model more: proof that this one ran
    shutil.copytree(models.project_dir(), project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models" / "marts" / "dbt_location_probe.sql").write_text("select 1 as probe\n")
    no_dbt = without_dbt(os.environ.get("PATH", ""))
    assert shutil.which("dbt", path=no_dbt) is None

    off_path = co.cli("models", "build", "--select", "stg_invoices", env={"PATH": no_dbt})
    assert off_path.returncode == 2, off_path.stdout + off_path.stderr
    assert off_path.stderr.strip().splitlines() == [
        "error: dbt is not installed. Next: pip install 'qbo-ingest[analytics]' (dbt-postgres), "
        "or set QBO_DBT_BIN to a dbt"]

    built = co.cli("models", "build",
                   env={"PATH": no_dbt, "QBO_DBT_BIN": dbt, "QBO_DBT_PROJECT_DIR": str(project)})
    assert built.returncode == 0, built.stdout + built.stderr
    assert "dbt build passed" in built.stdout
    with co.admin() as conn:
        assert conn.execute("SELECT probe FROM analytics.dbt_location_probe").fetchone() == (1,)
        (n,) = conn.execute("SELECT count(*) FROM analytics.stg_invoices").fetchone()  # type: ignore[misc]
    assert n > 0


def test_a_wrong_dbt_bin_or_project_dir_is_one_line_with_the_fix(company: Callable[..., Company],
                                                                  tmp_path: Path) -> None:
    co = company(17, 1, build=False, entities=("Account",))
    bad_bin = co.cli("models", "build", env={"QBO_DBT_BIN": str(tmp_path / "nope" / "dbt")})
    assert bad_bin.returncode == 2
    assert bad_bin.stderr.strip().splitlines() == [
        f"error: QBO_DBT_BIN={tmp_path / 'nope' / 'dbt'} is not an executable dbt. Next: point it at the dbt of "
        "the analytics venv (the Mage image: /opt/dbt/bin/dbt), or unset it to use the dbt on PATH"]
    bad_dir = co.cli("models", "build", env={"QBO_DBT_PROJECT_DIR": str(tmp_path)})
    assert bad_dir.returncode == 2
    assert bad_dir.stderr.strip().splitlines() == [
        f"error: QBO_DBT_PROJECT_DIR={tmp_path} holds no dbt_project.yml. Next: point it at the repository's "
        "analytics/ directory, or unset it"]
