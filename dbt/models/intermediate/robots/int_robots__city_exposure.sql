-- Bartik robot penetration (seed 004, eq. 21; Acemoglu & Restrepo 2020):
--   robot_it = Σ_j (L_ij,b / L_i,b) × (R_jt / L_j,b)
-- j = IFR industries with a GB/T 4754-2002 section the yearbook reports employment for; b = base year
-- (var robot_base_year); L_j,b = base-year employment of section j summed over the panel's cities;
-- R_jt = installations in China (country CN); the US series gives the instrument `robot_exposure_us`.
-- Units: robots per 10,000 workers. Every sum runs in a fixed order (float addition is not associative),
-- so that rebuilds are bit-identical.
{% set base_year = var('robot_base_year') %}

with industries as (
    select ifr_code, parent_code, try_cast(level as integer) as level, gbt4754_2002_section as gbt_section
    from {{ ref('ifr_industries') }}
),

robots as (
    select * from {{ ref('stg_ifr__robots') }}
),

-- Level-1 industry installations: the published total where present, else the sum of its children.
level1 as (
    select r.country, r.year, i.ifr_code, i.gbt_section, r.installations
    from robots as r
    inner join industries as i on r.industry_code = i.ifr_code and i.level = 1
),

children as (
    select r.country, r.year, i.parent_code as ifr_code, sum(r.installations order by r.industry_code) as installations
    from robots as r
    inner join industries as i on r.industry_code = i.ifr_code and i.level = 2
    group by all
),

section_robots as (
    select
        coalesce(l.country, c.country) as country,
        coalesce(l.year, c.year) as year,
        p.gbt_section,
        coalesce(l.installations, c.installations) as installations
    from level1 as l
    full outer join children as c using (country, year, ifr_code)
    inner join industries as p on p.ifr_code = coalesce(l.ifr_code, c.ifr_code)
    where p.gbt_section is not null
),

base_employment as (
    select v.city_code, s.gbt_section, v.value as employment_10k
    from {{ ref('int_yearbook__values') }} as v
    inner join {{ ref('gbt_sections') }} as s on v.variable = s.employment_variable
    where v.year = {{ base_year }} and v.scope = 'city' and s.gbt_section <> 'G'
),

city_total as (
    select v.city_code, v.value as employment_total_10k
    from {{ ref('int_yearbook__values') }} as v
    where v.year = {{ base_year }} and v.scope = 'city' and v.variable = 'emp_total_10k'
),

national as (
    select gbt_section, sum(employment_10k order by city_code) as national_employment_10k
    from base_employment
    group by gbt_section
),

exposure as (
    select
        e.city_code,
        r.year,
        r.country,
        sum(e.employment_10k / t.employment_total_10k * r.installations / n.national_employment_10k
            order by e.gbt_section) as exposure
    from base_employment as e
    inner join city_total as t using (city_code)
    inner join national as n using (gbt_section)
    inner join section_robots as r using (gbt_section)
    group by all
)

select
    city_code,
    year,
    max(case when country = 'CN' then exposure end) as robot_exposure,
    max(case when country = 'US' then exposure end) as robot_exposure_us
from exposure
group by city_code, year
