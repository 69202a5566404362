"""Logging set-up: human lines by default, one JSON object per line with `--log-format json`.

Every record passes through `redact` so a token or password that slips into a message never
reaches a handler.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

LOGGER_NAME = "qbo_ingest"


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from qbo_ingest.redact import redact

        try:
            msg = record.getMessage()
        except Exception:  # a bad format string must not kill logging
            msg = str(record.msg)
        record.msg = redact(msg)
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("entity", "day", "run_id", "intuit_tid"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(out, default=str)


def setup(*, fmt: str = "human", level: str | int = "INFO", stream=None) -> logging.Logger:
    """Configure the package logger once; safe to call again (handlers are replaced)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level if isinstance(level, int) else level.upper())
    for h in list(logger.handlers):
        logger.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    handler.addFilter(_RedactFilter())
    logger.addHandler(handler)
    logger.propagate = True
    return logger
