select
    {{ txn_columns('Invoice') }},
    {{ ref_id('payload', 'CustomerRef') }} as customer_id,
    {{ ref_id('payload', 'ARAccountRef') }} as ar_account_id,
    {{ ref_id('payload', 'DepositToAccountRef') }} as deposit_to_account_id,
    (payload ->> 'DueDate')::date as due_date,
    {{ money("payload ->> 'TotalAmt'") }} as total_amt,
    {{ money("payload ->> 'HomeTotalAmt'") }} as home_total_amt,
    {{ money("payload ->> 'Balance'") }} as balance,
    {{ money("coalesce(payload -> 'TxnTaxDetail' ->> 'TotalTax', '0')") }} as total_tax,
    coalesce(payload -> 'TxnTaxDetail' ->> 'TotalTax', '0') as total_tax_text,
    payload -> 'CustomField' as custom_fields
from {{ source('raw', 'qb_invoices') }}
where deleted_at_utc is null
