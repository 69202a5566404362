"""Reading a response body. A query page is read for its keys only: the engine needs each record's `Id`
and `MetaData.LastUpdatedTime` (paging, days, ledger), while PostgreSQL takes the payloads from the body
text itself (warehouse/raw.py). Building a Python object for every field of 1000 records (1.7 MB) was
half of the engine's CPU on a dense backfill (bench/README.md, dense throughput); msgspec scans past
the other fields without building them.

`keys_of_page` returns None whenever the thin reading is not the whole truth - a Fault in the body, a
record without a string `Id` or `LastUpdatedTime`, anything msgspec refuses - and the caller parses the
body whole as before, so errors, odd records and their messages are unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import httpx
import msgspec

__all__ = ["KeysOnly", "keys_of_page", "parse", "read_whole"]


class KeysOnly(dict[str, Any]):
    """A query answer whose records hold only `Id` and `MetaData.LastUpdatedTime`."""


def read_whole(http: httpx.Client, url: str, params: dict[str, str], headers: dict[str, str], *,
               timeout: float, on_answer: Callable[[], None] | None = None,
               content: bytes | None = None) -> httpx.Response:
    """GET (POST of the JSON `content`) with a deadline on the whole response, not only on each read (a
    trickling body times out). `on_answer`: called when the answer's status line and headers arrived."""
    deadline = time.monotonic() + timeout
    if content is not None:
        headers = {**headers, "Content-Type": "application/json"}
    with http.stream("GET" if content is None else "POST", url, params=params, headers=headers,
                     content=content) as r:
        if on_answer is not None:
            on_answer()
        chunks = []
        try:
            for chunk in r.iter_raw():
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(f"whole response not received within {timeout:g}s")
        except httpx.StreamConsumed:  # an in-memory response (a test transport): nothing left to wait for
            r.read()
            return r
        return httpx.Response(r.status_code, headers=r.headers, content=b"".join(chunks), request=r.request)


def parse(content: bytes) -> Any:
    """The whole body as Python objects (ValueError when it is not JSON)."""
    return json.loads(content)


class _Meta(msgspec.Struct):
    LastUpdatedTime: Any = None


class _KeyWithMeta(msgspec.Struct):
    Id: Any = None
    MetaData: _Meta | None = None


@lru_cache(maxsize=64)
def _decoder(entity: str) -> msgspec.json.Decoder[Any]:
    response = msgspec.defstruct(
        f"QueryResponse{entity}",
        [(entity, "list[_KeyWithMeta] | None", None), ("startPosition", Any, None), ("maxResults", Any, None),
         ("totalCount", Any, None)],
        namespace={"_KeyWithMeta": _KeyWithMeta},
    )
    body = msgspec.defstruct(
        f"QueryBody{entity}",
        [("QueryResponse", f"{response.__name__} | None", None), ("Fault", msgspec.Raw | None, None),
         ("fault", msgspec.Raw | None, None)],
        namespace={response.__name__: response},
    )
    return msgspec.json.Decoder(body)


def keys_of_page(content: bytes, entity: str) -> KeysOnly | None:
    """`{"QueryResponse": {entity: [{"Id", "MetaData": {"LastUpdatedTime"}}...], "startPosition", ...}}`
    read from a query page without building the rest of each record; None when that would not be exact."""
    try:
        body = _decoder(entity).decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return None
    if body.Fault is not None or body.fault is not None:
        return None
    qr = body.QueryResponse
    if qr is None:
        return None
    out: dict[str, Any] = {k: v for k in ("startPosition", "maxResults", "totalCount")
                           if (v := getattr(qr, k)) is not None}
    rows = getattr(qr, entity)
    if rows is None:
        return KeysOnly(QueryResponse=out)
    keys = []
    for r in rows:
        meta = r.MetaData
        lut = meta.LastUpdatedTime if meta is not None else None
        if not isinstance(r.Id, str) or not r.Id or not isinstance(lut, str):
            return None
        keys.append({"Id": r.Id, "MetaData": {"LastUpdatedTime": lut}})
    out[entity] = keys
    return KeysOnly(QueryResponse=out)
