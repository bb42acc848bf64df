-- The regional power grid of every prefecture-level unit under the active mapping scheme:
-- var('energy_grid_mapping') = '2012' (OM/BM documents: six grids, all of 内蒙古 in 华北, 川渝 in 华中) or
-- '2021' (MEE/NBS average factors: seven grids incl. 西南, 蒙东/蒙西 split at prefecture level via
-- grid_city_overrides); null picks 2012 for the baseline series and 2021 for the average series.
-- A unit whose grid cannot be determined keeps a null grid_region; the not_null test on this model fails the
-- build with the list, except for provinces in var('energy_no_grid_provinces') (西藏 by default).
{%- set series = var('energy_grid_factor_series', 'baseline') %}
{%- set scheme = var('energy_grid_mapping', none) or ('2012' if series == 'baseline' else '2021') %}
with units as (
    select city_code, city_cn, province_code from {{ ref('cities') }}
    union all
    select city_code, city_cn, province_code from {{ ref('stg_cities__extensions') }}
),

mapping as (
    select
        province_code,
        regexp_extract(
            {% if scheme == '2012' %}grid_in_OM_BM_docs_2012{% else %}grid_in_MEE_NBS_2021_2023_average_factors{% endif %},
            '^(华北|东北|华东|华中|西北|南方|西南)'
        ) as grid
    from {{ ref('grid_province_mapping') }}
)

select
    u.city_code,
    u.city_cn,
    u.province_code,
    coalesce(o.grid, nullif(m.grid, '')) as grid_region,
    '{{ scheme }}' as grid_scheme,
    u.province_code in ({{ "'" ~ (var('energy_no_grid_provinces', []) | join("', '")) ~ "'" }}) as grid_knowingly_absent
from units as u
left join mapping as m using (province_code)
left join {{ ref('grid_city_overrides') }} as o on o.city_code = u.city_code and o.scheme = '{{ scheme }}'
