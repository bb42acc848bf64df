-- Night lights per unit-year for the panel and the downscaling (all units: cities, province-governed
-- county-level units and province polygons; the panel joins unit_kind = 'city'):
--   light_harmonised       one series across sensors: DMSP_cal before switch_year, exp(alpha)·VIIRS^beta from it
--                          (int_emissions__lights_harmonisation), in calibrated DMSP DN-sum units; units with
--                          saturated DMSP in the overlap also get their own link residual
--                          (int_emissions__lights_unit_link), exp(alpha + link_residual)·VIIRS^beta;
--   light_for_downscaling  one sensor per year for every unit and province (DMSP_cal before switch_year, VIIRS
--                          from it): a sum of pixels, so the units of a province add up to its polygon.
with units as (
    select * from {{ ref('int_emissions__unit_lights') }}
),

h as (
    select * from {{ ref('int_emissions__lights_harmonisation') }}
),

link as (
    select unit_code, unit_kind, link_residual from {{ ref('int_emissions__lights_unit_link') }}
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
         else exp(h.alpha + coalesce(l.link_residual, 0) + h.beta * ln(u.light_viirs)) end as light_harmonised,
    l.link_residual,
    case when u.year < h.switch_year then u.light_dmsp_calibrated else u.light_viirs end as light_for_downscaling,
    case when u.year < h.switch_year then 'dmsp_calibrated' else 'viirs' end as downscaling_sensor,
    u.note
from units as u
cross join h
left join link as l using (unit_code, unit_kind)
