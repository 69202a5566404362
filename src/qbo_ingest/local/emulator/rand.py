"""Fast draws from `random.Random` (randint/choice are pure Python and dominate page building)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def ri(rng: random.Random, a: int, b: int) -> int:
    """Like `rng.randint(a, b)` (inclusive), one C call instead of five Python frames."""
    return a + int(rng.random() * (b - a + 1))


def ch(rng: random.Random, seq: Sequence[T]) -> T:
    """Like `rng.choice(seq)`."""
    return seq[int(rng.random() * len(seq))]
