select
    {{ txn_columns('Purchase') }},
    payload ->> 'PaymentType' as payment_type,
    coalesce((payload ->> 'Credit')::boolean, false) as is_credit,
    {{ ref_id('payload', 'AccountRef') }} as payment_account_id,
    {{ ref_id('payload', 'EntityRef') }} as entity_id,
    payload -> 'EntityRef' ->> 'type' as entity_type,
    {{ money("payload ->> 'TotalAmt'") }} as total_amt,
    {{ money("payload ->> 'HomeTotalAmt'") }} as home_total_amt
from {{ source('raw', 'qb_purchases') }}
where deleted_at_utc is null
