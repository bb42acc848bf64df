-- Variables of a conditional beta-convergence regression of city CO2 (seed 000 Table 2 col. 3):
--   co2_base_year     the city's first year >= var('convergence_base_year') (default: any) with CO2 > 0
--   ln_co2_initial    ln CO2 in that year (the initial level; constant within the city)
--   ln_co2_growth     ln(CO2_t / CO2_base), the relative growth since the base year
--   ln_co2_growth_yoy ln(CO2_t / CO2_t-1), where the previous year is published
-- Seed 000 does not say whether "carbon_0" is the initial or the previous year: both are here.
{% set base_year = var('convergence_base_year', none) %}

with co2 as (
    select city_code, year, co2_mt
    from {{ ref('int_emissions__city_co2') }}
    where co2_mt > 0
),

base as (
    select city_code, min(year) as co2_base_year
    from co2
    {% if base_year is not none %}where year >= {{ base_year | int }}{% endif %}
    group by city_code
)

select
    c.city_code,
    c.year,
    b.co2_base_year,
    ln(first_co2.co2_mt) as ln_co2_initial,
    case when c.year >= b.co2_base_year then ln(c.co2_mt / first_co2.co2_mt) end as ln_co2_growth,
    ln(c.co2_mt / prev.co2_mt) as ln_co2_growth_yoy
from co2 as c
inner join base as b using (city_code)
inner join co2 as first_co2 on first_co2.city_code = b.city_code and first_co2.year = b.co2_base_year
left join co2 as prev on prev.city_code = c.city_code and prev.year = c.year - 1
