-- Assets = liabilities + equity in every month and basis (debit-positive balances sum to zero).
select realm_id, basis, month, sum(balance) as imbalance
from {{ ref('balance_sheet_monthly') }}
group by 1, 2, 3
having sum(balance) <> 0
