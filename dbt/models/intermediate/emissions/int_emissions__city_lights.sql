-- Night lights per unit-year for the panel and the downscaling (all units: cities, province-governed
-- county-level units and province polygons; the panel joins unit_kind = 'city'):
--   light_harmonised       one series across sensors: DMSP_cal before switch_year, exp(alpha)·VIIRS^beta from it
--                          (int_emissions__lights_harmonisation), in calibrated DMSP DN-sum units;
--   light_for_downscaling  one sensor per year for every unit and province (DMSP_cal before switch_year, VIIRS
--                          from it): a sum of pixels, so the units of a province add up to its polygon.
with units as (
    select * from {{ ref('int_emissions__unit_lights') }}
),

h as (
    select * from {{ ref('int_emissions__lights_harmonisation') }}
)

select
    u.unit_code as city_code,
    u.unit_kind,
    u.province_code,
    u.year,
    u.light_dmsp,
    u.light_dmsp_calibrated,
    u.dmsp_satellite,
    u.light_viirs,
    case when u.year < h.switch_year then u.light_dmsp_calibrated
         when u.light_viirs = 0 then 0
         else exp(h.alpha + h.beta * ln(u.light_viirs)) end as light_harmonised,
    case when u.year < h.switch_year then u.light_dmsp_calibrated else u.light_viirs end as light_for_downscaling,
    case when u.year < h.switch_year then 'dmsp_calibrated' else 'viirs' end as downscaling_sensor,
    u.note
from units as u
cross join h
