-- Every transaction's postings balance on each basis: debits = credits.
select realm_id, basis, txn_type, txn_id, sum(debit) as debits, sum(credit) as credits
from {{ ref('general_ledger') }}
group by 1, 2, 3, 4
having sum(debit) <> sum(credit)
