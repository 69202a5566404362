select
    {{ txn_columns('Estimate') }},
    {{ ref_id('payload', 'CustomerRef') }} as customer_id,
    {{ ref_name('payload', 'CustomerRef') }} as customer_name,
    (payload ->> 'ExpirationDate')::date as expiration_date,
    payload ->> 'TxnStatus' as txn_status,  -- Pending, Accepted, Closed, Rejected
    {{ money("payload ->> 'TotalAmt'") }} as total_amt,
    {{ money("payload ->> 'HomeTotalAmt'") }} as home_total_amt,
    {{ money("coalesce(payload -> 'TxnTaxDetail' ->> 'TotalTax', '0')") }} as total_tax,
    {{ ref_id('payload', 'ClassRef') }} as class_id,
    {{ ref_id('payload', 'DepartmentRef') }} as department_id,
    payload -> 'CustomField' as custom_fields
from {{ source('raw', 'qb_estimates') }}
where deleted_at_utc is null
