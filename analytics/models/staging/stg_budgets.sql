select
    realm_id,
    id as budget_id,
    payload ->> 'Name' as budget_name,
    (payload ->> 'StartDate')::date as start_date,
    (payload ->> 'EndDate')::date as end_date,
    payload ->> 'BudgetType' as budget_type,
    payload ->> 'BudgetEntryType' as budget_entry_type,
    {{ flag("payload ->> 'Active'", 'true') }} as is_active,
    last_updated_at,
    payload
from {{ source('raw', 'qb_budgets') }}
where deleted_at_utc is null
