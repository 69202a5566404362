"""An entity whose records QBO wraps under another key: CreditCardPayment is queried by its name, but its
records come back as `CreditCardPaymentTxn` (catalogue `response_key`). The client reads either key."""

from __future__ import annotations

from datetime import datetime, timezone

from qbo_ingest.catalogue import get
from qbo_ingest.source.auth.token_store import MemoryTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import CircuitBreaker, NoLimit

from .fakes import FakeQbo, FakeTime, make_records, settings

D1 = datetime(2025, 10, 15, tzinfo=timezone.utc)
D2 = datetime(2025, 10, 16, tzinfo=timezone.utc)


class Wrapped(FakeQbo):
    """Answers `SELECT * FROM CreditCardPayment` under `CreditCardPaymentTxn`, as QBO's JSON does."""

    def _answer(self, stmt: str) -> dict:
        out = super()._answer(stmt)
        qr = out["QueryResponse"]
        if "CreditCardPayment" in qr:
            qr["CreditCardPaymentTxn"] = qr.pop("CreditCardPayment")
        return out


def _pages(fake: FakeQbo, entity: str, *, keys_only: bool = False) -> list[str]:
    t = FakeTime()
    with QboClient(settings(QBO_REFRESH_TOKEN=fake.first_refresh), MemoryTokenStore(wall_clock=t.clock),
                   transport=fake.transport(), sleep=t.sleep, clock=t.clock, wall_clock=t.clock,
                   limiter=NoLimit(), breaker=CircuitBreaker(clock=t.clock)) as c:
        return [r["Id"] for p in c.pages(entity, D1, D2, keys_only=keys_only) for r in p.records]


def test_credit_card_payments_are_read_under_their_txn_key() -> None:
    assert get("CreditCardPayment").response_key == "CreditCardPaymentTxn"
    fake = Wrapped(make_records(5, D1, 60))
    assert _pages(fake, "CreditCardPayment") == ["1", "2", "3", "4", "5"]
    assert fake.statements[0].startswith("SELECT * FROM CreditCardPayment WHERE")


def test_the_engine_s_keys_only_reading_parses_a_wrapped_entity_whole() -> None:
    """The engine asks for keys-only pages (source/bodies.py reads the entity's own key); a wrapped entity is
    parsed whole instead, so its page is never read as empty."""
    t = FakeTime()
    fake = Wrapped(make_records(4, D1, 60))
    with QboClient(settings(QBO_REFRESH_TOKEN=fake.first_refresh), MemoryTokenStore(wall_clock=t.clock),
                   transport=fake.transport(), sleep=t.sleep, clock=t.clock, wall_clock=t.clock,
                   limiter=NoLimit(), breaker=CircuitBreaker(clock=t.clock)) as c:
        pages = list(c.pages("CreditCardPayment", D1, D2, keys_only=True))
    assert [r["Id"] for p in pages for r in p.records] == ["1", "2", "3", "4"]
    assert not any(p.keys_only for p in pages) and all(p.body for p in pages)


def test_the_entity_name_still_works_for_the_same_entity() -> None:
    """The emulator (and any QBO answering under the entity's own name) is read as before."""
    assert _pages(FakeQbo(make_records(3, D1, 60)), "CreditCardPayment") == ["1", "2", "3"]
