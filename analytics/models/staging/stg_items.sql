select
    realm_id,
    id as item_id,
    payload ->> 'Name' as item_name,
    payload ->> 'Type' as item_type,
    coalesce((payload ->> 'Active')::boolean, true) as is_active,
    {{ ref_id('payload', 'IncomeAccountRef') }} as income_account_id,
    {{ ref_id('payload', 'ExpenseAccountRef') }} as expense_account_id,
    {{ ref_id('payload', 'AssetAccountRef') }} as asset_account_id,
    {{ money("payload ->> 'UnitPrice'") }} as unit_price,
    last_updated_at
from {{ source('raw', 'qb_items') }}
where deleted_at_utc is null
