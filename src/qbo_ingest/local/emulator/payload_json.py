"""Pre-serialized JSON pieces the payload builders splice into pages (page building is the hot path)."""

from __future__ import annotations

import json

_dumps = json.JSONEncoder(separators=(",", ":")).encode


class Raw(str):
    """A pre-serialized JSON value, spliced into page JSON as is (page building is the hot path)."""


class RawRef(Raw):
    """A pre-serialized `{"value": Id, "name": ...}` reference that remembers its Id."""

    rid: int = 0


class CustomFields(Raw):
    """A pre-serialized legacy `CustomField` array that remembers its pool index (the enhanced variant of
    the same record sits at that index of the enhanced pool)."""

    idx: int = 0


def _raw_ref(rid: int, name: str) -> RawRef:
    r = RawRef(_dumps({"value": str(rid), "name": name}))
    r.rid = rid
    return r


USD_RAW = Raw('{"value":"USD","name":"United States Dollar"}')
