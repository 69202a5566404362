-- The expense parts of every bill, purchase and vendor credit, in home-currency cents, debit-positive.
with lines as (
    select * from {{ ref('bill_line') }}
    union all select * from {{ ref('purchase_line') }}
    union all select * from {{ ref('vendor_credit_line') }}
)
select realm_id, txn_type, txn_id, line_index as part_index, account_id,
       {{ home_cents('amount_text', 'exchange_rate') }} as cents
from lines
where detail_type in ('AccountBasedExpenseLineDetail', 'ItemBasedExpenseLineDetail')
