select
    {{ txn_columns('Transfer') }},
    {{ ref_id('payload', 'FromAccountRef') }} as from_account_id,
    {{ ref_id('payload', 'ToAccountRef') }} as to_account_id,
    {{ money("payload ->> 'Amount'") }} as amount,
    payload ->> 'Amount' as amount_text
from {{ source('raw', 'qb_transfers') }}
where deleted_at_utc is null
