-- City-year CO2 from the CEADs city inventory (unbalanced: only published city-years).
-- Abolished units (seed historic_cities, e.g. 巢湖 341400, abolished 2011) follow
-- var('abolished_city_rule'): 'fold' (default) adds them to their main successor (巢湖 → 合肥), 'drop'
-- leaves them out (they stay visible in int_emissions__ceads_city_resolved), 'keep' keeps them as units
-- of their own (dim_city then lists them).
{% set rule = var('abolished_city_rule', 'fold') %}

with resolved as (
    select r.*, h.successor_code
    from {{ ref('int_emissions__ceads_city_resolved') }} as r
    left join {{ ref('historic_cities') }} as h using (city_code)
    where r.city_code is not null
),

ruled as (
    select
        {% if rule == 'fold' %}coalesce(successor_code, city_code){% else %}city_code{% endif %} as city_code,
        year,
        co2_mt,
        successor_code is not null as from_abolished_unit
    from resolved
    {% if rule == 'drop' %}where successor_code is null{% endif %}
)

select
    city_code,
    year,
    sum(co2_mt) as co2_mt,
    count(*) as n_source_rows,
    bool_or(from_abolished_unit) as includes_abolished_unit
from ruled
-- Units CEADs lists that are not prefecture-level (济源, 仙桃, 潜江, 天门, 石河子 …: province-governed
-- county-level cities) are kept in int_emissions__county_level_unit_co2, not here.
where city_code in (select city_code from {{ ref('dim_city') }})
group by city_code, year
