-- Time worked, by an employee or a vendor (NameOf), optionally billable to a customer. Posts nothing.
select
    {{ txn_columns('TimeActivity') }},
    payload ->> 'NameOf' as name_of,  -- Employee or Vendor
    {{ ref_id('payload', 'EmployeeRef') }} as employee_id,
    {{ ref_name('payload', 'EmployeeRef') }} as employee_name,
    {{ ref_id('payload', 'VendorRef') }} as vendor_id,
    {{ ref_name('payload', 'VendorRef') }} as vendor_name,
    {{ ref_id('payload', 'CustomerRef') }} as customer_id,
    {{ ref_name('payload', 'CustomerRef') }} as customer_name,
    {{ ref_id('payload', 'ItemRef') }} as item_id,
    {{ ref_id('payload', 'ClassRef') }} as class_id,
    payload ->> 'BillableStatus' as billable_status,
    {{ flag("payload ->> 'Taxable'", 'false') }} as is_taxable,
    {{ money("payload ->> 'HourlyRate'") }} as hourly_rate,
    (payload ->> 'Hours')::int as hours,
    (payload ->> 'Minutes')::int as minutes,
    -- the time worked: Hours/Minutes, else EndTime - StartTime - Break (QBO fills one or the other)
    (case when payload ? 'Hours' or payload ? 'Minutes'
          then coalesce((payload ->> 'Hours')::numeric, 0) + coalesce((payload ->> 'Minutes')::numeric, 0) / 60
          else extract(epoch from (payload ->> 'EndTime')::timestamptz - (payload ->> 'StartTime')::timestamptz) / 3600
               - coalesce((payload ->> 'BreakHours')::numeric, 0) - coalesce((payload ->> 'BreakMinutes')::numeric, 0) / 60
     end)::numeric(10, 4) as duration_hours,
    payload ->> 'Description' as description
from {{ source('raw', 'qb_time_activities') }}
where deleted_at_utc is null
