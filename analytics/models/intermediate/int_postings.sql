-- Every transaction's debit/credit lines per account on the accrual and the cash basis, in home-currency
-- cents (debit positive), before merging. Accrual: invoices/credit memos post to each transaction's own A/R
-- account (QuickBooks' default A/R when it names none), bills/vendor credits to their own A/P account.
-- Cash: invoices, credit memos, bills and vendor credits post nothing; a payment recognises its linked
-- invoice's income and tax pro rata (up to the invoice's total, the rest to A/R), a bill payment its linked
-- bill's expenses (the rest to A/P).
with f as (select * from {{ ref('int_fixed_accounts') }}),
sales as (
    select realm_id, txn_id, txn_type, exchange_rate,
           case when txn_type in ('Invoice', 'CreditMemo') then ar_account_id else deposit_to_account_id end
               as target_account_id
    from (
        select realm_id, txn_id, txn_type, exchange_rate, ar_account_id, deposit_to_account_id from {{ ref('stg_invoices') }}
        union all select realm_id, txn_id, txn_type, exchange_rate, ar_account_id, deposit_to_account_id from {{ ref('stg_sales_receipts') }}
        union all select realm_id, txn_id, txn_type, exchange_rate, ar_account_id, deposit_to_account_id from {{ ref('stg_credit_memos') }}
        union all select realm_id, txn_id, txn_type, exchange_rate, ar_account_id, deposit_to_account_id from {{ ref('stg_refund_receipts') }}
    ) s
),
sales_sign as (
    select s.*, case when s.txn_type in ('CreditMemo', 'RefundReceipt') then -1 else 1 end as sign,
           coalesce(s.target_account_id, case when s.txn_type in ('Invoice', 'CreditMemo') then f.ar_account_id end)
               as target
    from sales s left join f on f.realm_id = s.realm_id
),
sales_postings as (
    select s.realm_id, s.txn_type, s.txn_id, p.account_id, -s.sign * p.cents as cents
    from sales_sign s join {{ ref('int_sales_parts') }} p
      on p.realm_id = s.realm_id and p.txn_type = s.txn_type and p.txn_id = s.txn_id
    union all
    select s.realm_id, s.txn_type, s.txn_id, s.target,
           s.sign * coalesce((select sum(p.cents) from {{ ref('int_sales_parts') }} p
                               where p.realm_id = s.realm_id and p.txn_type = s.txn_type and p.txn_id = s.txn_id), 0)
    from sales_sign s
),
expenses as (
    select realm_id, txn_id, txn_type, ap_account_id as source_account_id, false as is_credit from {{ ref('stg_bills') }}
    union all select realm_id, txn_id, txn_type, ap_account_id, false from {{ ref('stg_vendor_credits') }}
    union all select realm_id, txn_id, txn_type, payment_account_id, is_credit from {{ ref('stg_purchases') }}
),
expense_sign as (
    select e.*, case when e.txn_type = 'VendorCredit' or e.is_credit then -1 else 1 end as sign,
           coalesce(e.source_account_id, case when e.txn_type <> 'Purchase' then f.ap_account_id end) as source
    from expenses e left join f on f.realm_id = e.realm_id
),
expense_postings as (
    select e.realm_id, e.txn_type, e.txn_id, p.account_id, e.sign * p.cents as cents
    from expense_sign e join {{ ref('int_expense_parts') }} p
      on p.realm_id = e.realm_id and p.txn_type = e.txn_type and p.txn_id = e.txn_id
    union all
    select e.realm_id, e.txn_type, e.txn_id, e.source,
           -e.sign * coalesce((select sum(p.cents) from {{ ref('int_expense_parts') }} p
                                where p.realm_id = e.realm_id and p.txn_type = e.txn_type and p.txn_id = e.txn_id), 0)
    from expense_sign e
),
payments as (
    select p.realm_id, p.txn_id, p.txn_type, p.deposit_to_account_id,
           coalesce(p.ar_account_id, f.ar_account_id) as ar, p.linked_invoice_id,
           {{ home_cents('p.total_amt_text', 'p.exchange_rate') }} as cents
    from {{ ref('stg_payments') }} p left join f on f.realm_id = p.realm_id
),
bill_payments as (
    select p.realm_id, p.txn_id, p.txn_type, p.payment_account_id,
           coalesce(p.ap_account_id, f.ap_account_id) as ap, p.linked_bill_id,
           {{ home_cents('p.total_amt_text', 'p.exchange_rate') }} as cents
    from {{ ref('stg_bill_payments') }} p left join f on f.realm_id = p.realm_id
),
-- cash basis: a payment spread over its linked document's parts (floor of the pro-rata share; the last part
-- takes what is left of the applied amount)
alloc_src as (
    select 'Payment' as txn_type, p.realm_id, p.txn_id, p.cents as paid, p.ar as fallback, -1 as sign,
           s.part_index, s.account_id, abs(s.cents) as part
    from payments p
    left join {{ ref('int_sales_parts') }} s
      on s.realm_id = p.realm_id and s.txn_type = 'Invoice' and s.txn_id = p.linked_invoice_id
     and exists (select 1 from {{ ref('stg_invoices') }} i where i.realm_id = p.realm_id and i.txn_id = p.linked_invoice_id)
    union all
    select 'BillPayment', p.realm_id, p.txn_id, p.cents, p.ap, 1, e.part_index, e.account_id, abs(e.cents)
    from bill_payments p
    left join {{ ref('int_expense_parts') }} e
      on e.realm_id = p.realm_id and e.txn_type = 'Bill' and e.txn_id = p.linked_bill_id
     and exists (select 1 from {{ ref('stg_bills') }} b where b.realm_id = p.realm_id and b.txn_id = p.linked_bill_id)
),
alloc_tot as (
    select a.*,
           (sum(part) over w)::bigint as total,
           row_number() over (partition by realm_id, txn_type, txn_id order by part_index desc) = 1 as is_last
    from alloc_src a
    window w as (partition by realm_id, txn_type, txn_id)
),
alloc_share as (
    select a.*, least(paid, total) as applied,
           case when is_last then null else (least(paid, total) * part) / total end as share
    from alloc_tot a
    where total > 0
),
alloc as (
    select realm_id, txn_type, txn_id, account_id,
           sign * coalesce(share, applied - coalesce(sum(share) over (partition by realm_id, txn_type, txn_id), 0))
               as cents
    from alloc_share
    union all  -- the part of a payment beyond its document's total, and payments with nothing to spread
    select realm_id, txn_type, txn_id, fallback, sign * (paid - least(paid, coalesce(total, 0)))
    from (select distinct realm_id, txn_type, txn_id, fallback, sign, paid, total from alloc_tot) t
    where coalesce(total, 0) <= 0 or paid > total
),
payment_common as (
    select realm_id, txn_type, txn_id, deposit_to_account_id as account_id, cents from payments
    union all
    select realm_id, txn_type, txn_id, payment_account_id, -cents from bill_payments
),
payment_accrual as (
    select realm_id, txn_type, txn_id, ar as account_id, -cents as cents from payments
    union all
    select realm_id, txn_type, txn_id, ap, cents from bill_payments
),
deposits as (
    select l.realm_id, l.txn_type, l.txn_id, l.account_id, -{{ home_cents('l.amount_text', 'l.exchange_rate') }} as cents
    from {{ ref('deposit_line') }} l where l.detail_type = 'DepositLineDetail'
),
deposit_postings as (
    select * from deposits
    union all
    select d.realm_id, d.txn_type, d.txn_id, d.deposit_to_account_id,
           -coalesce((select sum(x.cents) from deposits x where x.realm_id = d.realm_id and x.txn_id = d.txn_id), 0)
    from {{ ref('stg_deposits') }} d
),
journal_postings as (
    select realm_id, txn_type, txn_id, account_id,
           case when posting_type = 'Debit' then 1 else -1 end * {{ home_cents('amount_text', 'exchange_rate') }}
    from {{ ref('journal_entry_line') }}
    where detail_type = 'JournalEntryLineDetail'
),
transfer_postings as (
    select realm_id, txn_type, txn_id, to_account_id as account_id, {{ home_cents('amount_text', 'exchange_rate') }} as cents
    from {{ ref('stg_transfers') }}
    union all
    select realm_id, txn_type, txn_id, from_account_id, -{{ home_cents('amount_text', 'exchange_rate') }}
    from {{ ref('stg_transfers') }}
),
card_payments as (  -- CreditCardPayment: Dr the card (liability down), Cr the bank
    select realm_id, txn_type, txn_id, credit_card_account_id as account_id,
           {{ home_cents('amount_text', 'exchange_rate') }} as cents
    from {{ ref('stg_credit_card_payments') }}
    union all
    select realm_id, txn_type, txn_id, bank_account_id, -{{ home_cents('amount_text', 'exchange_rate') }}
    from {{ ref('stg_credit_card_payments') }}
),
both_bases as (
    select * from sales_postings where txn_type in ('SalesReceipt', 'RefundReceipt')
    union all select * from expense_postings where txn_type = 'Purchase'
    union all select * from payment_common
    union all select * from deposit_postings
    union all select * from journal_postings
    union all select * from transfer_postings
    union all select * from card_payments
)
select 'Accrual'::varchar as basis, realm_id, txn_type, txn_id, account_id, cents from both_bases
union all select 'Accrual', realm_id, txn_type, txn_id, account_id, cents from sales_postings
    where txn_type in ('Invoice', 'CreditMemo')
union all select 'Accrual', realm_id, txn_type, txn_id, account_id, cents from expense_postings
    where txn_type in ('Bill', 'VendorCredit')
union all select 'Accrual', realm_id, txn_type, txn_id, account_id, cents from payment_accrual
union all select 'Cash', realm_id, txn_type, txn_id, account_id, cents from both_bases
union all select 'Cash', realm_id, txn_type, txn_id, account_id, cents from alloc
