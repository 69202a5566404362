{# Helpers for QBO's JSON: references, money and home-currency cents. #}

{% macro ref_id(expr, key) -%}
  nullif({{ expr }} -> '{{ key }}' ->> 'value', '')
{%- endmacro %}

{% macro ref_name(expr, key) -%}
  nullif({{ expr }} -> '{{ key }}' ->> 'name', '')
{%- endmacro %}

{# A JSON boolean, with the value QBO means when the key is absent. #}
{% macro flag(expr, default) -%}
  coalesce(({{ expr }})::boolean, {{ default }})
{%- endmacro %}

{% macro money(expr) -%}
  ({{ expr }})::numeric(18, 2)
{%- endmacro %}

{# Home-currency cents of an amount in the transaction's currency: round(amount * rate * 100), in double
   precision and round-half-even, exactly as QuickBooks' report arithmetic in the emulator does. #}
{% macro home_cents(amount, rate) -%}
  round((({{ amount }})::float8 * ({{ rate }})::float8) * 100::float8)::bigint
{%- endmacro %}

{% macro rate(payload) -%}
  coalesce(nullif({{ payload }} ->> 'ExchangeRate', '')::float8, 1::float8)
{%- endmacro %}

{# The columns every transaction's staging model shares. #}
{% macro txn_columns(entity) -%}
    realm_id,
    id as txn_id,
    '{{ entity }}'::varchar as txn_type,
    nullif(payload ->> 'DocNumber', '') as doc_number,
    (payload ->> 'TxnDate')::date as txn_date,
    coalesce(payload -> 'CurrencyRef' ->> 'value', 'USD') as currency,
    {{ rate('payload') }} as exchange_rate,
    last_updated_at,
    payload
{%- endmacro %}

{# The JSON lines of a transaction staging model, one row per line with its position. #}
{% macro lines_of(model) -%}
  select t.realm_id, t.txn_id, t.txn_type, t.txn_date, t.exchange_rate, l.line_index::int as line_index,
         l.line, l.line ->> 'DetailType' as detail_type, (l.line ->> 'Amount')::numeric(18, 2) as amount,
         l.line ->> 'Amount' as amount_text
  from {{ model }} t
  cross join lateral jsonb_array_elements(coalesce(t.payload -> 'Line', '[]'::jsonb))
       with ordinality as l(line, line_index)
{%- endmacro %}

{% macro grant_readers() -%}
  {%- set roles = var('readers', '').split(',') | map('trim') | reject('equalto', '') | list -%}
  {%- for r in roles -%}
    grant usage on schema {{ adapter.quote(target.schema) }} to {{ adapter.quote(r) }};
    grant select on all tables in schema {{ adapter.quote(target.schema) }} to {{ adapter.quote(r) }};
  {%- endfor -%}
  {%- if not roles %}select 1{% endif -%}
{%- endmacro %}
