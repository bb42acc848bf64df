-- City industrial CO2 by night-light downscaling (seed 004, eq. 19–20, in its practical reading):
--   CO2_ind_it = CO2_ind_kt × light_it / Σ_{i in k} light_it
-- where k is the province and light the city polygon's light sum (DMSP to 2012, VIIRS from 2013).
with lights as (
    select l.city_code, l.year, l.light_for_downscaling as light, c.province_code
    from {{ ref('int_emissions__city_lights') }} as l
    inner join {{ ref('dim_city') }} as c using (city_code)
    where l.light_for_downscaling is not null
),

shares as (
    select *, light / nullif(sum(light) over (partition by province_code, year), 0) as light_share
    from lights
)

select s.city_code, s.year, s.light_share, p.co2_industrial_mt * s.light_share as co2_industrial_mt
from shares as s
inner join {{ ref('int_emissions__province_industrial_co2') }} as p using (province_code, year)
