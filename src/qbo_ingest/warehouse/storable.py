"""What JSONB cannot hold, escaped so a record is stored instead of failing its page.

PostgreSQL's jsonb refuses the NUL character (`\\u0000`) and a lone UTF-16 surrogate (`\\ud800`
without its pair) in any string, key or value. Such a record is stored with each offending character
replaced by the six-character text of its escape (`\\u0000` becomes backslash, `u`, `0000`), and the
characters are counted: nothing is dropped, and the count reaches the ledger (`chars_escaped`) and the
log. Nothing of the record's text is ever put in a message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# In JSON text as json.dumps writes it (ensure_ascii): an escape for NUL or any surrogate, preceded by
# an even number of backslashes (so an escaped backslash followed by "u0000" is not a hit).
_SUSPECT = re.compile(r"(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})", re.IGNORECASE)
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")


def _escape(text: str) -> tuple[str, int]:
    n = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal n
        n += 1
        return f"\\u{ord(m.group(0)):04x}"

    return _BAD_CHAR.sub(sub, text), n


def _walk(value: Any) -> tuple[Any, int]:
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        total = 0
        for k, v in value.items():
            key, nk = _escape(k) if isinstance(k, str) else (k, 0)
            val, nv = _walk(v)
            out[key] = val
            total += nk + nv
        return out, total
    if isinstance(value, list):
        items = [_walk(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    return value, 0


def storable_json(record: Mapping[str, Any]) -> tuple[str, int]:
    """The record as JSON text jsonb accepts, and how many characters had to be escaped (0: as received)."""
    text = json.dumps(record, separators=(",", ":"))
    if not _SUSPECT.search(text):
        return text, 0
    clean, n = _walk(record)
    return json.dumps(clean, separators=(",", ":")), n
