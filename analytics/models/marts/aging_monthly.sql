{{ config(materialized='view') }}
-- A/R and A/P aging as of each month end: every open invoice (bill) dated on or before it, by customer
-- (vendor), in the buckets QuickBooks prints (Current, 1-30, 31-60, 61-90, 91 and over days past due), home
-- currency cents. Open = the document's served `Balance` (QuickBooks' figure; not recomputed from payments).
with months as (
    select distinct realm_id, month, month_end from {{ ref('account_months') }}
),
docs as (
    select realm_id, 'AgedReceivables'::varchar as report, txn_id, txn_date, coalesce(due_date, txn_date) as due_date,
           customer_id as party_id, {{ home_cents("payload ->> 'Balance'", 'exchange_rate') }} as open_cents
    from {{ ref('stg_invoices') }}
    union all
    select realm_id, 'AgedPayables', txn_id, txn_date, coalesce(due_date, txn_date), vendor_id,
           {{ home_cents("payload ->> 'Balance'", 'exchange_rate') }}
    from {{ ref('stg_bills') }}
),
aged as (
    select m.realm_id, d.report, m.month, m.month_end, d.party_id, d.open_cents,
           case when m.month_end - d.due_date <= 0 then 'Current'
                when m.month_end - d.due_date <= 30 then '1 - 30'
                when m.month_end - d.due_date <= 60 then '31 - 60'
                when m.month_end - d.due_date <= 90 then '61 - 90'
                else '91 and over' end as bucket
    from months m
    join docs d on d.realm_id = m.realm_id and d.txn_date <= m.month_end and d.open_cents > 0
)
select a.realm_id, a.report, a.month, a.month_end, a.party_id,
       coalesce(c.display_name, v.display_name) as party_name,
       sum(open_cents) filter (where bucket = 'Current')::bigint as current_cents,
       sum(open_cents) filter (where bucket = '1 - 30')::bigint as days_1_30_cents,
       sum(open_cents) filter (where bucket = '31 - 60')::bigint as days_31_60_cents,
       sum(open_cents) filter (where bucket = '61 - 90')::bigint as days_61_90_cents,
       sum(open_cents) filter (where bucket = '91 and over')::bigint as days_91_plus_cents,
       sum(open_cents)::bigint as total_cents,
       (sum(open_cents) / 100.0)::numeric(18, 2) as total
from aged a
left join {{ ref('stg_customers') }} c on a.report = 'AgedReceivables' and c.realm_id = a.realm_id
     and c.customer_id = a.party_id
left join {{ ref('stg_vendors') }} v on a.report = 'AgedPayables' and v.realm_id = a.realm_id and v.vendor_id = a.party_id
group by 1, 2, 3, 4, 5, 6
