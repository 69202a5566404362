"""The committed Mage project is exactly what scripts/gen_mage.py makes from the catalogue, and it is
a project Mage accepts: 30 backfill pipelines + qb_incremental_sync, bounded concurrency, @once
triggers in UTC, thin block files."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from qbo_ingest.catalogue import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "mage"


def _gen():
    spec = importlib.util.spec_from_file_location("gen_mage", ROOT / "scripts" / "gen_mage.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_project_matches_the_generator() -> None:
    drift = _gen().drift(PROJECT)
    assert drift == [], "mage/ drifted from the catalogue: run `python scripts/gen_mage.py` and commit"


def test_check_mode_reports_a_hand_edit(tmp_path: Path) -> None:
    gen = _gen()
    assert gen.main(["--target", str(tmp_path / "m")]) == 0
    assert gen.main(["--check", "--target", str(tmp_path / "m")]) == 0
    meta = tmp_path / "m/pipelines/qb_invoices_backfill/metadata.yaml"
    meta.write_text(re.sub(r"block_run_limit: \d+", "block_run_limit: 50", meta.read_text()))
    (tmp_path / "m/pipelines/qb_gone_backfill").mkdir()
    assert gen.drift(tmp_path / "m") == ["pipelines/qb_invoices_backfill/metadata.yaml",
                                         "pipelines/qb_gone_backfill/ (not in the catalogue)"]
    assert gen.main(["--check", "--target", str(tmp_path / "m")]) == 1


def test_check_compares_meaning_so_mage_rewrites_pass_and_real_changes_fail(tmp_path: Path) -> None:
    gen = _gen()
    m = tmp_path / "m"
    gen.main(["--target", str(m)])
    trig = m / "pipelines/qb_invoices_backfill/triggers.yaml"
    meta = m / "pipelines/qb_invoices_backfill/metadata.yaml"
    # What Mage writes when an operator saves the trigger (no comments, a token, the operator's values)
    # and when the editor runs a block (variables_dir, block status, empty keys).
    t = yaml.safe_load(trig.read_text())
    t["triggers"][0].update(status="active", start_time="2026-03-01 05:00:00", token="abc123",
                            variables={"fecha_fin": "2025-12-31", "fecha_inicio": "2025-12-01"}, settings=None)
    trig.write_text(yaml.safe_dump(t, sort_keys=True))
    p = yaml.safe_load(meta.read_text())
    p.update(variables_dir="/home/src/mage_data/mage", spark_config={}, callbacks=[], notification_config={})
    for b in p["blocks"]:
        b.update(status="executed", color=None, timeout=None, has_callback=False)
    meta.write_text(yaml.safe_dump(p))
    assert gen.drift(m) == []
    assert gen.drift(m, exact=True) == ["pipelines/qb_invoices_backfill/metadata.yaml",
                                        "pipelines/qb_invoices_backfill/triggers.yaml"]
    # A change of meaning still fails: the interval of the generated trigger, a block's upstream.
    t["triggers"][0]["schedule_interval"] = "@daily"
    trig.write_text(yaml.safe_dump(t))
    p["blocks"][2]["upstream_blocks"] = []
    meta.write_text(yaml.safe_dump(p))
    assert gen.drift(m) == ["pipelines/qb_invoices_backfill/metadata.yaml",
                            "pipelines/qb_invoices_backfill/triggers.yaml"]


def test_one_pipeline_per_catalogue_entity() -> None:
    on_disk = {p.name for p in (PROJECT / "pipelines").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert on_disk == {e.pipeline for e in CATALOGUE} | {"qb_incremental_sync", "qb_analytics"}
    assert len(on_disk) == 32
    assert "qb_invoices_backfill" in on_disk and "qb_journal_entries_backfill" in on_disk


@pytest.fixture
def mage_sleeps(monkeypatch: pytest.MonkeyPatch):
    """The sleeps Mage's own retry decorator (`mage_ai.shared.retry`, what a block's retry_config feeds)
    makes for a block that always fails, recorded instead of slept."""
    mage_retry = pytest.importorskip("mage_ai.shared.retry")

    def run(retries: int, delay: float, max_delay: float, exponential: bool) -> list[float]:
        sleeps: list[float] = []
        monkeypatch.setattr(mage_retry.time, "sleep", sleeps.append)
        calls: list[int] = []

        def block() -> None:
            calls.append(1)
            raise RuntimeError("block failed")

        wrapped = mage_retry.retry(retries=retries, delay=delay, max_delay=max_delay,
                                   exponential_backoff=exponential, logger=None)(block)
        with pytest.raises(RuntimeError, match="block failed"):
            wrapped()
        assert len(calls) == len(sleeps) + 1  # one attempt, then one more after each sleep
        return sleeps

    return run


def test_max_delay_caps_the_accumulated_sleep_as_mage_does(mage_sleeps) -> None:
    assert mage_sleeps(5, 30, 60, True) == [30]  # MAGE.md's example: one retry, not five
    assert mage_sleeps(3, 5, 1000, True) == [5, 10, 20]
    assert mage_sleeps(3, 5, 1000, False) == [5, 5, 5]


@pytest.mark.parametrize("entity", CATALOGUE, ids=lambda e: e.pipeline)
def test_pipeline_shape(entity, mage_sleeps) -> None:
    meta = yaml.safe_load((PROJECT / "pipelines" / entity.pipeline / "metadata.yaml").read_text())
    assert meta["uuid"] == meta["name"] == entity.pipeline
    assert meta["type"] == "python"
    assert 1 <= meta["concurrency_config"]["block_run_limit"] <= 10  # QBO: 10 requests in flight
    # One process per run: a day child that only closes its day from the ledger costs milliseconds there.
    assert meta["run_pipeline_in_one_process"] is True
    blocks = {b["uuid"]: b for b in meta["blocks"]}
    assert list(blocks) == ["plan_days", "load_day", "summarize", "deactivate_once_trigger"]
    assert blocks["plan_days"]["configuration"] == {"dynamic": True}
    assert blocks["load_day"]["upstream_blocks"] == ["plan_days"]
    assert blocks["load_day"]["configuration"] == {"reduce_output": True}
    assert blocks["summarize"]["upstream_blocks"] == ["load_day"]
    assert blocks["deactivate_once_trigger"]["upstream_blocks"] == ["summarize"]
    # No Mage retry of a day: the client's 6 retries (126 s of backoff) are the whole budget, so a
    # failure shows within ~3 minutes; the longer retry is the operator's "Retry incomplete blocks".
    assert blocks["load_day"]["retry_config"] == {"retries": 0}
    assert all(blocks[b]["retry_config"]["retries"] == 0 for b in ("plan_days", "summarize",
                                                                   "deactivate_once_trigger"))
    assert meta["variables"] == {"fecha_inicio": "", "fecha_fin": ""}


@pytest.mark.parametrize("entity", CATALOGUE, ids=lambda e: e.pipeline)
def test_once_trigger_in_utc_inactive_with_quoted_dates(entity) -> None:
    path = PROJECT / "pipelines" / entity.pipeline / "triggers.yaml"
    (trig,) = yaml.safe_load(path.read_text())["triggers"]
    assert trig["name"] == f"{entity.pipeline}_once"
    assert trig["schedule_type"] == "time"
    assert trig["schedule_interval"] == "@once"
    assert trig["status"] == "inactive"
    # The spec's example: 2026-02-02 04:07:00 UTC = 2026-02-01 23:07:00 America/Guayaquil.
    assert trig["start_time"] == datetime(2026, 2, 2, 4, 7, tzinfo=timezone.utc)
    assert trig["start_time"].astimezone(timezone(timedelta(hours=-5))).strftime("%Y-%m-%d %H:%M") == \
        "2026-02-01 23:07"
    # Quoted: YAML would otherwise turn them into dates.
    assert trig["variables"] == {"fecha_inicio": "2025-10-01", "fecha_fin": "2025-10-31"}
    assert all(isinstance(v, str) for v in trig["variables"].values())
    assert "fecha_inicio: '2025-10-01'" in path.read_text()
    date.fromisoformat(trig["variables"]["fecha_inicio"])


def test_block_files_only_call_the_blocks_module() -> None:
    files = [*PROJECT.glob("data_loaders/*.py"), *PROJECT.glob("data_exporters/*.py"),
             *PROJECT.glob("custom/*.py")]
    files = [f for f in files if f.name != "__init__.py"]
    assert sorted(f.stem for f in files) == [
        "deactivate_once_trigger", "incremental_sync", "load_day", "plan_days", "qb_models_build", "qb_reports",
        "qb_tieout", "summarize"]
    analytics = {"qb_reports": "load_reports", "qb_models_build": "models_build", "qb_tieout": "tieout"}  # issue 18
    for f in files:
        tree = ast.parse(f.read_text())
        imports = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("qbo")]
        module = "analytics_blocks" if f.stem in analytics else "blocks"
        assert [(n.module, [a.name for a in n.names]) for n in imports] == [("qbo_ingest.apps.mage", [module])], f
        funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert [fn.name for fn in funcs] == [f.stem]
        body = [n for n in funcs[0].body if not isinstance(n, ast.Expr)]  # docstrings aside
        assert len(body) == 1 and isinstance(body[0], ast.Return), f
        call = body[0].value
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute), f
        assert isinstance(call.func.value, ast.Name) and call.func.value.id == module, f
        assert call.func.attr == analytics.get(f.stem, f.stem)


def test_io_config_and_project_files() -> None:
    io = yaml.safe_load((PROJECT / "io_config.yaml").read_text())["default"]
    for key in ("POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_PORT"):
        assert io[key] == "{{ env_var('" + key + "') }}"
    meta = yaml.safe_load((PROJECT / "metadata.yaml").read_text())
    assert meta["project_uuid"] and meta["help_improve_mage"] is False
    assert meta["queue_config"]["concurrency"] <= 10
    from qbo_ingest.apps.mage.blocks import PLANNER_CONCURRENCY

    # Runs at once x the planner's requests in flight stay within QBO's 10 per realm.
    assert meta["queue_config"]["concurrency"] * PLANNER_CONCURRENCY <= 10
    ignored = (PROJECT / ".gitignore").read_text().split()
    for name in ("mage_data/", ".variables/", "logs/", "mage-ai.db", "secrets/"):
        assert name in ignored
    assert "/home/src/qbo-ingest" in (PROJECT / "requirements.txt").read_text()


LOAD_ALL = """
import json, os, sys
os.environ["MAGE_DATABASE_CONNECTION_URL"] = "sqlite:///" + sys.argv[2] + "/mage.db"
os.environ["MAGE_DATA_DIR"] = sys.argv[2]
from mage_ai.settings.repo import set_repo_path
set_repo_path(sys.argv[1])
from mage_ai.data_preparation.models.pipeline import Pipeline
from mage_ai.data_preparation.models.triggers import get_triggers_by_pipeline
out = {}
for uuid in Pipeline.get_all_pipelines(sys.argv[1]):
    p = Pipeline.get(uuid, repo_path=sys.argv[1])
    trig = get_triggers_by_pipeline(uuid)
    out[uuid] = {
        "blocks": {b.uuid: [b.type, b.is_dynamic_parent if hasattr(b, "is_dynamic_parent") else None,
                            (b.configuration or {}).get("reduce_output", False),
                            os.path.isfile(b.file_path)] for b in p.blocks_by_uuid.values()},
        "block_run_limit": p.concurrency_config.get("block_run_limit"),
        "retry": p.blocks_by_uuid["load_day"].retry_config if "load_day" in p.blocks_by_uuid else None,
        "triggers": [[t.name, t.schedule_interval, str(t.status), t.start_time.isoformat(),
                      t.variables] for t in trig],
    }
