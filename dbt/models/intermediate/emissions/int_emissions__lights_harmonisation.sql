-- DMSP–VIIRS harmonisation fitted on the overlap years (the approach of Li, Zhou, Zhao & Zhao 2020,
-- "A harmonized global nighttime light dataset 1992–2018", Sci Data 7:168: fit the relation between the
-- inter-calibrated DMSP and VIIRS on the years both exist, then convert VIIRS into DMSP-consistent values).
-- Li et al. fit a sigmoid per pixel after smoothing VIIRS; this project works on zonal totals, so it fits
-- the power law ln(DMSP_cal) = alpha + beta ln(VIIRS) by OLS over the city and county-level unit-years of
-- the overlap with positive light on both sensors (province polygons excluded: they would count twice).
-- Units with a saturated DMSP pixel (DN 63) in any overlap year are left out of the fit: a saturated sum is
-- capped, so it carries no information on the DMSP–VIIRS relation (Li et al.'s sigmoid flattens at 63 for
-- the same reason); int_emissions__lights_unit_link links those units at their own overlap residual.
-- switch_year = var('lights_switch_year') or, by default, the year after the last DMSP composite:
-- harmonised light is DMSP_cal before it and exp(alpha) × VIIRS^beta from it on.
{%- set switch = var('lights_switch_year', none) %}
with units as (
    select * from {{ ref('int_emissions__unit_lights') }}
),

overlap_units as (
    select unit_code, unit_kind, max(coalesce(dmsp_saturated_pixels, 0)) > 0 as saturated
    from units
    where unit_kind <> 'province' and light_dmsp_calibrated > 0 and light_viirs > 0
    group by unit_code, unit_kind
),

overlap as (
    select u.unit_code, u.unit_kind, u.year, ln(u.light_dmsp_calibrated) as y, ln(u.light_viirs) as x
    from units as u
    inner join overlap_units as o using (unit_code, unit_kind)
    where u.unit_kind <> 'province' and u.light_dmsp_calibrated > 0 and u.light_viirs > 0 and not o.saturated
),

-- OLS from centred sums taken in a fixed order (regr_slope's parallel aggregation is not bit-reproducible).
moments as (
    select
        count(*) as n_obs,
        sum(x order by unit_code, unit_kind, year) / count(*) as mx,
        sum(y order by unit_code, unit_kind, year) / count(*) as my,
        string_agg(distinct cast(year as varchar), ',' order by cast(year as varchar)) as overlap_years
    from overlap
),

centred as (
    select
        sum((o.x - m.mx) * (o.y - m.my) order by o.unit_code, o.unit_kind, o.year) as sxy,
        sum((o.x - m.mx) * (o.x - m.mx) order by o.unit_code, o.unit_kind, o.year) as sxx,
        sum((o.y - m.my) * (o.y - m.my) order by o.unit_code, o.unit_kind, o.year) as syy
    from overlap as o, moments as m
),

fit as (
    select
        m.my - (c.sxy / c.sxx) * m.mx as alpha,
        c.sxy / c.sxx as beta,
        c.sxy * c.sxy / (c.sxx * c.syy) as r2,
        m.n_obs,
        m.overlap_years,
        (select count(*) filter (where saturated) from overlap_units) as n_saturated_units,
        (select count(*) from overlap_units) as n_overlap_units
    from moments as m, centred as c
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
    'Li et al. (2020) Sci Data 7:168, fit on the overlap then convert; power law on zonal totals of units '
    || 'without saturated DMSP pixels, saturated units linked at their own overlap residual' as method
from fit
cross join years
