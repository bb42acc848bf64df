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
-- robot_exposure_loo: leave-one-out mean of robot_exposure over the other panel cities of the province.
{%- set base_year = var('robot_base_year') %}
{%- set unspecified = var('robot_unspecified_codes', ['99', '91']) %}
{%- set unspecified_sql %}({% for c in unspecified %}'{{ c }}'{% if not loop.last %}, {% endif %}{% else %}''{% endfor %}){% endset %}

with industries as (
    select ifr_code, parent_code, try_cast(level as integer) as level, gbt4754_2002_section as gbt_section
    from {{ ref('ifr_industries') }}
),

robots as (
    select country, industry_code as ifr_code, year, installations, operational_stock as stock
    from {{ ref('stg_ifr__robots') }}
),

concordance as (
    select * from {{ ref('ifr_gbt_concordance') }}
),

leaf_codes as (
    select distinct ifr_code from concordance
),

---------- robots per concordance code: the published value, else the sum of its sub-codes
published as (
    select r.* from robots as r semi join leaf_codes as l using (ifr_code)
),

sub_sums as (
    select r.country, r.year, i.parent_code as ifr_code, sum(r.installations) as installations,
           sum(r.stock) as stock
    from robots as r
    inner join industries as i using (ifr_code)
    where i.parent_code in (select ifr_code from leaf_codes)
    group by all
),

leaf as (
    select
        coalesce(p.country, s.country) as country,
        coalesce(p.year, s.year) as year,
        coalesce(p.ifr_code, s.ifr_code) as ifr_code,
        coalesce(p.installations, s.installations) as installations,
        coalesce(p.stock, s.stock) as stock
    from published as p
    full outer join sub_sums as s using (country, year, ifr_code)
),

specified as (
    select l.*, i.parent_code
    from leaf as l
    inner join industries as i using (ifr_code)
    where l.ifr_code not in {{ unspecified_sql }}
),

---------- pro-rata allocation of the unspecified codes over the specified codes under the same parent
unspecified as (
    select r.country, r.year, r.ifr_code as u_code, i.parent_code as u_parent, r.installations as u_inst,
           r.stock as u_stock
    from robots as r
    inner join industries as i using (ifr_code)
    where r.ifr_code in {{ unspecified_sql }}
),

pairs as (
    select s.country, s.year, s.ifr_code, s.installations, s.stock, u.u_code, u.u_inst, u.u_stock,
           sum(s.installations) over (partition by s.country, s.year, u.u_code) as under_inst,
           sum(s.stock) over (partition by s.country, s.year, u.u_code) as under_stock
    from specified as s
    inner join unspecified as u
        on s.country = u.country and s.year = u.year and (u.u_parent = 'All' or s.parent_code = u.u_parent)
),

allocated as (
    select country, year, ifr_code,
           sum(u_inst * installations / nullif(under_inst, 0)) as add_inst,
           sum(u_stock * stock / nullif(under_stock, 0)) as add_stock
    from pairs
    group by all
),

leaf_final as (
    select s.country, s.year, s.ifr_code,
           s.installations + coalesce(a.add_inst, 0) as installations,
           s.stock + coalesce(a.add_stock, 0) as stock
    from specified as s
    left join allocated as a using (country, year, ifr_code)
),

---------- basis 1: base-employment source by GB/T division
base as (
    select * from {{ ref('stg_employment__base') }} where year = {{ base_year }}
),

base_version as (
    select min(gbt_version) as gbt_version from base
),

division_group as (
    select distinct c.gbt_division, c.exposure_group
    from concordance as c
    inner join base_version as v using (gbt_version)
),

group_robots as (
    select r.country, r.year, c.exposure_group, sum(r.installations) as installations, sum(r.stock) as stock
    from leaf_final as r
    inner join (select distinct c.ifr_code, c.exposure_group from concordance as c
                inner join base_version as v using (gbt_version)) as c using (ifr_code)
    group by all
),

city_total as (
    select city_code, sum(employment) as employment
    from base where unit_kind <> 'national'
    group by city_code
),

city_group as (
    select b.city_code, d.exposure_group, sum(b.employment) as employment
    from base as b
    inner join division_group as d using (gbt_division)
    where b.unit_kind <> 'national'
    group by all
),

national_rows as (
    select d.exposure_group, sum(b.employment) as employment
    from base as b
    inner join division_group as d using (gbt_division)
    where b.unit_kind = 'national'
    group by all
),

national_group as (
    select * from national_rows
    union all
    select exposure_group, sum(employment) from city_group
    where not exists (select 1 from national_rows)
    group by exposure_group
),

exposure_division as (
    select
        g.city_code,
        r.year,
        r.country,
        sum(g.employment / t.employment * r.installations / (n.employment / 1e4)) as exposure,
        sum(g.employment / t.employment * r.stock / (n.employment / 1e4)) as exposure_stock,
        'gbt_division' as exposure_basis
    from city_group as g
    inner join city_total as t using (city_code)
    inner join national_group as n using (exposure_group)
    inner join group_robots as r using (exposure_group)
    group by all
),

---------- basis 2 (fallback): yearbook sections
section_robots as (
    select r.country, r.year, i.gbt_section, sum(r.installations) as installations, sum(r.stock) as stock
    from leaf_final as r
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
    select gbt_section, sum(employment_10k) as national_employment_10k
    from section_employment
    group by gbt_section
),

exposure_section as (
    select
        e.city_code,
        r.year,
        r.country,
        sum(e.employment_10k / t.employment_total_10k * r.installations / n.national_employment_10k) as exposure,
        sum(e.employment_10k / t.employment_total_10k * r.stock / n.national_employment_10k) as exposure_stock,
        'yearbook_section' as exposure_basis
    from section_employment as e
    inner join section_city_total as t using (city_code)
    inner join section_national as n using (gbt_section)
    inner join section_robots as r using (gbt_section)
    where not exists (select 1 from base)
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
)

select
    w.*,
    c.province_code,
    (sum(w.robot_exposure) over province_year - w.robot_exposure)
        / nullif(count(w.robot_exposure) over province_year - 1, 0) as robot_exposure_loo,
    (sum(w.robot_exposure_stock) over province_year - w.robot_exposure_stock)
        / nullif(count(w.robot_exposure_stock) over province_year - 1, 0) as robot_exposure_stock_loo
from wide as w
inner join {{ ref('dim_city') }} as c using (city_code)
window province_year as (partition by c.province_code, w.year)
