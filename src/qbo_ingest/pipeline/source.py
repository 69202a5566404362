"""What the engine needs from a source of QBO records (the QBO client implements it; tests may
pass their own)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from qbo_ingest.catalogue import Entity
from qbo_ingest.records import Page


class Pages(Iterator[Page], Protocol):
    """The pages of one window as they arrive (source.paging.PageStream), narrowable while they run."""

    @property
    def end(self) -> datetime:
        """The window's end (lowered by `narrow`)."""
        ...

    @property
    def position(self) -> datetime:
        """The lower bound of the newest request: every record before it has been yielded or is in flight."""
        ...

    def narrow(self, end: datetime) -> None:
        """Stop at `end` instead (records at or past it are dropped, also from a request in flight)."""
        ...

    hint: int  # requests expected before the first page arrives: the longest streams' requests go first

    def close(self) -> None: ...


class Source(Protocol):
    """Reads of one company (realm)."""

    def ensure_token(self) -> None:
        """Fail now, once, when the credentials do not work."""

    def check_realm(self) -> None:
        """Fail now, once, when QBO_REALM_ID is not a company the credentials can read."""

    def pages(self, entity: Entity, start: datetime, end: datetime, *, page_size: int = 1000,
              keys_only: bool = False) -> Pages:
        """Every record with start <= LastUpdatedTime < end, page by page, each version once; `keys_only`:
        records may hold only Id and MetaData.LastUpdatedTime when `Page.keys_only`, payloads in `Page.body`."""
        ...

    def count(self, entity: Entity, start: datetime, end: datetime) -> int:
        """COUNT(*) with the same WHERE as `pages`."""
        ...

    def counts(self, windows: Sequence[tuple[Entity, datetime, datetime]]) -> Sequence[int | Exception]:
        """COUNT(*) of several windows in one request (a batch): an int each, or that item's error."""
        ...

    def cdc(self, entities: Sequence[Entity], changed_since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Changes (deleted stubs included) since `changed_since`, by entity name."""
        ...
