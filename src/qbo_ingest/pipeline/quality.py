"""The spec's quality gates (section 7) and their exact log lines.

Operators grep Mage and CLI logs for `Validation: Integrity Check Passed` and `Validation: [ALERT]`.
"""

from __future__ import annotations

import logging
from typing import Any

from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import QboIngestError

PASSED = "Validation: Integrity Check Passed"
ALERT = "Validation: [ALERT]"


class QualityGateError(QboIngestError):
    """Records were fetched but none were written: the window fails."""

    def __init__(self, entity: str, label: str, rows_fetched: int, rows_upserted: int) -> None:
        self.entity = entity
        self.label = label
        self.rows_fetched = rows_fetched
        self.rows_upserted = rows_upserted
        super().__init__(
            f"{ALERT} {entity} {label}: rows_fetched={rows_fetched} rows_upserted={rows_upserted}; "
            "records were read from QBO but none were written to raw",
            next_step="check the database log and the grants, then retry the day",
        )


def _name(entity: Entity | str) -> str:
    return entity.name if isinstance(entity, Entity) else str(entity)


def check_window(
    logger: logging.Logger | logging.LoggerAdapter[Any],
    entity: Entity | str,
    label: str,
    rows_fetched: int,
    rows_upserted: int,
) -> None:
    """Fetched vs upserted for one window: >0 fetched and 0 written fails; 0 fetched warns."""
    name = _name(entity)
    if rows_fetched > 0 and rows_upserted == 0:
        err = QualityGateError(name, label, rows_fetched, rows_upserted)
        logger.error("%s", err.message)
        raise err
    if rows_fetched == 0:
        logger.warning(
            "%s %s %s: 0 records; confirm a day without activity or an extraction error", ALERT, name, label
        )
        return
    logger.info(
        "%s %s %s: rows_fetched=%d rows_upserted=%d", PASSED, name, label, rows_fetched, rows_upserted
    )


def source_check(
    logger: logging.Logger | logging.LoggerAdapter[Any],
    entity: Entity | str,
    label: str,
    source_count: int,
    raw_count: int,
) -> bool:
    """COUNT(*) at QBO for the window vs rows in raw for it. Logs and returns whether they match."""
    name = _name(entity)
    if source_count == raw_count:
        logger.info("%s %s %s: source_count=%d raw_count=%d", PASSED, name, label, source_count, raw_count)
        return True
    logger.warning(
        "%s %s %s: source_count=%d raw_count=%d mismatch; re-run the window and compare",
        ALERT, name, label, source_count, raw_count,
    )
    return False
