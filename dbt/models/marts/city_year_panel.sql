-- The city-year panel: one row per (city_code, year) for every prefecture-level unit and every year the
-- yearbook covers. Yearbook variables come as columns (see int_yearbook__wide); emissions, lights and
-- robot exposure are joined by key; derived variables are defined below and documented in
-- marts.variable_dictionary. Unbalanced where sources are (CEADs covers fewer city-years).
with cities as (
    select c.city_code, c.city_cn, c.city_en, c.province_code, p.province_cn, p.region, c.level
    from {{ ref('dim_city') }} as c
    inner join {{ ref('provinces') }} as p using (province_code)
),

-- The panel's universe: units of dim_city the yearbook reports on, over the yearbook's years.
years as (
    select distinct year from {{ ref('int_yearbook__values') }}
),

covered as (
    select distinct city_code from {{ ref('int_yearbook__values') }}
),

spine as (
    select cities.*, years.year
    from cities
    semi join covered using (city_code)
    cross join years
),

yearbook as (
    select * from {{ ref('int_yearbook__wide') }}
),

joined as (
    select
        spine.*,
        yearbook.* exclude (city_code, year),
        co2.co2_mt,
        county.co2_county_sum_mt,
        ind.co2_industrial_mt,
        lights.light_dmsp,
        lights.light_viirs,
        robots.robot_exposure,
        robots.robot_exposure_us
    from spine
    left join yearbook using (city_code, year)
    left join {{ ref('int_emissions__city_co2') }} as co2 using (city_code, year)
    left join {{ ref('int_emissions__county_city_co2') }} as county using (city_code, year)
    left join {{ ref('int_emissions__city_industrial_co2') }} as ind using (city_code, year)
    left join {{ ref('int_emissions__city_lights') }} as lights using (city_code, year)
    left join {{ ref('int_robots__city_exposure') }} as robots using (city_code, year)
)

select
    *,
    ---------- emissions
    ln(nullif(co2_mt, 0)) as ln_co2,
    co2_mt * 1e6 / nullif(pop_total_10k * 1e4, 0) as co2_per_capita_t,
    co2_mt * 1e6 / nullif(gdp_10k_yuan, 0) as co2_intensity_t_per_10k_yuan,
    ln(nullif(co2_industrial_mt * 1e6 / nullif(industrial_va_10k_yuan, 0), 0)) as ln_industrial_co2_intensity,
    ---------- economy
    college_students / nullif(pop_total_10k * 1e4, 0) as human_capital,
    ln(nullif(gdp_per_capita_yuan, 0)) as ln_gdp_per_capita,
    gdp_primary_10k_yuan / nullif(gdp_10k_yuan, 0) as share_primary_gdp,
    gdp_secondary_10k_yuan / nullif(gdp_10k_yuan, 0) as share_secondary_gdp,
    gdp_tertiary_10k_yuan / nullif(gdp_10k_yuan, 0) as share_tertiary_gdp,
    loans_10k_yuan / nullif(gdp_10k_yuan, 0) as fin_loans_gdp,
    education_expenditure_10k_yuan / nullif(fiscal_expenditure_10k_yuan, 0) as edu_fiscal_share,
    st_expenditure_10k_yuan / nullif(fiscal_expenditure_10k_yuan, 0) as st_fiscal_share,
    ---------- digital economy
    broadband_subscribers_10k / nullif(pop_total_10k, 0) as broadband_per_capita,
    mobile_subscribers_10k / nullif(pop_total_10k, 0) as mobile_per_capita,
    emp_it_10k / nullif(emp_total_10k, 0) as it_employment_share,
    ln(nullif(pop_total_10k * 1e4 / nullif(land_area_km2, 0), 0)) as ln_pop_density
from joined
