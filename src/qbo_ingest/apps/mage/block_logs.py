"""The package's log lines inside a Mage block run: written to the block run's log (Mage redirects
stdout while a block executes)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any


class _CurrentStdout:
    """A stream that writes to whatever `sys.stdout` is at the time of the write.

    Mage redirects stdout/stderr into the block run's log while a block executes, so the package's
    log lines (`Validation: Integrity Check Passed`, ...) land in that block run's log.
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


_logging_ready = False


def route_logs(kwargs: Mapping[str, Any]) -> None:
    """Send the package's log lines to the block run's log; only inside Mage (it passes `block_uuid`)."""
    global _logging_ready
    if _logging_ready or kwargs.get("block_uuid") is None:
        return
    from qbo_ingest import logs

    logger = logs.setup(stream=_CurrentStdout())
    for handler in logger.handlers:  # Mage stamps each line with its own time already
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    # Mage may give the root logger handlers of its own: do not print every line twice.
    logger.propagate = False
    _logging_ready = True


