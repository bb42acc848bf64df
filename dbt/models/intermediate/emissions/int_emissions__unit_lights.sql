-- Night-light sums per unit (city, province-governed county-level unit, province polygon) x year, one column
-- per sensor: DMSP as published (light_dmsp) and inter-calibrated per pixel (light_dmsp_calibrated, Li & Zhou
-- 2017 coefficients of seeds/nightlights/dmsp_calibration.csv, applied by the reader), VIIRS radiance sums.
-- Null (never 0) where the polygon covers no valid pixel; `note` says why.
with lights as (
    select * from {{ ref('stg_nightlights__city_lights') }}
)

select
    unit_code,
    unit_kind,
    province_code,
    year,
    max(case when sensor = 'dmsp' then sum_light end) as light_dmsp,
    max(case when sensor = 'dmsp' then sum_light_calibrated end) as light_dmsp_calibrated,
    max(case when sensor = 'dmsp' then satellite end) as dmsp_satellite,
    max(case when sensor = 'dmsp' then n_saturated end) as dmsp_saturated_pixels,
    max(case when sensor = 'viirs' then sum_light end) as light_viirs,
    string_agg(distinct note, '; ' order by note) as note
from lights
group by unit_code, unit_kind, province_code, year
