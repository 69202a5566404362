"""The package's log lines inside a Mage block run, at their own level.

Mage hands every block its own logger (`kwargs['logger']`, a `DictLogger` that writes the block run's
log with a `level` field). Lines printed to stdout would reach that log too, but Mage records all of
stdout at INFO, so its Warning/Error filters would never find `Validation: [ALERT]`, `API Limit: 429`
or an error line. So the package's records go to Mage's logger with their own level, and the message
carries no level prefix of its own (Mage shows the level). Every record still passes the package's
redaction filter first (`logs.setup`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any


class MageHandler(logging.Handler):
    """Forwards each record to the current block run's Mage logger at the record's level.

    `target` is replaced by every block call (`route_logs`): a Mage worker process runs one block run,
    the headless executor several in a row. Without a Mage logger the line goes to stdout, which Mage
    also captures (at INFO).
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.target: Any = None
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            target = self.target
            if target is not None:
                target.log(record.levelno, text)
            else:
                sys.stdout.write(f"{record.levelname} {text}\n")
        except Exception:  # logging must never fail a block
            self.handleError(record)


_handler: MageHandler | None = None


def route_logs(kwargs: Mapping[str, Any]) -> None:
    """Send the package's log lines to this block run's Mage log; only inside Mage (it passes `block_uuid`)."""
    global _handler
    if kwargs.get("block_uuid") is None:
        return
    if _handler is None:
        from qbo_ingest import logs

        logger = logs.setup(stream=sys.stdout)
        redact_filters = [f for h in logger.handlers for f in h.filters]
        for h in list(logger.handlers):
            logger.removeHandler(h)
        _handler = MageHandler()
        for f in redact_filters:
            _handler.addFilter(f)
        logger.addHandler(_handler)
        # Mage may give the root logger handlers of its own: do not print every line twice.
        logger.propagate = False
    _handler.target = kwargs.get("logger")
    if _short_tracebacks[0]:  # a previous block in this process failed on purpose with one line
        if hasattr(sys, "tracebacklimit"):
            del sys.tracebacklimit
        _short_tracebacks[0] = False


_short_tracebacks = [False]


def one_line_traceback() -> None:
    """The error about to be raised is the whole story (e.g. a missing fecha_inicio): Mage formats the
    block's exception with `traceback.format_exc()` into the block log, so no stack frames (the 40 lines
    of Mage's executor) are printed with it in this worker process, only `DateRangeError: <message>`.
    Reset by the next block call in the same process."""
    if _handler is None:  # outside Mage
        return
    sys.tracebacklimit = 0
    _short_tracebacks[0] = True
