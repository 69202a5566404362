-- One row per line of a non-deleted purchase order (item- or account-based expense lines).
with lines as ({{ lines_of(ref('stg_purchase_orders')) }})
select
    realm_id, txn_id, txn_type, txn_date, exchange_rate, line_index, detail_type, amount, amount_text,
    line ->> 'Description' as description,
    {{ ref_id("line -> (line ->> 'DetailType')", 'ItemRef') }} as item_id,
    {{ ref_name("line -> (line ->> 'DetailType')", 'ItemRef') }} as item_name,
    {{ ref_id("line -> (line ->> 'DetailType')", 'AccountRef') }} as account_id,
    (line -> (line ->> 'DetailType') ->> 'Qty')::numeric as qty,
    (line -> (line ->> 'DetailType') ->> 'UnitPrice')::numeric as unit_price,
    {{ ref_id("line -> (line ->> 'DetailType')", 'CustomerRef') }} as customer_id,
    line -> (line ->> 'DetailType') ->> 'BillableStatus' as billable_status
from lines
