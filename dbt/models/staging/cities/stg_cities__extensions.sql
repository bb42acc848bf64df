with source as (
    select * from {{ source('cities', 'city_extensions') }}
)

select
    cast(city_code as varchar) as city_code,
    city_cn,
    city_short,
    city_en,
    cast(province_code as varchar) as province_code,
    level,
    cast(seat_lon as double) as seat_lon,
    cast(seat_lat as double) as seat_lat,
    source
from source
