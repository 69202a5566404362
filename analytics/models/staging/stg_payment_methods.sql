select
    realm_id,
    id as payment_method_id,
    payload ->> 'Name' as payment_method_name,
    payload ->> 'Type' as payment_method_type,  -- CREDIT_CARD or NON_CREDIT_CARD
    {{ flag("payload ->> 'Active'", 'true') }} as is_active,
    last_updated_at
from {{ source('raw', 'qb_payment_methods') }}
where deleted_at_utc is null
