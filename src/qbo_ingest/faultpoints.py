"""Named fault points: a test seam for crash-and-resume and database-fault tests.

The engine calls `hit(name)` at a few places where a crash matters:

* `ledger_begin`   - a stream's days were just marked `running` in the ledger
* `fetch`          - a page has arrived from QBO and is not written yet
* `upsert`         - inside a page's upsert transaction, after the INSERT, before the commit
* `ledger_finish`  - a day's rows are committed, its ledger row is not updated yet

In normal use it does nothing (one environment lookup). Two switches, for tests only:

* env `QBO_INGEST_CRASH_AT="upsert:7"`: the 7th hit of `upsert` in this process kills the process
  with SIGKILL (as `kill -9` would: no cleanup, no `finally`, no rollback message to the server).
* `set_hook(fn)`: `fn(name, n)` is called on every hit (n = that point's hit count in this process),
  e.g. to restart PostgreSQL or terminate a backend at a precise moment from an in-process test.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

ENV = "QBO_INGEST_CRASH_AT"
POINTS = ("ledger_begin", "fetch", "upsert", "ledger_finish")

Hook = Callable[[str, int], None]

_lock = threading.Lock()
_counts: dict[str, int] = {}
_hook: Hook | None = None


def parse(spec: str) -> tuple[str, int]:
    """`"upsert:7"` -> ("upsert", 7); a malformed spec raises ValueError (a typo must not pass silently)."""
    name, sep, n = spec.strip().partition(":")
    if not sep or name not in POINTS or not n.isdigit() or int(n) < 1:
        raise ValueError(f"{ENV}={spec!r} is invalid: use <point>:<n> with point one of {', '.join(POINTS)}")
    return name, int(n)


def hit(name: str) -> None:
    """Count a pass through fault point `name`; crash or call the hook if a test asked for it."""
    spec = os.environ.get(ENV)
    hook = _hook
    if not spec and hook is None:
        return
    with _lock:
        n = _counts[name] = _counts.get(name, 0) + 1
    if hook is not None:
        hook(name, n)
    if spec and parse(spec) == (name, n):
        os.kill(os.getpid(), signal.SIGKILL)


def set_hook(fn: Hook | None) -> None:
    """Install (or remove, with None) the in-process hook; hit counts restart from zero."""
    global _hook
    with _lock:
        _hook = fn
        _counts.clear()


def counts() -> dict[str, int]:
    """How often each point was passed since the hook was set (the crash test calibrates with it)."""
    with _lock:
        return dict(_counts)
