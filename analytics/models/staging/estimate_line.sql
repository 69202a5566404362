-- One row per line of a non-deleted estimate (sales item, subtotal, discount ... lines).
with lines as ({{ lines_of(ref('stg_estimates')) }})
select
    realm_id, txn_id, txn_type, txn_date, exchange_rate, line_index, detail_type, amount, amount_text,
    line ->> 'Description' as description,
    {{ ref_id("line -> 'SalesItemLineDetail'", 'ItemRef') }} as item_id,
    {{ ref_name("line -> 'SalesItemLineDetail'", 'ItemRef') }} as item_name,
    (line -> 'SalesItemLineDetail' ->> 'Qty')::numeric as qty,
    (line -> 'SalesItemLineDetail' ->> 'UnitPrice')::numeric as unit_price,
    {{ ref_id("line -> 'SalesItemLineDetail'", 'TaxCodeRef') }} as tax_code_id
from lines
