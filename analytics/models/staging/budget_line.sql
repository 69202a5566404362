-- One row per BudgetDetail entry of a non-deleted budget: an amount per account (and optionally customer,
-- class, department) and period.
select
    b.realm_id, b.budget_id, b.budget_name, d.line_index::int as line_index,
    (d.detail ->> 'BudgetDate')::date as budget_date,
    {{ money("d.detail ->> 'Amount'") }} as amount,
    {{ ref_id('d.detail', 'AccountRef') }} as account_id,
    {{ ref_name('d.detail', 'AccountRef') }} as account_name,
    {{ ref_id('d.detail', 'CustomerRef') }} as customer_id,
    {{ ref_id('d.detail', 'ClassRef') }} as class_id,
    {{ ref_id('d.detail', 'DepartmentRef') }} as department_id
from {{ ref('stg_budgets') }} b
cross join lateral jsonb_array_elements(
    case when jsonb_typeof(b.payload -> 'BudgetDetail') = 'array' then b.payload -> 'BudgetDetail' else '[]'::jsonb end)
    with ordinality as d(detail, line_index)
