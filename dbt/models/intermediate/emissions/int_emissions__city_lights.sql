-- One night-light measure per city-year for downscaling: DMSP sums up to 2012, VIIRS sums from 2013
-- (the sensors overlap in 2012–2013; only within-province-year shares are used, so the switch does not
-- need an intercalibration).
with lights as (
    select * from {{ ref('stg_nightlights__city_lights') }}
)

select
    city_code,
    year,
    max(case when sensor = 'dmsp' then sum_light end) as light_dmsp,
    max(case when sensor = 'viirs' then sum_light end) as light_viirs,
    case when year <= 2012 then max(case when sensor = 'dmsp' then sum_light end)
         else max(case when sensor = 'viirs' then sum_light end) end as light_for_downscaling
from lights
group by city_code, year
