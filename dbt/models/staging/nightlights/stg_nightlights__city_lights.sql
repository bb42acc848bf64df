-- Zonal light sums per unit (city, county-level unit, province) x year x sensor.
with source as (
    select * from {{ source('nightlights', 'nightlights') }}
),

renamed as (
    select
        ---------- keys
        cast(city_code as varchar) as unit_code,
        cast(unit_kind as varchar) as unit_kind,
        cast(province_code as varchar) as province_code,
        cast(year as integer) as year,
        lower(sensor) as sensor,
        cast(satellite as varchar) as satellite,
        ---------- measures
        cast(sum_light as double) as sum_light,
        cast(sum_light_calibrated as double) as sum_light_calibrated,
        cast(mean_light as double) as mean_light,
        cast(n_pixels as double) as n_pixels,
        cast(n_saturated as double) as n_saturated,
        cast(note as varchar) as note
    from source
)

select * from renamed
