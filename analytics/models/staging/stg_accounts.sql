select
    realm_id,
    id as account_id,
    payload ->> 'Name' as account_name,
    payload ->> 'FullyQualifiedName' as fully_qualified_name,
    payload ->> 'AccountType' as account_type,
    payload ->> 'AccountSubType' as account_sub_type,
    payload ->> 'Classification' as classification,
    coalesce((payload ->> 'Active')::boolean, true) as is_active,
    coalesce(payload -> 'CurrencyRef' ->> 'value', 'USD') as currency,
    {{ money("payload ->> 'CurrentBalance'") }} as current_balance,
    last_updated_at
from {{ source('raw', 'qb_accounts') }}
where deleted_at_utc is null
