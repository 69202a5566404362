"""Injected faults: which request of which kind fails, and how."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("429", "500", "502", "503", "reset", "slow", "truncated", "fault200", "revoke_access", "trickle")
ON = ("query", "count", "cdc", "batch", "companyinfo", "read", "report", "token", "any")


@dataclass
class Fault:
    kind: str
    on: str = "query"
    at_requests: frozenset[int] | None = None  # 1-based numbers of requests of kind `on`
    probability: float | None = None
    count: int | None = None  # fire at most this many times
    seconds: float = 30.0  # "slow": wait before answering; "trickle": spread the body over this long
    fired: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "on": self.on, "at_requests": sorted(self.at_requests or ()),
                "probability": self.probability, "count": self.count, "seconds": self.seconds,
                "fired": self.fired}


class Faults:
    """`emu.faults.add("500", on="query", at_requests=[2])` and the like."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, kind: str, *, on: str = "query", at_requests: list[int] | tuple[int, ...] | None = None,
            probability: float | None = None, count: int | None = None, seed: int = 0,
            seconds: float = 30.0) -> Fault:
        kind = str(kind)
        if kind not in KINDS:
            raise ValueError(f"Unknown fault kind {kind!r}. Valid: {', '.join(KINDS)}")
        if on not in ON:
            raise ValueError(f"Unknown fault target {on!r}. Valid: {', '.join(ON)}")
        if at_requests is None and probability is None and count is None:
            count = 1  # a bare add() fires once, on the next matching request
        f = Fault(kind, on, frozenset(int(n) for n in at_requests) if at_requests is not None else None,
                  probability, count, float(seconds), _rng=random.Random(seed))
        with self._lock:
            self._faults.append(f)
        return f

    def add_spec(self, spec: str) -> Fault:
        """A fault from its command-line spelling: `KIND[@ON][:N,M...|~P][xC]`, e.g. `429@query:3,7` (the 3rd
        and 7th query), `500@any~0.05` (5% of all requests), `503@cdc:2x1`, `reset` (the next query)."""
        text = spec.strip()
        count: int | None = None
        if "x" in text.rsplit(":", 1)[-1].rsplit("~", 1)[-1] and text[-1].isdigit():
            text, _, c = text.rpartition("x")
            count = int(c)
        at: list[int] | None = None
        prob: float | None = None
        try:
            if "~" in text:
                text, _, p = text.partition("~")
                prob = float(p)
            elif ":" in text:
                text, _, nums = text.partition(":")
                at = [int(n) for n in nums.split(",") if n.strip()]
        except ValueError:
            raise ValueError(f"Bad fault spec {spec!r}: use KIND[@ON][:N,M|~P][xC]") from None
        kind, _, on = text.partition("@")
        if prob is not None and not 0 <= prob <= 1:
            raise ValueError(f"Bad fault spec {spec!r}: the probability must be within 0..1")
        return self.add(kind, on=on or "query", at_requests=at, probability=prob, count=count)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def pick(self, kind: str, numbers: dict[str, int]) -> Fault | None:
        """The fault to apply to this request (`numbers`: its 1-based number per kind and `any`)."""
        with self._lock:
            for f in self._faults:
                if f.on != "any" and f.on != kind:
                    continue
                if f.count is not None and f.fired >= f.count:
                    continue
                n = numbers["any" if f.on == "any" else kind]
                if f.at_requests is not None and n not in f.at_requests:
                    continue
                if f.probability is not None and f._rng.random() >= f.probability:
                    continue
                f.fired += 1
                return f
        return None
