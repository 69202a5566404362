select
    {{ txn_columns('Deposit') }},
    {{ ref_id('payload', 'DepositToAccountRef') }} as deposit_to_account_id,
    {{ money("payload ->> 'TotalAmt'") }} as total_amt
from {{ source('raw', 'qb_deposits') }}
where deleted_at_utc is null
