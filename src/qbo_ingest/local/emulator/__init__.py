"""A local QuickBooks Online (Accounting API v3 + Intuit OAuth 2.0) for tests, the demo and benchmarks.

    from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread
    emu = Emulator(EmulatorConfig(seed=7, profile="sparse"))
    with serve_in_thread(emu) as srv:
        ...  # point the client at srv.base_url / srv.token_url
"""

from __future__ import annotations

from qbo_ingest.local.emulator.config import EmulatorConfig, RotationPolicy
from qbo_ingest.local.emulator.core import Emulator
from qbo_ingest.local.emulator.server import RunningServer, serve_forever, serve_in_thread

__all__ = ["Emulator", "EmulatorConfig", "RotationPolicy", "RunningServer", "serve_forever", "serve_in_thread"]
