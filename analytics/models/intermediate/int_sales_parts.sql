-- The income and sales-tax parts of every sales document (invoice, sales receipt, credit memo, refund receipt),
-- in home-currency cents, credit-positive: each sales line to its item's income account, the tax to sales tax.
with lines as (
    select * from {{ ref('invoice_line') }}
    union all select * from {{ ref('sales_receipt_line') }}
    union all select * from {{ ref('credit_memo_line') }}
    union all select * from {{ ref('refund_receipt_line') }}
),
docs as (
    select realm_id, txn_id, txn_type, exchange_rate, total_tax_text from {{ ref('stg_invoices') }}
    union all select realm_id, txn_id, txn_type, exchange_rate, total_tax_text from {{ ref('stg_sales_receipts') }}
    union all select realm_id, txn_id, txn_type, exchange_rate, total_tax_text from {{ ref('stg_credit_memos') }}
    union all select realm_id, txn_id, txn_type, exchange_rate, total_tax_text from {{ ref('stg_refund_receipts') }}
),
parts as (
    select l.realm_id, l.txn_type, l.txn_id, l.line_index as part_index,
           coalesce(i.income_account_id, f.default_income_account_id) as account_id,
           {{ home_cents('l.amount_text', 'l.exchange_rate') }} as cents
    from lines l
    left join {{ ref('stg_items') }} i on i.realm_id = l.realm_id and i.item_id = l.item_id
    left join {{ ref('int_fixed_accounts') }} f on f.realm_id = l.realm_id
    where l.detail_type = 'SalesItemLineDetail'
    union all
    select d.realm_id, d.txn_type, d.txn_id, 1000000 as part_index, f.sales_tax_account_id,
           {{ home_cents('d.total_tax_text', 'd.exchange_rate') }}
    from docs d
    left join {{ ref('int_fixed_accounts') }} f on f.realm_id = d.realm_id
)
select * from parts where not (part_index = 1000000 and cents = 0)
