select
    realm_id,
    id as tax_code_id,
    payload ->> 'Name' as tax_code_name,
    payload ->> 'Description' as description,
    {{ flag("payload ->> 'Taxable'", 'false') }} as is_taxable,
    {{ flag("payload ->> 'TaxGroup'", 'false') }} as is_tax_group,
    {{ flag("payload ->> 'Hidden'", 'false') }} as is_hidden,
    {{ flag("payload ->> 'Active'", 'true') }} as is_active,
    last_updated_at,
    payload
from {{ source('raw', 'qb_tax_codes') }}
where deleted_at_utc is null
