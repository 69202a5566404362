-- A payment of a credit card balance from a bank account (Dr the card's liability, Cr the bank).
select
    {{ txn_columns('CreditCardPayment') }},
    {{ ref_id('payload', 'CreditCardAccountRef') }} as credit_card_account_id,
    {{ ref_name('payload', 'CreditCardAccountRef') }} as credit_card_account_name,
    {{ ref_id('payload', 'BankAccountRef') }} as bank_account_id,
    {{ ref_name('payload', 'BankAccountRef') }} as bank_account_name,
    {{ money("payload ->> 'Amount'") }} as amount,
    payload ->> 'Amount' as amount_text,
    payload ->> 'PrivateNote' as private_note
from {{ source('raw', 'qb_credit_card_payments') }}
where deleted_at_utc is null
