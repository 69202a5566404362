"""Staging covers every raw entity: one typed view per catalogue entity, holding exactly the non-deleted raw
records, with values equal to what the emulator serves (money as numeric, dates, refs), and the custom fields
of every transaction typed by their Type."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from qbo_ingest.apps.analytics import models
from qbo_ingest.catalogue import CATALOGUE
from qbo_ingest.jobs.tieout import tieout

from .conftest import DATA_END, DATA_START, Company

STAGING = Path(models.project_dir(), "models", "staging")
# staging model -> (QBO entity, its id column)
MODELS = {
    "stg_accounts": ("Account", "account_id"), "stg_bills": ("Bill", "txn_id"),
    "stg_bill_payments": ("BillPayment", "txn_id"), "stg_budgets": ("Budget", "budget_id"),
    "stg_classes": ("Class", "class_id"), "stg_credit_card_payments": ("CreditCardPayment", "txn_id"),
    "stg_credit_memos": ("CreditMemo", "txn_id"), "stg_customers": ("Customer", "customer_id"),
    "stg_customer_types": ("CustomerType", "customer_type_id"), "stg_departments": ("Department", "department_id"),
    "stg_deposits": ("Deposit", "txn_id"), "stg_employees": ("Employee", "employee_id"),
    "stg_estimates": ("Estimate", "txn_id"), "stg_invoices": ("Invoice", "txn_id"), "stg_items": ("Item", "item_id"),
    "stg_journal_entries": ("JournalEntry", "txn_id"), "stg_payments": ("Payment", "txn_id"),
    "stg_payment_methods": ("PaymentMethod", "payment_method_id"), "stg_purchases": ("Purchase", "txn_id"),
    "stg_purchase_orders": ("PurchaseOrder", "txn_id"), "stg_refund_receipts": ("RefundReceipt", "txn_id"),
    "stg_sales_receipts": ("SalesReceipt", "txn_id"), "stg_tax_agencies": ("TaxAgency", "tax_agency_id"),
    "stg_tax_codes": ("TaxCode", "tax_code_id"), "stg_tax_rates": ("TaxRate", "tax_rate_id"),
    "stg_terms": ("Term", "term_id"), "stg_time_activities": ("TimeActivity", "txn_id"),
    "stg_transfers": ("Transfer", "txn_id"), "stg_vendors": ("Vendor", "vendor_id"),
    "stg_vendor_credits": ("VendorCredit", "txn_id"),
}


def _money(x: Any) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.01"))


def _ref(obj: dict[str, Any], key: str) -> str | None:
    return (obj.get(key) or {}).get("value")


def test_every_catalogue_entity_has_a_declared_source_and_a_staging_model() -> None:
    sources = yaml.safe_load((STAGING / "sources.yml").read_text())["sources"][0]["tables"]
    assert sorted(t["name"] for t in sources) == sorted(e.table for e in CATALOGUE)
    assert sorted(e for e, _ in MODELS.values()) == sorted(e.name for e in CATALOGUE)
    read = {m: re.findall(r"source\('raw', '(\w+)'\)", (STAGING / f"{m}.sql").read_text()) for m in MODELS}
    by_name = {e.name: e.table for e in CATALOGUE}
    assert read == {m: [by_name[e]] for m, (e, _) in MODELS.items()}
    declared = {m["name"]: m for m in yaml.safe_load((STAGING / "staging.yml").read_text())["models"]}
    for m, (_, col) in MODELS.items():  # each one's key is tested unique per company
        assert {"unique_combination": {"columns": ["realm_id", col]}} in declared[m].get("tests", []), m


def _one(conn: Any, sql: str, *args: Any) -> tuple[Any, ...]:
    row = conn.execute(sql, args).fetchone()
    assert row is not None, sql
    return tuple(row)


def test_staging_holds_every_live_record_typed_as_served(company: Callable[..., Company]) -> None:
    co = company(7, 2, entities=tuple(e.name for e in CATALOGUE))  # dbt build: models and their data tests
    # the entities that post nothing (estimates, purchase orders, time activities) leave the tie-out at zero
    rep = tieout(co.engine, DATA_START, DATA_END)
    assert rep.ok and rep.compared > 0, rep.differences[:5]
    with co.admin() as conn:
        for m, (entity, _) in MODELS.items():  # every entity has records, all of them in staging
            table = next(e.table for e in CATALOGUE if e.name == entity)
            (raw,) = _one(conn, f"SELECT count(*) FROM raw.{table} WHERE deleted_at_utc IS NULL")
            (staged,) = _one(conn, f"SELECT count(*) FROM analytics.{m}")
            assert (m, staged) == (m, raw) and raw > 0, m

        def first(model: str, col: str) -> dict[str, Any]:
            (rid,) = _one(conn, f"SELECT min({col}) FROM analytics.{model}")
            served = co.emu.record(MODELS[model][0], rid)
            assert served is not None, (model, rid)
            return served

        est = first("stg_estimates", "txn_id")
        assert _one(conn, "SELECT total_amt, expiration_date, txn_status, customer_id, customer_name, "
                    "(SELECT count(*) FROM analytics.estimate_line l WHERE l.txn_id = e.txn_id) "
                    "FROM analytics.stg_estimates e WHERE txn_id = %s", est["Id"]) == (
            _money(est["TotalAmt"]), date.fromisoformat(est["ExpirationDate"]), est["TxnStatus"],
            _ref(est, "CustomerRef"), est["CustomerRef"]["name"], len(est["Line"]))
        po = first("stg_purchase_orders", "txn_id")
        assert _one(conn, "SELECT total_amt, po_status, vendor_id, ap_account_id, "
                    "(SELECT sum(amount) FROM analytics.purchase_order_line l WHERE l.txn_id = p.txn_id) "
                    "FROM analytics.stg_purchase_orders p WHERE txn_id = %s", po["Id"]) == (
            _money(po["TotalAmt"]), po["POStatus"], _ref(po, "VendorRef"), _ref(po, "APAccountRef"),
            _money(sum(Decimal(str(ln["Amount"])) for ln in po["Line"])))
        ta = first("stg_time_activities", "txn_id")
        assert _one(conn, "SELECT txn_date, name_of, employee_id, hourly_rate, hours, minutes, duration_hours, "
                    "billable_status FROM analytics.stg_time_activities WHERE txn_id = %s", ta["Id"]) == (
            date.fromisoformat(ta["TxnDate"]), "Employee", _ref(ta, "EmployeeRef"), _money(ta["HourlyRate"]),
            ta["Hours"], ta["Minutes"],
            (Decimal(ta["Hours"]) + Decimal(ta["Minutes"]) / 60).quantize(Decimal("0.0001")),
            ta["BillableStatus"])
        # QBO gives Hours/Minutes or StartTime/EndTime (minus the break): 08:00-16:45 with 45 min off is 8 h
        conn.execute("UPDATE raw.qb_time_activities SET payload = payload - 'Hours' - 'Minutes' || jsonb_build_object("
                     "'StartTime', '2025-01-02T08:00:00-08:00', 'EndTime', '2025-01-02T16:45:00-08:00', "
                     "'BreakMinutes', 45) WHERE id = %s", (ta["Id"],))
        assert _one(conn, "SELECT hours, duration_hours FROM analytics.stg_time_activities WHERE txn_id = %s",
                    ta["Id"]) == (None, Decimal("8.0000"))
        cc = first("stg_credit_card_payments", "txn_id")
        assert _one(conn, "SELECT amount, credit_card_account_id, bank_account_id, bank_account_name "
                    "FROM analytics.stg_credit_card_payments WHERE txn_id = %s", cc["Id"]) == (
            _money(cc["Amount"]), _ref(cc, "CreditCardAccountRef"), _ref(cc, "BankAccountRef"),
            cc["BankAccountRef"]["name"])
        bud = first("stg_budgets", "budget_id")
        assert _one(conn, "SELECT start_date, budget_type, (SELECT sum(amount) FROM analytics.budget_line l "
                    "WHERE l.budget_id = b.budget_id) FROM analytics.stg_budgets b WHERE budget_id = %s",
                    bud["Id"]) == (date.fromisoformat(bud["StartDate"]), bud["BudgetType"],
                                   _money(sum(Decimal(str(d["Amount"])) for d in bud["BudgetDetail"])))
        rate = first("stg_tax_rates", "tax_rate_id")
        assert _one(conn, "SELECT rate_value, tax_agency_id FROM analytics.stg_tax_rates WHERE tax_rate_id = %s",
                    rate["Id"]) == (Decimal(str(rate["RateValue"])), _ref(rate, "AgencyRef"))
        term = first("stg_terms", "term_id")
        assert _one(conn, "SELECT term_name, due_days FROM analytics.stg_terms WHERE term_id = %s",
                    term["Id"]) == (term["Name"], term["DueDays"])
        emp = first("stg_employees", "employee_id")
        assert _one(conn, "SELECT display_name, hired_date, employee_number FROM analytics.stg_employees "
                    "WHERE employee_id = %s", emp["Id"]) == (
            emp["DisplayName"], date.fromisoformat(emp["HiredDate"]), emp["EmployeeNumber"])
        (n_rates,) = _one(conn, "SELECT count(*) FROM analytics.tax_code_rate WHERE applies_to = 'Sales'")
        served_rates = sum(len(co.emu.record("TaxCode", tid)["SalesTaxRateList"]["TaxRateDetail"])  # type: ignore[index]
                           for (tid,) in conn.execute("SELECT tax_code_id FROM analytics.stg_tax_codes"))
        assert n_rates == served_rates > 0

        # a deleted record leaves staging, its lines and its custom fields (views: no rebuild needed)
        (fields,) = _one(conn, "SELECT count(*) FROM analytics.stg_custom_fields WHERE txn_type = 'Estimate' "
                         "AND txn_id = %s", est["Id"])
        assert fields == len(est["CustomField"]) == 3
        conn.execute("UPDATE raw.qb_estimates SET deleted_at_utc = now() WHERE id = %s", (est["Id"],))
        gone = conn.execute("SELECT (SELECT count(*) FROM analytics.stg_estimates WHERE txn_id = %(i)s), "
                            "(SELECT count(*) FROM analytics.estimate_line WHERE txn_id = %(i)s), "
                            "(SELECT count(*) FROM analytics.stg_custom_fields WHERE txn_type = 'Estimate' "
                            "AND txn_id = %(i)s)", {"i": est["Id"]}).fetchone()
        assert gone == (0, 0, 0)


def test_custom_fields_are_one_typed_row_each(company: Callable[..., Company]) -> None:
    co = company(9, 2, entities=("Account", "Item", "Customer", "Vendor", "Invoice", "PurchaseOrder"))
    with co.admin() as conn:
        # what the client loads by default: QBO's three legacy string fields, as served
        (inv_id,) = _one(conn, "SELECT min(id) FROM raw.qb_invoices")
        served = co.emu.record("Invoice", inv_id)
        assert served is not None
        got = conn.execute("SELECT definition_id, field_name, field_type, string_value, value_text "
                           "FROM analytics.stg_custom_fields WHERE txn_type = 'Invoice' AND txn_id = %s "
                           "ORDER BY field_index", (inv_id,)).fetchall()
        assert [tuple(r) for r in got] == [(f["DefinitionId"], f["Name"], "StringType", f["StringValue"],
                                            f["StringValue"]) for f in served["CustomField"]]
        assert len(got) == 3
        (po_fields,) = _one(conn, "SELECT count(*) FROM analytics.stg_custom_fields WHERE txn_type = 'PurchaseOrder'")
        (pos,) = _one(conn, "SELECT count(*) FROM analytics.stg_purchase_orders")
        assert po_fields == 3 * pos > 0
        # every field (`include=enhancedAllCustomFields`): numbers and dates get their typed columns
        rec = co.emu.store.get("Invoice", int(inv_id))
        assert rec is not None
        enhanced = co.emu.builder.build("Invoice", rec, True)["CustomField"]
        conn.execute("UPDATE raw.qb_invoices SET payload = jsonb_set(payload, '{CustomField}', %s::jsonb) "
                     "WHERE id = %s", (json.dumps(enhanced), inv_id))
        typed = conn.execute("SELECT field_type, number_value, date_value FROM analytics.stg_custom_fields "
                             "WHERE txn_type = 'Invoice' AND txn_id = %s AND field_type <> 'StringType' "
                             "ORDER BY field_index", (inv_id,)).fetchall()
        by_type = {f["Type"]: f for f in enhanced}
        assert [tuple(r) for r in typed] == [
            ("NumberType", Decimal(str(by_type["NumberType"]["NumberValue"])), None),
            ("DateType", None, date.fromisoformat(by_type["DateType"]["DateValue"]))]
