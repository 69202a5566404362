-- One row per line of a non-deleted vendor credit (account- or item-based expense lines).
with lines as ({{ lines_of(ref('stg_vendor_credits')) }})
select
    realm_id, txn_id, txn_type, txn_date, exchange_rate, line_index, detail_type, amount, amount_text,
    line ->> 'Description' as description,
    {{ ref_id("line -> (line ->> 'DetailType')", 'AccountRef') }} as account_id,
    {{ ref_id("line -> (line ->> 'DetailType')", 'ItemRef') }} as item_id,
    {{ ref_id("line -> (line ->> 'DetailType')", 'CustomerRef') }} as customer_id,
    line -> (line ->> 'DetailType') ->> 'BillableStatus' as billable_status
from lines
