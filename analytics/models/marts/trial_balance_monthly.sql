{{ config(materialized='view') }}
-- The trial balance as of each month end, on both bases: balance-sheet accounts to date (prior years' net
-- income in Retained Earnings) and this fiscal year's P&L accounts; debits = credits.
with m as (select * from {{ ref('account_months') }}),
rows_ as (
    select realm_id, basis, month, month_end, account_key, account_id, account_name, cents
    from {{ ref('balance_sheet_monthly') }} where account_key <> 'Net Income'
    union all
    select realm_id, basis, month, month_end, account_id, account_id, account_name, ytd_cents
    from m where is_pnl
)
select realm_id, basis, month, month_end, account_key, account_id, account_name, cents,
       (greatest(cents, 0) / 100.0)::numeric(18, 2) as debit, (greatest(-cents, 0) / 100.0)::numeric(18, 2) as credit
from rows_ where cents <> 0
