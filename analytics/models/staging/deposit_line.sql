-- One row per line of a non-deleted deposit.
with lines as ({{ lines_of(ref('stg_deposits')) }})
select
    realm_id, txn_id, txn_type, txn_date, exchange_rate, line_index, detail_type, amount, amount_text,
    line ->> 'Description' as description,
    {{ ref_id("line -> 'DepositLineDetail'", 'AccountRef') }} as account_id,
    {{ ref_id("line -> 'DepositLineDetail'", 'Entity') }} as entity_id
from lines