print(json.dumps(out))
"""


@pytest.mark.mage
def test_mage_loads_every_pipeline_and_trigger(tmp_path: Path) -> None:
    if importlib.util.find_spec("mage_ai") is None:
        pytest.skip("mage-ai is not installed in this environment (scripts/test installs it)")
    proc = subprocess.run([sys.executable, "-c", LOAD_ALL, str(PROJECT), str(tmp_path)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(data) == {e.pipeline for e in CATALOGUE} | {"qb_incremental_sync", "qb_analytics"}
    analytics = data.pop("qb_analytics")  # issue 18: reports -> dbt build -> tie-out
    assert set(analytics["blocks"]) == {"qb_reports", "qb_models_build", "qb_tieout"}
    assert all(b[3] for b in analytics["blocks"].values())
    assert [t[:3] for t in analytics["triggers"]] == [["qb_analytics_daily", "@daily", "inactive"]]
    sync = data.pop("qb_incremental_sync")
    assert sync["blocks"] == {"incremental_sync": ["custom", False, False, True]}
    assert [t[:3] for t in sync["triggers"]] == [["qb_incremental_sync_hourly", "@hourly", "inactive"]]
    for uuid, p in data.items():
        assert p["blocks"]["plan_days"][0] == "data_loader"
        assert p["blocks"]["load_day"][0] == "data_exporter"
        assert p["blocks"]["load_day"][2] is True
        assert all(b[3] for b in p["blocks"].values()), f"{uuid}: a block file is missing"
        assert p["block_run_limit"] <= 10
        assert p["retry"]["retries"] == 0
        (trig,) = p["triggers"]
        assert trig[:3] == [f"{uuid}_once", "@once", "inactive"]
        assert trig[3] == "2026-02-02T04:07:00+00:00"
        assert trig[4] == {"fecha_inicio": "2025-10-01", "fecha_fin": "2025-10-31"}
