"""The jobs a user runs, each `job(engine, ...) -> report`: backfill, retry-failed, one Mage child's
days, a backfill's request estimate (`plan`), incremental sync (with CDC deletes and the full
re-scan), and source reconciliation."""

from qbo_ingest.jobs.estimate import Estimate, estimate
from qbo_ingest.jobs.incremental import rescan_deletes, sync
from qbo_ingest.jobs.loads import backfill, load_days, retry_failed
from qbo_ingest.jobs.reconciliation import reconcile

__all__ = ["Estimate", "backfill", "estimate", "load_days", "reconcile", "rescan_deletes", "retry_failed", "sync"]
