-- Industry shifts of the Bartik exposure per country x year x exposure group g: robots per 10,000 base-year
-- national workers, R_gt / (L_g,b / 1e4). R = int_robots__ifr_allocated (installations, operational stock);
-- L_g,b = the base-employment source's national rows (city_code 000000), or, if it has none, the sum over every
-- unit the source lists (never over the panel's cities).
{%- set base_year = var('robot_base_year') %}
with base as (
    select * from {{ ref('stg_employment__base') }} where year = {{ base_year }}
),

base_version as (
    select min(gbt_version) as gbt_version from base
),

concordance as (
    select c.* from {{ ref('ifr_gbt_concordance') }} as c inner join base_version as v using (gbt_version)
),

division_group as (
    select distinct gbt_division, exposure_group from concordance
),

national_rows as (
    select d.exposure_group, sum(b.employment order by b.city_code, b.gbt_division) as employment
    from base as b
    inner join division_group as d using (gbt_division)
    where b.unit_kind = 'national'
    group by all
),

national_group as (
    select exposure_group, employment, 'national rows' as national_basis from national_rows
    union all
    select d.exposure_group, sum(b.employment order by b.city_code, b.gbt_division), 'sum of the source''s units'
    from base as b
    inner join division_group as d using (gbt_division)
    where b.unit_kind <> 'national' and not exists (select 1 from national_rows)
    group by d.exposure_group
),

group_robots as (
    select r.country, r.year, c.exposure_group, sum(r.installations order by r.ifr_code) as installations,
           sum(r.stock order by r.ifr_code) as stock
    from {{ ref('int_robots__ifr_allocated') }} as r
    inner join (select distinct ifr_code, exposure_group from concordance) as c using (ifr_code)
    group by all
)

select
    r.country,
    r.year,
    r.exposure_group,
    r.installations,
    r.stock,
    n.employment as national_employment,
    n.national_basis,
    r.installations / (n.employment / 1e4) as shift_installations,
    r.stock / (n.employment / 1e4) as shift_stock
from group_robots as r
inner join national_group as n using (exposure_group)
