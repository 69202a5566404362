select
    {{ txn_columns('PurchaseOrder') }},
    {{ ref_id('payload', 'VendorRef') }} as vendor_id,
    {{ ref_name('payload', 'VendorRef') }} as vendor_name,
    {{ ref_id('payload', 'APAccountRef') }} as ap_account_id,
    payload ->> 'POStatus' as po_status,  -- Open, Closed
    payload ->> 'EmailStatus' as email_status,
    (payload ->> 'DueDate')::date as due_date,
    {{ money("payload ->> 'TotalAmt'") }} as total_amt,
    {{ money("payload ->> 'HomeTotalAmt'") }} as home_total_amt,
    payload -> 'CustomField' as custom_fields
from {{ source('raw', 'qb_purchase_orders') }}
where deleted_at_utc is null
