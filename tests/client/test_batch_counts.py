"""COUNTs of several windows in one batch request, over real HTTP to the emulator: each equals the
truth, the batch is one request metered per item, and an item QBO refuses comes back as that item's
error while the others are answered."""

from __future__ import annotations

from dataclasses import replace

from qbo_ingest.catalogue import get
from qbo_ingest.errors import QboError
from qbo_ingest.source.auth.token_store import MemoryTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import NoLimit

from .emu import emulator, running, settings_for, utc


def test_a_batch_of_counts_equals_the_truth_and_is_one_request_metered_per_item() -> None:
    emu = emulator()
    windows = [(get("Invoice"), utc(2025, 10, 1), utc(2025, 10, 8)), (get("Customer"), utc(2025, 1, 1),
               utc(2025, 12, 1)), (get("Payment"), utc(2025, 10, 3), utc(2025, 10, 4))]
    metered: list[tuple[str, int]] = []
    with running(emu) as srv:
        s = settings_for(emu, srv, refresh_token=emu.issue_refresh_token())
        with QboClient(s, MemoryTokenStore(), limiter=NoLimit(), meter=lambda k, n: metered.append((k, n))) as c:
            c.ensure_token()
            emu.reset_counters()
            got = c.counts(windows)
        counters = emu.counters()
    assert got == [len(emu.truth(e.name, a, b)) for e, a, b in windows]
    assert counters["batch"] == 1 and counters["batch_items"] == 3 and counters["count"] == 0
    assert ("batch", 3) in metered  # the budget books three calls for the one request


def test_an_item_qbo_refuses_is_that_items_error_and_the_others_are_answered() -> None:
    emu = emulator()
    good = (get("Invoice"), utc(2025, 10, 1), utc(2025, 10, 8))
    unknown = (replace(get("Invoice"), name="Invoyce"), utc(2025, 10, 1), utc(2025, 10, 8))  # QBO: a ValidationFault
    with running(emu) as srv:
        s = settings_for(emu, srv, refresh_token=emu.issue_refresh_token())
        with QboClient(s, MemoryTokenStore(), limiter=NoLimit()) as c:
            got = c.counts([good, unknown])
    assert got[0] == len(emu.truth("Invoice", good[1], good[2]))
    assert isinstance(got[1], QboError) and "COUNT of Invoyce" in str(got[1])
