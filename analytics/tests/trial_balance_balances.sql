-- The trial balance balances in every month and basis.
select realm_id, basis, month, sum(debit) as debits, sum(credit) as credits
from {{ ref('trial_balance_monthly') }}
group by 1, 2, 3
having sum(debit) <> sum(credit)
