select
    {{ txn_columns('JournalEntry') }},
    coalesce((payload ->> 'Adjustment')::boolean, false) as is_adjustment,
    {{ money("payload ->> 'TotalAmt'") }} as total_amt
from {{ source('raw', 'qb_journal_entries') }}
where deleted_at_utc is null
