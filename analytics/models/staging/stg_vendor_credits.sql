select
    {{ txn_columns('VendorCredit') }},
    {{ ref_id('payload', 'VendorRef') }} as vendor_id,
    {{ ref_id('payload', 'APAccountRef') }} as ap_account_id,
    (payload ->> 'DueDate')::date as due_date,
    {{ money("payload ->> 'TotalAmt'") }} as total_amt,
    {{ money("payload ->> 'HomeTotalAmt'") }} as home_total_amt,
    {{ money("payload ->> 'Balance'") }} as balance
from {{ source('raw', 'qb_vendor_credits') }}
where deleted_at_utc is null
