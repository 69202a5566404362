"""`qbo-ingest models build`: `dbt build` of the repository's dbt project (`analytics/`) on the configured
warehouse.

dbt runs as its own process: QBO_DBT_BIN when set (the Mage image: /opt/dbt/bin/dbt, a venv holding only
the `analytics` extra), else the `dbt` next to this interpreter, else the one on PATH; so it may live in this
venv (extra `analytics`) or in a venv of its own. The project is QBO_DBT_PROJECT_DIR when set (the image
copies analytics/ to /home/src/qbo-ingest/analytics), else the checkout's analytics/. Its profile is
written to a temporary directory from the warehouse DSN (the loader's, as every job's); the password reaches
dbt only through the environment (`QBO_DBT_PASSWORD`), never a file or a log line.
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


def project_dir(configured: str | None = None) -> Path:
    """The dbt project: `configured` (QBO_DBT_PROJECT_DIR), else `analytics/` at the repository root (a source
    checkout), else ./analytics."""
    if configured:
        path = Path(configured).expanduser()
        if not (path / "dbt_project.yml").is_file():
            raise ModelsError(f"QBO_DBT_PROJECT_DIR={configured} holds no dbt_project.yml",
                              next_step="point it at the repository's analytics/ directory, or unset it")
        return path
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "analytics" / "dbt_project.yml").is_file():
            return parent / "analytics"
    cwd = Path.cwd() / "analytics"
    if (cwd / "dbt_project.yml").is_file():
        return cwd
    raise ModelsError("the dbt project (analytics/dbt_project.yml) was not found",
                      next_step="run from a checkout of the repository (it holds analytics/) "
                                "or set QBO_DBT_PROJECT_DIR")


def dbt_executable(configured: str | None = None) -> str:
    """`configured` (QBO_DBT_BIN: a path, or a name looked up on PATH), else the `dbt` next to this interpreter,
    else the one on PATH."""
    if configured:
        found = shutil.which(configured) if os.sep not in configured else configured
        if found and Path(found).is_file() and os.access(found, os.X_OK):
            return found
        raise ModelsError(f"QBO_DBT_BIN={configured} is not an executable dbt",
                          next_step="point it at the dbt of the analytics venv (the Mage image: /opt/dbt/bin/dbt), "
                                    "or unset it to use the dbt on PATH")
    beside = Path(sys.executable).with_name("dbt")
    if beside.is_file():
        return str(beside)
    found = shutil.which("dbt")
    if found:
        return found
    raise ModelsError("dbt is not installed",
                      next_step="pip install 'qbo-ingest[analytics]' (dbt-postgres), or set QBO_DBT_BIN to a dbt")


def _profile(dsn: str, schema: str, threads: int) -> tuple[dict[str, object], str]:
    info = conninfo_to_dict(dsn)
    password = str(info.get("password") or "")
    out = {"type": "postgres", "host": str(info.get("host") or "localhost"), "port": int(info.get("port") or 5432),
           "user": str(info.get("user") or "postgres"),
           "password": "{{ env_var('QBO_DBT_PASSWORD', '') }}", "dbname": str(info.get("dbname") or "postgres"),
           "schema": schema, "threads": threads}
    return {"qbo_ingest": {"target": "warehouse", "outputs": {"warehouse": out}}}, password


def run_dbt(dsn: str, args: Sequence[str], *, readers: Sequence[str] = (), schema: str = SCHEMA,
            threads: int = 2, dbt: str | None = None, project: str | None = None) -> BuildResult:
    """Run `dbt <args>` on the project against `dsn`; readers: roles granted SELECT on every model; dbt and
    project: QBO_DBT_BIN and QBO_DBT_PROJECT_DIR (Settings.dbt_bin, Settings.dbt_project_dir)."""
    project_path = project_dir(project)
    exe = dbt_executable(dbt)
    profile, password = _profile(dsn, schema, threads)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="qbo-dbt-") as tmp:
        Path(tmp, "profiles.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")
        env = {**os.environ, "QBO_DBT_PASSWORD": password, "QBO_DBT_READERS": ",".join(readers),
               "DBT_TARGET_PATH": str(Path(tmp, "target")), "DBT_LOG_PATH": str(Path(tmp, "logs")),
               "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        proc = subprocess.run([exe, *args, "--project-dir", str(project_path), "--profiles-dir", tmp],
                              env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - t0
    output = redact((proc.stdout or "") + (proc.stderr or ""))
    if password:
        output = output.replace(password, "***")
    log.info("dbt %s: exit %d in %.1fs", " ".join(args), proc.returncode, seconds)
    return BuildResult(proc.returncode == 0, seconds, output)


def build(dsn: str, *, select: str | None = None, readers: Sequence[str] = (), dbt: str | None = None,
          project: str | None = None) -> BuildResult:
    """`dbt build` (models, then their data tests)."""
    return run_dbt(dsn, ["build", *(["--select", select] if select else [])], readers=readers, dbt=dbt,
                   project=project)
