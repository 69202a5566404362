select
    realm_id,
    id as term_id,
    payload ->> 'Name' as term_name,
    payload ->> 'Type' as term_type,  -- STANDARD (DueDays) or DATE_DRIVEN (DayOfMonthDue)
    (payload ->> 'DueDays')::int as due_days,
    (payload ->> 'DiscountDays')::int as discount_days,
    (payload ->> 'DiscountPercent')::numeric as discount_percent,
    (payload ->> 'DayOfMonthDue')::int as day_of_month_due,
    {{ flag("payload ->> 'Active'", 'true') }} as is_active,
    last_updated_at
from {{ source('raw', 'qb_terms') }}
where deleted_at_utc is null
