{# A combination of columns is unique (what dbt_utils.unique_combination_of_columns does, without the package). #}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
