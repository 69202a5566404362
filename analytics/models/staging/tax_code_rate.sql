-- One row per tax rate of a non-deleted tax code, on sales and on purchases (SalesTaxRateList /
-- PurchaseTaxRateList -> TaxRateDetail).
select
    c.realm_id, c.tax_code_id, c.tax_code_name, l.applies_to, d.rate_index::int as rate_index,
    {{ ref_id('d.detail', 'TaxRateRef') }} as tax_rate_id,
    {{ ref_name('d.detail', 'TaxRateRef') }} as tax_rate_name,
    d.detail ->> 'TaxTypeApplicable' as tax_type_applicable,
    (d.detail ->> 'TaxOrder')::int as tax_order
from {{ ref('stg_tax_codes') }} c
cross join lateral (values ('Sales', c.payload -> 'SalesTaxRateList'),
                           ('Purchase', c.payload -> 'PurchaseTaxRateList')) as l(applies_to, list)
cross join lateral jsonb_array_elements(
    case when jsonb_typeof(l.list -> 'TaxRateDetail') = 'array' then l.list -> 'TaxRateDetail' else '[]'::jsonb end)
    with ordinality as d(detail, rate_index)
