"""The shared vocabulary's pure parts: the entity catalogue and `redact`."""

from __future__ import annotations

import uuid

import pytest

from qbo_ingest import catalogue, redact
from qbo_ingest.catalogue import BY_NAME, CATALOGUE, Entity, get, resolve
from qbo_ingest.errors import UnknownEntityError


# ---- catalogue -------------------------------------------------------------------------------
def test_entity_names_the_spec_uses() -> None:
    inv = get("Invoice")
    assert (inv.table, inv.qualified_table, inv.snake, inv.pipeline) == (
        "qb_invoices", "raw.qb_invoices", "invoice", "qb_invoices_backfill")
    assert inv.block_name("2025-10-15") == "invoice_backfill_2025-10-15"
    bp = get("BillPayment")
    assert (bp.snake, bp.table, bp.block_name("2025-01-02")) == (
        "bill_payment", "qb_bill_payments", "bill_payment_backfill_2025-01-02")
    assert get("JournalEntry").snake == "journal_entry" and get("TaxAgency").snake == "tax_agency"
    assert inv.replication_key == "MetaData.LastUpdatedTime"


def test_kinds_active_filter_and_cdc() -> None:
    assert (get("Invoice").kind, get("Invoice").needs_active_filter, get("Invoice").cdc) == ("transaction", False, True)
    assert (get("Customer").kind, get("Customer").needs_active_filter, get("Customer").cdc) == ("list", True, True)
    assert (get("CustomerType").needs_active_filter, get("CustomerType").cdc) == (False, True)
    assert (get("TaxAgency").needs_active_filter, get("TaxAgency").cdc) == (False, False)
    assert (get("TaxCode").needs_active_filter, get("TaxCode").cdc) == (True, False)
    assert (get("TimeActivity").kind, get("TimeActivity").cdc) == ("transaction", False)
    assert {e.name for e in CATALOGUE if not e.cdc} == {"TaxAgency", "TaxCode", "TaxRate", "TimeActivity",
                                                        "CreditCardPayment"}
    assert [(e.name, e.response_key) for e in CATALOGUE if e.response_key] == [
        ("CreditCardPayment", "CreditCardPaymentTxn")]
    card = get("credit_card_payments")
    assert (card.name, card.kind, card.table) == ("CreditCardPayment", "transaction", "qb_credit_card_payments")
    assert len(CATALOGUE) == 30 and BY_NAME["Vendor"] is get("Vendor")


@pytest.mark.parametrize("name", ["Invoice", "qb_invoices", "invoices", "invoice", "qb_invoices_backfill",
                                  "INVOICE", "invoicE"])
def test_get_by_any_name_users_type(name: str) -> None:
    assert get(name) is BY_NAME["Invoice"]


def test_get_unknown_lists_the_valid_names() -> None:
    with pytest.raises(UnknownEntityError) as err:
        get("Invoce")
    assert str(err.value).startswith("Unknown entity 'Invoce'. Valid: Account, Bill, BillPayment, Budget,")
    assert str(err.value).split("Valid: ")[1].startswith(", ".join(e.name for e in CATALOGUE))


def test_resolve_lists_commas_duplicates_and_all() -> None:
    assert resolve(None) == list(CATALOGUE) and resolve([]) == list(CATALOGUE) and resolve(("all",)) == list(CATALOGUE)
    assert [e.name for e in resolve(["Invoice, customer", "qb_invoices", "Bill,"])] == ["Invoice", "Customer", "Bill"]
    with pytest.raises(UnknownEntityError, match=r"^Unknown entity 'all'"):
        resolve(["all", "Bill"])
    with pytest.raises(UnknownEntityError, match=r"^No entity given\. Valid: Account, Bill,"):
        resolve([" , ", ""])


def test_entity_is_a_value() -> None:
    assert Entity("Invoice", "invoices", "transaction") == get("Invoice")
    assert catalogue.__all__ == ["BY_NAME", "CATALOGUE", "Entity", "UnknownEntityError", "get", "resolve"]


# ---- redact ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("GET /x?code=abc123&state=s", "GET /x?code=***&state=s"),
    ("refresh_token=rt-1 access_token = at-2", "refresh_token=*** access_token = ***"),
    ("client_secret=S3cr3t&x=1", "client_secret=***&x=1"),
    ("PASSWORD=pw22 passwd=p2 api_key=k1 assertion=a1", "PASSWORD=*** passwd=*** api_key=*** assertion=***"),
    ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer ***"),
    ("authorization: basic dXNlcjpwYXNz", "authorization: basic ***"),
    ("Bearer short", "Bearer short"),  # fewer than 6 token characters: not a credential
    ("postgresql://user:hunter22@db:5432/x", "postgresql://user:***@db:5432/x"),
    ("postgres+psycopg://u:p%40ss@h/d and https://example.com/a", "postgres+psycopg://u:***@h/d and https://example.com/a"),
    ('{"access_token": "at-1", "code": "3001", "Secret":"s2"}',
     '{"access_token": "***", "code": "3001", "Secret":"***"}'),
    ('{"refresh_token":"" }', '{"refresh_token":"***" }'),
    ("decode=ok tokens=ok barcode=7", "decode=ok tokens=ok barcode=7"),  # whole words only
    ("no secrets here", "no secrets here"),
])
def test_redact_masks_credentials(text: str, expected: str) -> None:
    assert redact.redact(text) == expected


def test_redact_masks_a_quoted_conninfo_password() -> None:
    assert redact.redact("host=h password='pw x' user=u") == "host=h password=*** user=u"
    assert redact.redact("password='it\\'s x' dbname=d") == "password=*** dbname=d"


def test_redact_masks_registered_and_given_secrets_longest_first() -> None:
    redact.register_secret("abc")  # too short to register: would mask ordinary text
    redact.register_secret(None)
    redact.register_secret("zz-canary-secret-1")
    assert redact.redact("x zz-canary-secret-1 y abc") == "x *** y abc"
    given = ["given-secret", "given-secret-XYZ", None, "ab"]
    assert redact.redact("given-secret-XYZ and given-secret", secrets=given) == "*** and ***"
    assert redact.redact("abcd", secrets=["abcd"]) == "***"
    # longest first, not alphabetical: a short secret inside a longer one must not leave the rest visible
    assert redact.redact("id aaaa-zzzz-bbbb", secrets=["zzzz", "aaaa-zzzz-bbbb"]) == "id ***"
    four = uuid.uuid4().hex[:4]  # fresh per run: the registry is process-wide
    redact.register_secret(four)  # four characters are enough to register
    assert redact.redact(f"token {four}.") == "token ***."
    assert redact.redact(12345) == "12345"


def test_redact_limit() -> None:
    assert redact.redact("y-" * 25, limit=10) == "y-" * 5 + "... (40 more chars)"
    assert redact.redact("short", limit=5) == "short"
    assert redact.redact("short", limit=4) == "shor... (1 more chars)"
    assert redact.redact("x" * 400) == "x" * 400


def test_declaration_helpers_defaults() -> None:
    """The catalogue is written with `_l`/`_t`: a list hides inactive rows and has CDC unless told."""
    assert catalogue._l("Thing", "things") == Entity("Thing", "things", "list", needs_active_filter=True, cdc=True)
    assert catalogue._l("Thing", "things", active=False, cdc=False) == Entity(
        "Thing", "things", "list", needs_active_filter=False, cdc=False)
    assert catalogue._t("Deal", "deals") == Entity("Deal", "deals", "transaction", needs_active_filter=False, cdc=True)
    assert catalogue._t("Deal", "deals", cdc=False).cdc is False
