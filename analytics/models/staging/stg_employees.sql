select
    realm_id,
    id as employee_id,
    payload ->> 'DisplayName' as display_name,
    payload ->> 'GivenName' as given_name,
    payload ->> 'FamilyName' as family_name,
    payload ->> 'EmployeeNumber' as employee_number,
    (payload ->> 'HiredDate')::date as hired_date,
    (payload ->> 'ReleasedDate')::date as released_date,
    {{ flag("payload ->> 'BillableTime'", 'false') }} as is_billable_time,
    {{ money("payload ->> 'BillRate'") }} as bill_rate,
    payload -> 'PrimaryEmailAddr' ->> 'Address' as email,
    payload -> 'PrimaryPhone' ->> 'FreeFormNumber' as phone,
    {{ flag("payload ->> 'Active'", 'true') }} as is_active,
    last_updated_at
from {{ source('raw', 'qb_employees') }}
where deleted_at_utc is null
