select
    realm_id,
    id as tax_rate_id,
    payload ->> 'Name' as tax_rate_name,
    payload ->> 'Description' as description,
    (payload ->> 'RateValue')::numeric as rate_value,  -- percent: 8.5 = 8.5 %
    {{ ref_id('payload', 'AgencyRef') }} as tax_agency_id,
    payload ->> 'SpecialTaxType' as special_tax_type,
    payload ->> 'DisplayType' as display_type,
    {{ flag("payload ->> 'Active'", 'true') }} as is_active,
    last_updated_at
from {{ source('raw', 'qb_tax_rates') }}
where deleted_at_utc is null
