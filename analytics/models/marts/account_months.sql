{{ config(materialized='view') }}
-- Per company, basis, account and month (from the first posting to this month): the month's net postings,
-- the balance to date and the fiscal-year-to-date sum (fiscal year = calendar year), debit positive, in cents.
-- A view over general_ledger, so the statements always show what the ledger holds.
with gl as (
    select realm_id, basis, month, account_id, sum(cents) as cents
    from {{ ref('general_ledger') }}
    group by 1, 2, 3, 4
),
bounds as (
    select realm_id, min(month) as first_month,
           greatest(max(month), date_trunc('month', current_date)::date) as last_month
    from gl group by realm_id
),
spine as (
    select realm_id, generate_series(first_month, last_month, interval '1 month')::date as month from bounds
),
grid as (
    select a.realm_id, a.basis, a.account_id, s.month
    from (select distinct realm_id, basis, account_id from gl) a
    join spine s on s.realm_id = a.realm_id
),
filled as (
    select g.*, coalesce(gl.cents, 0)::bigint as period_cents
    from grid g
    left join gl on gl.realm_id = g.realm_id and gl.basis = g.basis and gl.account_id = g.account_id
                and gl.month = g.month
)
select
    f.realm_id, f.basis, f.month, (f.month + interval '1 month' - interval '1 day')::date as month_end,
    f.account_id, a.account_name, a.account_type, a.classification,
    a.account_type in ('Income', 'Other Income', 'Cost of Goods Sold', 'Expense', 'Other Expense') as is_pnl,
    f.period_cents,
    sum(f.period_cents) over (partition by f.realm_id, f.basis, f.account_id order by f.month)::bigint as to_date_cents,
    sum(f.period_cents) over (partition by f.realm_id, f.basis, f.account_id, extract(year from f.month)
                              order by f.month)::bigint as ytd_cents
from filled f
left join {{ ref('stg_accounts') }} a on a.realm_id = f.realm_id and a.account_id = f.account_id
