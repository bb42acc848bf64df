-- Industrial CO2 of every unit of a province (prefecture-level cities AND province-governed county-level
-- units, each its own row) by night-light downscaling (seed 004, eqs. 19–20, in the practical reading of
-- specs/seed_004.md): CO2_ind_it = CO2_ind_kt × light_it / light_kt, the fitted-value ratio of eq. 20 with the
-- unidentified city effects dropped. light is one sensor per year for all units (DMSP_cal before the switch
-- year, VIIRS from it), so it is additive over pixels; light_kt is the sum over the province's units, which
-- equals the province polygon's light when the units tile the province (province_light_gap reports the
-- difference, e.g. a missing unit). Units sum exactly to the provincial total (blocking test
-- assert_downscaled_industrial_co2_sums_to_province); a unit with null light makes that test fail rather than
-- silently handing its emissions to its neighbours. Eq. 19 itself is estimated by the Python asset
-- analysis/downscaling_eq19 (dagster_project/assets/downscaling.py).
with units as (
    select city_code, unit_kind, province_code, year, light_for_downscaling as light, downscaling_sensor
    from {{ ref('int_emissions__city_lights') }}
    where unit_kind <> 'province'
),

totals as (
    select province_code, year, sum(light order by city_code, unit_kind) as units_light, count(*) as n_units, count(light) as n_units_with_light
    from units
    group by province_code, year
),

provinces as (
    select province_code, year, light_for_downscaling as province_light, light_basis
    from {{ ref('int_emissions__province_lights') }}
)

select
    u.city_code,
    u.unit_kind,
    u.province_code,
    u.year,
    u.downscaling_sensor,
    u.light,
    u.light / nullif(t.units_light, 0) as light_share,
    p.co2_industrial_mt * u.light / nullif(t.units_light, 0) as co2_industrial_mt,
    p.co2_industrial_mt as province_co2_industrial_mt,
    t.n_units,
    t.n_units_with_light,
    pl.province_light,
    pl.light_basis as province_light_basis,
    case when pl.light_basis = 'province polygon' then t.units_light / nullif(pl.province_light, 0) - 1 end
        as province_light_gap
from units as u
inner join totals as t using (province_code, year)
inner join {{ ref('int_emissions__province_industrial_co2') }} as p using (province_code, year)
left join provinces as pl using (province_code, year)
