"""Custom fields are the same for a record whichever request thread builds them first (the emulator serves
requests on several threads; its custom-field pools are built lazily on first use)."""

from __future__ import annotations

import random
import sys
import threading
from datetime import date

from qbo_ingest.local.emulator import Emulator, EmulatorConfig


def _fields(emu: Emulator, n: int = 64) -> list[str]:
    return [str(emu.builder.custom_fields_raw(random.Random(i))) for i in range(n)]


def test_first_use_from_many_threads_gives_every_record_its_own_fields() -> None:
    cfg = EmulatorConfig(seed=9, profile="sparse", data_start=date(2025, 1, 1), data_end=date(2025, 1, 31))
    expected = _fields(Emulator(cfg))
    emu = Emulator(cfg)  # pools not built yet
    start = threading.Barrier(8)
    got: list[list[str]] = []

    def worker() -> None:
        start.wait()
        got.append(_fields(emu))

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a half-built pool would show
    try:
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert len(got) == 8 and all(g == expected for g in got)
    assert len(emu.builder._custom) == 256
