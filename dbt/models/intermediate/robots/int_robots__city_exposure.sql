-- Bartik robot exposure (seed 004 eq. 21; Acemoglu & Restrepo 2020), per city-year, robots per 10,000 workers:
--   robot_it = Σ_g (L_ig,b / L_i,b) × (R_gt / L_g,b)
-- g = exposure groups of the IFR → GB/T 4754 concordance (seeds/ifr/ifr_gbt_concordance.csv; IFR industries at
-- the finest level the newer tables publish, 19-22 summed from its sub-codes where only those are present),
-- b = var('robot_base_year') (default 2004). Basis (column exposure_basis):
--   * 'gbt_division': L_ig,b = the base-employment source (raw.base_employment: city × GB/T two-digit
--     division, employment in persons), L_i,b = the city's total over every division the source lists,
--     L_g,b = the source's national rows (city_code 000000), or, if it has none, the sum over every unit the
--     source lists (not over the panel's cities);
--   * 'yearbook_section' (fallback when the source has no rows for the base year): yearbook employment by
--     GB/T section (manufacturing as one industry), national = sum over the panel's cities.
-- R_gt: IFR installations (robot_exposure*) or operational stock (robot_exposure_stock*), China (CN); the
-- instrument uses the United States (US) with the same base shares and national employment. Unspecified
-- codes var('robot_unspecified_codes') (default 99 and 91) are spread pro rata over the concordance codes
-- under the same IFR parent (99: all codes; 91: the manufacturing codes); [] keeps them out.
-- Pieces: int_robots__ifr_allocated (robots after allocation), int_robots__base_shares (L_ig,b / L_i,b),
-- int_robots__industry_shifts (R_gt / L_g,b); shares and shifts also feed analysis.shift_share.rotemberg_weights.
-- robot_exposure_loo: leave-one-out mean of robot_exposure over the other panel cities of the province.
{%- set base_year = var('robot_base_year') %}

with industries as (
    select ifr_code, gbt4754_2002_section as gbt_section from {{ ref('ifr_industries') }}
),

---------- basis 1: base-employment source by GB/T division
exposure_division as (
    select
        s.city_code,
        f.year,
        f.country,
        sum(s.share * f.shift_installations order by s.exposure_group) as exposure,
        sum(s.share * f.shift_stock order by s.exposure_group) as exposure_stock,
        'gbt_division' as exposure_basis
    from {{ ref('int_robots__base_shares') }} as s
    inner join {{ ref('int_robots__industry_shifts') }} as f using (exposure_group)
    group by all
),

---------- basis 2 (fallback): yearbook sections
section_robots as (
    select r.country, r.year, i.gbt_section, sum(r.installations order by r.ifr_code) as installations,
           sum(r.stock order by r.ifr_code) as stock
    from {{ ref('int_robots__ifr_allocated') }} as r
    inner join industries as i using (ifr_code)
    where i.gbt_section is not null
    group by all
),

section_employment as (
    select v.city_code, s.gbt_section, v.value as employment_10k
    from {{ ref('int_yearbook__values') }} as v
    inner join {{ ref('gbt_sections') }} as s on v.variable = s.employment_variable
    where v.year = {{ base_year }} and v.scope = 'city' and s.gbt_section <> 'G'
),

section_city_total as (
    select v.city_code, v.value as employment_total_10k
    from {{ ref('int_yearbook__values') }} as v
    where v.year = {{ base_year }} and v.scope = 'city' and v.variable = 'emp_total_10k'
),

section_national as (
    select gbt_section, sum(employment_10k order by city_code) as national_employment_10k
    from section_employment
    group by gbt_section
),

exposure_section as (
    select
        e.city_code,
        r.year,
        r.country,
        sum(e.employment_10k / t.employment_total_10k * r.installations / n.national_employment_10k
            order by e.gbt_section) as exposure,
        sum(e.employment_10k / t.employment_total_10k * r.stock / n.national_employment_10k
            order by e.gbt_section) as exposure_stock,
        'yearbook_section' as exposure_basis
    from section_employment as e
    inner join section_city_total as t using (city_code)
    inner join section_national as n using (gbt_section)
    inner join section_robots as r using (gbt_section)
    where not exists (select 1 from {{ ref('int_robots__base_shares') }})
    group by all
),

exposure as (
    select * from exposure_division
    union all
    select * from exposure_section
),

wide as (
    select
        e.city_code,
        e.year,
        max(e.exposure_basis) as exposure_basis,
        max(case when e.country = 'CN' then e.exposure end) as robot_exposure,
        max(case when e.country = 'CN' then e.exposure_stock end) as robot_exposure_stock,
        max(case when e.country = 'US' then e.exposure end) as robot_exposure_us,
        max(case when e.country = 'US' then e.exposure_stock end) as robot_exposure_stock_us
    from exposure as e
    group by e.city_code, e.year
),

-- Province totals with an ordered sum (a window sum has no fixed order), so rebuilds are bit-identical.
province_totals as (
    select c.province_code, w.year,
           sum(w.robot_exposure order by w.city_code) as sum_exposure, count(w.robot_exposure) as n_exposure,
           sum(w.robot_exposure_stock order by w.city_code) as sum_stock, count(w.robot_exposure_stock) as n_stock
    from wide as w
    inner join {{ ref('dim_city') }} as c using (city_code)
    group by c.province_code, w.year
)

select
    w.*,
    c.province_code,
    (t.sum_exposure - w.robot_exposure) / nullif(t.n_exposure - 1, 0) as robot_exposure_loo,
    (t.sum_stock - w.robot_exposure_stock) / nullif(t.n_stock - 1, 0) as robot_exposure_stock_loo
from wide as w
inner join {{ ref('dim_city') }} as c using (city_code)
inner join province_totals as t on t.province_code = c.province_code and t.year = w.year
