select
    {{ txn_columns('Payment') }},
    {{ ref_id('payload', 'CustomerRef') }} as customer_id,
    {{ ref_id('payload', 'ARAccountRef') }} as ar_account_id,
    {{ ref_id('payload', 'DepositToAccountRef') }} as deposit_to_account_id,
    {{ money("payload ->> 'TotalAmt'") }} as total_amt,
    payload ->> 'TotalAmt' as total_amt_text,
    {{ money("payload ->> 'HomeTotalAmt'") }} as home_total_amt,
    {{ money("payload ->> 'UnappliedAmt'") }} as unapplied_amt,
    -- the invoice the payment applies to (the first line linking an Invoice)
    (select lt ->> 'TxnId' from jsonb_array_elements(coalesce(payload -> 'Line', '[]'::jsonb)) with ordinality l(line, i)
            cross join lateral jsonb_array_elements(coalesce(l.line -> 'LinkedTxn', '[]'::jsonb)) lt
      where lt ->> 'TxnType' = 'Invoice' order by l.i limit 1) as linked_invoice_id
from {{ source('raw', 'qb_payments') }}
where deleted_at_utc is null
