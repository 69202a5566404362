"""`qbo-ingest models build`: `dbt build` of the repository's dbt project (`analytics/`) on the configured
warehouse.

dbt runs as its own process (the `dbt` next to this interpreter, else the one on PATH), so it may live in
this venv (extra `analytics`) or in a venv of its own. Its profile is written to a temporary directory from
the warehouse DSN; the password reaches dbt only through the environment (`QBO_DBT_PASSWORD`), never a file
or a log line.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from psycopg.conninfo import conninfo_to_dict

from qbo_ingest.errors import QboIngestError
from qbo_ingest.jobs.tieout import MARTS_SCHEMA
from qbo_ingest.redact import redact

log = logging.getLogger("qbo_ingest.models")
SCHEMA = MARTS_SCHEMA


class ModelsError(QboIngestError):
    """dbt or its project is missing."""


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    seconds: float
    output: str


def project_dir() -> Path:
    """The dbt project: `analytics/` at the repository root (a source checkout), else ./analytics."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "analytics" / "dbt_project.yml").is_file():
            return parent / "analytics"
    cwd = Path.cwd() / "analytics"
    if (cwd / "dbt_project.yml").is_file():
        return cwd
    raise ModelsError("the dbt project (analytics/dbt_project.yml) was not found",
                      next_step="run from a checkout of the repository (it holds analytics/)")


def dbt_executable() -> str:
    beside = Path(sys.executable).with_name("dbt")
    if beside.is_file():
        return str(beside)
    found = shutil.which("dbt")
    if found:
        return found
    raise ModelsError("dbt is not installed", next_step="pip install 'qbo-ingest[analytics]' (dbt-postgres)")


def _profile(dsn: str, schema: str, threads: int) -> tuple[dict[str, object], str]:
    info = conninfo_to_dict(dsn)
    password = str(info.get("password") or "")
    out = {"type": "postgres", "host": str(info.get("host") or "localhost"), "port": int(info.get("port") or 5432),
           "user": str(info.get("user") or "postgres"),
           "password": "{{ env_var('QBO_DBT_PASSWORD', '') }}", "dbname": str(info.get("dbname") or "postgres"),
           "schema": schema, "threads": threads}
    return {"qbo_ingest": {"target": "warehouse", "outputs": {"warehouse": out}}}, password


def run_dbt(dsn: str, args: Sequence[str], *, readers: Sequence[str] = (), schema: str = SCHEMA,
            threads: int = 2) -> BuildResult:
    """Run `dbt <args>` on the project against `dsn`; readers: roles granted SELECT on every model."""
    project = project_dir()
    exe = dbt_executable()
    profile, password = _profile(dsn, schema, threads)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="qbo-dbt-") as tmp:
        Path(tmp, "profiles.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")
        env = {**os.environ, "QBO_DBT_PASSWORD": password, "QBO_DBT_READERS": ",".join(readers),
               "DBT_TARGET_PATH": str(Path(tmp, "target")), "DBT_LOG_PATH": str(Path(tmp, "logs")),
               "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        proc = subprocess.run([exe, *args, "--project-dir", str(project), "--profiles-dir", tmp],
                              env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - t0
    output = redact((proc.stdout or "") + (proc.stderr or ""))
    if password:
        output = output.replace(password, "***")
    log.info("dbt %s: exit %d in %.1fs", " ".join(args), proc.returncode, seconds)
    return BuildResult(proc.returncode == 0, seconds, output)


def build(dsn: str, *, select: str | None = None, readers: Sequence[str] = ()) -> BuildResult:
    """`dbt build` (models, then their data tests)."""
    return run_dbt(dsn, ["build", *(["--select", select] if select else [])], readers=readers)
