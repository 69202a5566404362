select
    realm_id,
    id as class_id,
    payload ->> 'Name' as class_name,
    payload ->> 'FullyQualifiedName' as fully_qualified_name,
    {{ flag("payload ->> 'SubClass'", 'false') }} as is_sub_class,
    {{ ref_id('payload', 'ParentRef') }} as parent_class_id,
    {{ flag("payload ->> 'Active'", 'true') }} as is_active,
    last_updated_at
from {{ source('raw', 'qb_classes') }}
where deleted_at_utc is null
