"""The skeleton of one emulated record: what queries filter and sort on, without its payload."""

from __future__ import annotations


class Rec:
    """Id, times (epoch seconds), SyncToken, Active flag and hard-delete time of one record.

    Payloads are built from (seed, entity, Id) plus these fields only when a page is served.
    """

    __slots__ = ("active", "ct", "day", "deleted", "id", "lut", "sync")

    def __init__(self, id: int, day: int, ct: float, lut: float, sync: int, active: bool,
                 deleted: float | None) -> None:
        self.id = id
        self.day = day
        self.ct = ct
        self.lut = lut
        self.sync = sync
        self.active = active
        self.deleted = deleted

    @property
    def changed(self) -> float:
        """When CDC sees the last change: the delete time for a deleted record."""
        return self.deleted if self.deleted is not None else self.lut

    def replace(self, **kw: object) -> Rec:
        r = Rec(self.id, self.day, self.ct, self.lut, self.sync, self.active, self.deleted)
        for k, v in kw.items():
            setattr(r, k, v)
        return r

    def __repr__(self) -> str:
        return f"Rec(id={self.id}, lut={self.lut}, sync={self.sync}, active={self.active}, deleted={self.deleted})"
