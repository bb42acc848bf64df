-- Base-year employment shares of the Bartik exposure (the "shares" of the shift-share design): per city and
-- exposure group g of the IFR → GB/T concordance, share = L_ig,b / L_i,b from the base-employment source
-- (raw.base_employment, year = var('robot_base_year')); L_i,b = the city's total over every division the source
-- lists. Empty when the source has no rows for the base year (the exposure then falls back to yearbook sections).
{%- set base_year = var('robot_base_year') %}
with base as (
    select * from {{ ref('stg_employment__base') }} where year = {{ base_year }}
),

base_version as (
    select min(gbt_version) as gbt_version from base
),

division_group as (
    select distinct c.gbt_division, c.exposure_group
    from {{ ref('ifr_gbt_concordance') }} as c
    inner join base_version as v using (gbt_version)
),

city_total as (
    select city_code, sum(employment order by gbt_division) as employment
    from base where unit_kind <> 'national'
    group by city_code
),

city_group as (
    select b.city_code, d.exposure_group, sum(b.employment order by b.gbt_division) as employment
    from base as b
    inner join division_group as d using (gbt_division)
    where b.unit_kind <> 'national'
    group by all
)

select g.city_code, g.exposure_group, g.employment, t.employment as city_employment,
       g.employment / t.employment as share
from city_group as g
inner join city_total as t using (city_code)
