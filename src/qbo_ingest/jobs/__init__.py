"""The jobs a user runs, each `job(engine, ...) -> report`: backfill, retry-failed, one Mage child's
days, a backfill's request estimate (`plan`), incremental sync (with CDC deletes and the full
re-scan), and source reconciliation."""

from qbo_ingest.jobs.estimate import Estimate, estimate
from qbo_ingest.jobs.incremental import rescan_deletes, sync
from qbo_ingest.jobs.loads import (
    backfill,
    charge_failures,
    ledger_day,
    load_days,
    query_counts,
    retry_failed,
    take_over_day,
)
from qbo_ingest.jobs.reconciliation import reconcile

__all__ = ["Estimate", "backfill", "charge_failures", "estimate", "ledger_day", "load_days", "query_counts",
           "reconcile", "rescan_deletes", "retry_failed", "sync", "take_over_day"]
