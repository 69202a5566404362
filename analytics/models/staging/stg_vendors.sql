select realm_id, id as vendor_id, payload ->> 'DisplayName' as display_name,
       coalesce(payload -> 'CurrencyRef' ->> 'value', 'USD') as currency,
       coalesce((payload ->> 'Active')::boolean, true) as is_active, last_updated_at
from {{ source('raw', 'qb_vendors') }}
where deleted_at_utc is null
