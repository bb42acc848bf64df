-- Every city of the panel has a boundary polygon (after code resolution, e.g. census 110100 -> 110000);
-- otherwise it would silently get no night light. Raises an error that names the cities.
{%- if execute %}
    {%- set missing = run_query(
        "select p.city_code || ' ' || coalesce(max(p.city_cn), '') from " ~ ref('city_year_panel') ~ " as p"
        ~ " where p.city_code not in (select city_code from " ~ ref('stg_boundaries__cities')
        ~ " where unit_kind = 'city') group by p.city_code order by p.city_code") %}
    {%- if missing.rows | length > 0 %}
        {{ exceptions.raise_compiler_error("panel cities without a boundary polygon in <raw>/boundaries/ (no night "
           ~ "light, no downscaled CO2): " ~ (missing.columns[0].values() | join(', '))) }}
    {%- endif %}
{%- endif %}
select city_code
from {{ ref('city_year_panel') }}
where city_code not in (select city_code from {{ ref('stg_boundaries__cities') }} where unit_kind = 'city')
