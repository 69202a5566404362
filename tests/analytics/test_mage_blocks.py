"""The qb_analytics pipeline's block functions (without Mage): reports -> dbt build -> tie-out, as the loader
with the environment a Mage container has (dbt found by QBO_DBT_BIN, not on PATH); a failed tie-out fails
its block with the reason."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from qbo_ingest.apps.analytics import models
from qbo_ingest.apps.mage import analytics_blocks

from .conftest import Company, without_dbt


def test_the_three_blocks_run_in_order_and_the_tieout_block_fails_on_a_difference(
        company: Callable[..., Company], monkeypatch: pytest.MonkeyPatch) -> None:
    co = company(13, build=False)
    for k, v in co.srv.client_env(co.loader_dsn).items():
        monkeypatch.setenv(k, v)
    # as in the Mage image: dbt is not on PATH, QBO_DBT_BIN names it (there /opt/dbt/bin/dbt)
    monkeypatch.setenv("QBO_DBT_BIN", models.dbt_executable())
    monkeypatch.setenv("PATH", without_dbt(os.environ.get("PATH", "")))
    months = {"fecha_inicio": "2025-01-01", "fecha_fin": "2025-03-31"}
    assert analytics_blocks.load_reports(**months)["loaded"] == 36
    assert analytics_blocks.models_build(**months)["seconds"] > 0
    compared = analytics_blocks.tieout(**months)["compared"]
    assert compared > 0
    with co.admin() as conn:  # a posting lost after the build
        conn.execute("DELETE FROM analytics.general_ledger WHERE posting_id = (SELECT min(posting_id) "
                     "FROM analytics.general_ledger WHERE month = '2025-03-01')")
    with pytest.raises(analytics_blocks.AnalyticsStepError, match=r"tie-out: \d+ difference\(s\)"):
        analytics_blocks.tieout(**months)
