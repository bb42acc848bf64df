-- DMSP–VIIRS harmonisation fitted on the overlap years (the approach of Li, Zhou, Zhao & Zhao 2020,
-- "A harmonized global nighttime light dataset 1992–2018", Sci Data 7:168: fit the relation between the
-- inter-calibrated DMSP and VIIRS on the years both exist, then convert VIIRS into DMSP-consistent values).
-- Li et al. fit a sigmoid per pixel after smoothing VIIRS; this project works on zonal totals, so it fits
-- the power law ln(DMSP_cal) = alpha + beta ln(VIIRS) by OLS over every city and county-level unit-year of
-- the overlap with positive light on both sensors (province polygons excluded: they would count twice).
-- switch_year = var('lights_switch_year') or, by default, the year after the last DMSP composite:
-- harmonised light is DMSP_cal before it and exp(alpha) × VIIRS^beta from it on.
{%- set switch = var('lights_switch_year', none) %}
with units as (
    select * from {{ ref('int_emissions__unit_lights') }}
),

overlap as (
    select year, ln(light_dmsp_calibrated) as y, ln(light_viirs) as x
    from units
    where unit_kind <> 'province' and light_dmsp_calibrated > 0 and light_viirs > 0
),

fit as (
    select
        regr_intercept(y, x) as alpha,
        regr_slope(y, x) as beta,
        regr_r2(y, x) as r2,
        count(*) as n_obs,
        string_agg(distinct cast(year as varchar), ',' order by cast(year as varchar)) as overlap_years
    from overlap
),

years as (
    select max(case when light_dmsp is not null then year end) as last_dmsp_year,
           min(case when light_viirs is not null then year end) as first_viirs_year
    from units
)

select
    fit.*,
    years.last_dmsp_year,
    years.first_viirs_year,
    {% if switch is not none %}{{ switch }}{% else %}years.last_dmsp_year + 1{% endif %} as switch_year,
    'Li et al. (2020) Sci Data 7:168, fit on the overlap then convert; power law on zonal totals' as method
from fit
cross join years
