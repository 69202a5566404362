select
    realm_id,
    id as tax_agency_id,
    payload ->> 'DisplayName' as display_name,
    {{ flag("payload ->> 'TaxTrackedOnSales'", 'false') }} as is_tracked_on_sales,
    {{ flag("payload ->> 'TaxTrackedOnPurchases'", 'false') }} as is_tracked_on_purchases,
    last_updated_at
from {{ source('raw', 'qb_tax_agencies') }}
where deleted_at_utc is null
