-- The accounts QuickBooks posts to by default, per company: A/R and A/P (when a transaction names none),
-- sales tax payable, the income account of a line without an item, Retained Earnings.
select
    realm_id,
    coalesce((array_agg(account_id order by length(account_id), account_id)
              filter (where account_name = 'Accounts Receivable (A/R)'))[1],
             (array_agg(account_id order by length(account_id), account_id)
              filter (where account_type = 'Accounts Receivable'))[1]) as ar_account_id,
    coalesce((array_agg(account_id order by length(account_id), account_id)
              filter (where account_name = 'Accounts Payable (A/P)'))[1],
             (array_agg(account_id order by length(account_id), account_id)
              filter (where account_type = 'Accounts Payable'))[1]) as ap_account_id,
    (array_agg(account_id order by length(account_id), account_id)
     filter (where account_name = 'Board of Equalization Payable'))[1] as sales_tax_account_id,
    (array_agg(account_id order by length(account_id), account_id)
     filter (where account_name = 'Services'))[1] as default_income_account_id,
    (array_agg(account_id order by length(account_id), account_id)
     filter (where account_name = 'Retained Earnings' and account_type = 'Equity'))[1] as retained_earnings_account_id
from {{ ref('stg_accounts') }}
group by realm_id
