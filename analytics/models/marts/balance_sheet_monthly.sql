{{ config(materialized='view') }}
-- The balance sheet as of each month end, on both bases: balance-sheet accounts to date, prior fiscal years'
-- net income in Retained Earnings (the Retained Earnings account, or a row of that name), this fiscal year's
-- as Net Income. `account_key` is the account Id, or the row name for the two computed rows. `balance` is
-- debit positive; `report_amount` as QuickBooks prints it (assets positive, liabilities and equity positive).
with m as (select * from {{ ref('account_months') }}),
re as (select realm_id, retained_earnings_account_id from {{ ref('int_fixed_accounts') }}),
pnl as (
    select realm_id, basis, month, month_end, sum(to_date_cents - ytd_cents) as prior_cents, sum(ytd_cents) as ytd_cents
    from m where is_pnl group by 1, 2, 3, 4
),
rows_ as (
    select m.realm_id, m.basis, m.month, m.month_end, m.account_id as account_key, m.account_id, m.account_name,
           m.account_type, m.classification, m.to_date_cents as cents
    from m where not m.is_pnl
    union all
    select p.realm_id, p.basis, p.month, p.month_end, coalesce(re.retained_earnings_account_id, 'Retained Earnings'),
           re.retained_earnings_account_id, 'Retained Earnings', 'Equity', 'Equity', p.prior_cents
    from pnl p left join re on re.realm_id = p.realm_id
    union all
    select realm_id, basis, month, month_end, 'Net Income', null, 'Net Income', 'Equity', 'Equity', ytd_cents from pnl
),
summed as (
    select realm_id, basis, month, month_end, account_key, max(account_id) as account_id, max(account_name) as account_name,
           max(account_type) as account_type, max(classification) as classification, sum(cents)::bigint as cents
    from rows_ group by 1, 2, 3, 4, 5
)
select *, (cents / 100.0)::numeric(18, 2) as balance,
       (case when classification = 'Asset' then cents else -cents end / 100.0)::numeric(18, 2) as report_amount
from summed
where cents <> 0 or account_key = 'Net Income'
