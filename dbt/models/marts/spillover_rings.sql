-- Butts (2023) ring exposure, as in seed spec 002 §5.5 / §7.7: for each (city, year, policy), whether
-- ANOTHER city treated by that year lies within each distance band, and how many do. Bands are
-- half-open (lo, hi] km, as dagster_project/sample/dgp.py::ring_exposure (dist > lo and dist <= hi).
-- Options (vars, defaults in brackets):
--   spillover_ring_bands_km [[[0, 100], [100, 200], [200, 300]]]  -> columns ring_<lo>_<hi>, n_treated_<lo>_<hi>
--   spillover_rings_for_treated [false]  false: only untreated city-years can be exposed (ring = 0 once the
--                                        city itself is treated), as the dgp plants it; true: treated
--                                        cities are exposed too (seed 002's reading of Ring_ij).
--   spillover_universe [panel]           panel: the cities of the city-year panel (int_yearbook__values),
--                                        i.e. neighbours and exposed units are the estimation sample, as in
--                                        the dgp; dim_city: every unit of dim_city (treated neighbours
--                                        outside the panel count too).
-- n_treated_* counts treated neighbours whatever the city's own status; ring_* applies the option.
{%- set bands = var('spillover_ring_bands_km', [[0, 100], [100, 200], [200, 300]]) -%}
{%- set rings_for_treated = var('spillover_rings_for_treated', false) -%}
{%- set universe = var('spillover_universe', 'panel') -%}
{%- if universe not in ['panel', 'dim_city'] -%}
    {{ exceptions.raise_compiler_error("var spillover_universe must be panel or dim_city, got " ~ universe) }}
{%- endif -%}
{%- set ns = namespace(max_hi=0, names=[]) -%}
{%- for b in bands -%}
    {%- if b[1] > ns.max_hi -%}{%- set ns.max_hi = b[1] -%}{%- endif -%}
    {%- set ns.names = ns.names + [(b[0] | string | replace('.', 'p')) ~ '_' ~ (b[1] | string | replace('.', 'p'))] -%}
{%- endfor %}

with universe as (
    {% if universe == 'panel' %}
    select distinct city_code from {{ ref('int_yearbook__values') }}
    {% else %}
    select city_code from {{ ref('dim_city') }}
    {% endif %}
),

panel as (
    select t.city_code, t.year, t.policy_id, t.treated
    from {{ ref('treatment_panel') }} as t
    semi join universe as u using (city_code)
),

pairs as (
    select d.city_code, d.neighbour_code, d.distance_km
    from {{ ref('city_distances') }} as d
    semi join universe as u using (city_code)
    where d.neighbour_code in (select city_code from universe)
      and d.distance_km <= {{ ns.max_hi }}
),

treated_neighbours as (
    select
        p.city_code,
        t.year,
        t.policy_id,
        {%- for b in bands %}
        count(*) filter (where p.distance_km > {{ b[0] }} and p.distance_km <= {{ b[1] }})
            as n_treated_{{ ns.names[loop.index0] }}{{ ',' if not loop.last }}
        {%- endfor %}
    from pairs as p
    inner join panel as t on t.city_code = p.neighbour_code and t.treated = 1
    group by p.city_code, t.year, t.policy_id
),

final as (
    select
        p.city_code,
        p.year,
        p.policy_id,
        p.treated,
        {%- for b in bands %}
        case when coalesce(n.n_treated_{{ ns.names[loop.index0] }}, 0) > 0
                  {%- if not rings_for_treated %} and p.treated = 0{% endif %}
             then 1 else 0 end as ring_{{ ns.names[loop.index0] }},
        {%- endfor %}
        {%- for b in bands %}
        coalesce(n.n_treated_{{ ns.names[loop.index0] }}, 0) as n_treated_{{ ns.names[loop.index0] }}{{ ',' if not loop.last }}
        {%- endfor %}
    from panel as p
    left join treated_neighbours as n using (city_code, year, policy_id)
)

select * from final
order by policy_id, city_code, year
