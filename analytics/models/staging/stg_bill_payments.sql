select
    {{ txn_columns('BillPayment') }},
    {{ ref_id('payload', 'VendorRef') }} as vendor_id,
    payload ->> 'PayType' as pay_type,
    {{ ref_id('payload', 'APAccountRef') }} as ap_account_id,
    coalesce({{ ref_id("payload -> 'CheckPayment'", 'BankAccountRef') }},
             {{ ref_id("payload -> 'CreditCardPayment'", 'CCAccountRef') }}) as payment_account_id,
    {{ money("payload ->> 'TotalAmt'") }} as total_amt,
    payload ->> 'TotalAmt' as total_amt_text,
    {{ money("payload ->> 'HomeTotalAmt'") }} as home_total_amt,
    (select lt ->> 'TxnId' from jsonb_array_elements(coalesce(payload -> 'Line', '[]'::jsonb)) with ordinality l(line, i)
            cross join lateral jsonb_array_elements(coalesce(l.line -> 'LinkedTxn', '[]'::jsonb)) lt
      where lt ->> 'TxnType' = 'Bill' order by l.i limit 1) as linked_bill_id
from {{ source('raw', 'qb_bill_payments') }}
where deleted_at_utc is null
