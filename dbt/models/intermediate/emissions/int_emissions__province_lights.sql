-- Province night light per year for eq. 19: the province polygon's zonal sum when boundaries include
-- province polygons (provinces.* in <raw>/boundaries/), else the sum over the province's units (cities and
-- province-governed county-level units). Both the harmonised series and the per-year sensor sum.
with lights as (
    select * from {{ ref('int_emissions__city_lights') }}
),

polygons as (
    select province_code, year, light_harmonised, light_for_downscaling
    from lights
    where unit_kind = 'province'
),

unit_sums as (
    select province_code, year, sum(light_harmonised order by city_code, unit_kind) as light_harmonised,
           sum(light_for_downscaling order by city_code, unit_kind) as light_for_downscaling, count(*) as n_units
    from lights
    where unit_kind <> 'province'
    group by province_code, year
)

select
    coalesce(p.province_code, u.province_code) as province_code,
    coalesce(p.year, u.year) as year,
    coalesce(p.light_harmonised, u.light_harmonised) as light_harmonised,
    coalesce(p.light_for_downscaling, u.light_for_downscaling) as light_for_downscaling,
    u.light_for_downscaling as units_light_for_downscaling,
    u.n_units,
    case when p.province_code is not null then 'province polygon' else 'sum of units' end as light_basis
from polygons as p
full outer join unit_sums as u using (province_code, year)
