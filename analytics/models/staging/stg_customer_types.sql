select
    realm_id,
    id as customer_type_id,
    payload ->> 'Name' as customer_type_name,
    {{ flag("payload ->> 'Active'", 'true') }} as is_active,
    last_updated_at
from {{ source('raw', 'qb_customer_types') }}
where deleted_at_utc is null
