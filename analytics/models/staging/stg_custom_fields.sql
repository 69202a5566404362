-- One row per custom field of a non-deleted transaction (its CustomField array), typed by the field's Type:
-- StringType -> string_value, NumberType -> number_value, DateType -> date_value (BooleanType: boolean_value).
-- QBO returns the legacy string fields by default and every field with `include=enhancedAllCustomFields`.
{%- set models = ['stg_invoices', 'stg_sales_receipts', 'stg_credit_memos', 'stg_refund_receipts', 'stg_estimates',
                  'stg_payments', 'stg_bills', 'stg_bill_payments', 'stg_vendor_credits', 'stg_purchases',
                  'stg_purchase_orders', 'stg_deposits', 'stg_journal_entries', 'stg_transfers',
                  'stg_time_activities', 'stg_credit_card_payments'] %}
with fields as (
{%- for m in models %}
    select realm_id, txn_type, txn_id, txn_date, payload -> 'CustomField' as custom_field from {{ ref(m) }}
    {%- if not loop.last %} union all{% endif %}
{%- endfor %}
)
select
    f.realm_id, f.txn_type, f.txn_id, f.txn_date, c.field_index::int as field_index,
    c.field ->> 'DefinitionId' as definition_id,
    c.field ->> 'Name' as field_name,
    c.field ->> 'Type' as field_type,
    c.field ->> 'StringValue' as string_value,
    (c.field ->> 'NumberValue')::numeric as number_value,
    left(c.field ->> 'DateValue', 10)::date as date_value,
    (c.field ->> 'BooleanValue')::boolean as boolean_value,
    coalesce(c.field ->> 'StringValue', c.field ->> 'NumberValue', c.field ->> 'DateValue',
             c.field ->> 'BooleanValue') as value_text
from fields f
cross join lateral jsonb_array_elements(
    case when jsonb_typeof(f.custom_field) = 'array' then f.custom_field else '[]'::jsonb end)
    with ordinality as c(field, field_index)
