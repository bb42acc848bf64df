with source as (
    select * from {{ source('nightlights', 'nightlights') }}
),

renamed as (
    select
        cast(city_code as varchar) as city_code,
        cast(year as integer) as year,
        lower(sensor) as sensor,
        cast(sum_light as double) as sum_light,
        cast(mean_light as double) as mean_light,
        cast(n_pixels as bigint) as n_pixels
    from source
)

select * from renamed
