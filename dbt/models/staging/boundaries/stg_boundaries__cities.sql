with source as (
    select * from {{ source('boundaries', 'city_boundaries') }}
),

renamed as (
    select
        cast(city_code as varchar) as city_code,
        cast(code_as_published as varchar) as code_as_published,
        cast(unit_kind as varchar) as unit_kind,
        cast(province_code as varchar) as province_code,
        geometry_wkt,
        cast(area_km2 as double) as area_km2,
        cast(centroid_lon as double) as centroid_lon,
        cast(centroid_lat as double) as centroid_lat
    from source
)

select * from renamed
