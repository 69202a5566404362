{{ config(materialized='view') }}
-- The monthly profit and loss per account, on both bases. `amount` is debit positive; `report_amount` is
-- signed as QuickBooks prints it (income positive, expenses positive).
select
    realm_id, basis, month, account_id, account_name, account_type,
    case when account_type in ('Income', 'Other Income') then 'Income'
         when account_type = 'Cost of Goods Sold' then 'Cost of Goods Sold'
         else 'Expense' end as section,
    (period_cents / 100.0)::numeric(18, 2) as amount,
    (case when account_type in ('Income', 'Other Income') then -period_cents else period_cents end / 100.0)::numeric(18, 2)
        as report_amount
from {{ ref('account_months') }}
where is_pnl and period_cents <> 0
