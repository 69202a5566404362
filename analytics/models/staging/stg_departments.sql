select
    realm_id,
    id as department_id,
    payload ->> 'Name' as department_name,
    payload ->> 'FullyQualifiedName' as fully_qualified_name,
    {{ flag("payload ->> 'SubDepartment'", 'false') }} as is_sub_department,
    {{ ref_id('payload', 'ParentRef') }} as parent_department_id,
    {{ flag("payload ->> 'Active'", 'true') }} as is_active,
    last_updated_at
from {{ source('raw', 'qb_departments') }}
where deleted_at_utc is null
