-- The general ledger: one row per posting (transaction x account x basis), home currency (USD), debit
-- positive. A transaction with a line whose account is unknown posts nothing (it is listed by the data test
-- `general_ledger_unposted` instead). Deleted records are excluded in staging.
with p as (select * from {{ ref('int_postings') }}),
unposted as (  -- a missing account on the accrual basis keeps the transaction out of both bases
    select distinct realm_id, txn_type, txn_id, basis from p where account_id is null
),
blocked as (
    select realm_id, txn_type, txn_id, b.basis
    from unposted u cross join lateral (values ('Accrual'), ('Cash')) b(basis)
    where u.basis = 'Accrual' or b.basis = 'Cash'
),
merged as (
    select p.basis, p.realm_id, p.txn_type, p.txn_id, p.account_id, sum(p.cents)::bigint as cents
    from p
    where not exists (select 1 from blocked b where b.realm_id = p.realm_id and b.txn_type = p.txn_type
                      and b.txn_id = p.txn_id and b.basis = p.basis)
    group by 1, 2, 3, 4, 5
    having sum(p.cents) <> 0
),
headers as (
    {% for m in ['stg_invoices', 'stg_sales_receipts', 'stg_credit_memos', 'stg_refund_receipts', 'stg_payments',
                 'stg_bills', 'stg_bill_payments', 'stg_vendor_credits', 'stg_purchases', 'stg_deposits',
                 'stg_journal_entries', 'stg_transfers', 'stg_credit_card_payments'] %}
    select realm_id, txn_type, txn_id, txn_date, doc_number, currency, exchange_rate from {{ ref(m) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)
select
    md5(m.realm_id || '|' || m.basis || '|' || m.txn_type || '|' || m.txn_id || '|' || m.account_id) as posting_id,
    m.realm_id,
    m.basis,
    h.txn_date,
    date_trunc('month', h.txn_date)::date as month,
    m.txn_type,
    m.txn_id,
    h.doc_number,
    h.currency,
    h.exchange_rate,
    m.account_id,
    a.account_name,
    a.account_type,
    m.cents,
    (m.cents / 100.0)::numeric(18, 2) as amount,
    (greatest(m.cents, 0) / 100.0)::numeric(18, 2) as debit,
    (greatest(-m.cents, 0) / 100.0)::numeric(18, 2) as credit
from merged m
join headers h on h.realm_id = m.realm_id and h.txn_type = m.txn_type and h.txn_id = m.txn_id
left join {{ ref('stg_accounts') }} a on a.realm_id = m.realm_id and a.account_id = m.account_id
