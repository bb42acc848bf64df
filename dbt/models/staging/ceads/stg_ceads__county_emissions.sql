with source as (
    select * from {{ source('ceads', 'ceads_county_emissions') }}
)

select
    cast(county_code as varchar) as county_code,
    county_cn,
    county_en,
    city_cn,
    city_en,
    province_cn,
    province_en,
    cast(year as integer) as year,
    cast(co2_mt as double) as co2_mt,
    source_file,
    cast("row" as bigint) as source_row
from source
