with source as (
    select * from {{ source('ceads', 'ceads_city_emissions') }}
)

select
    trim(ceads_name) as ceads_name,
    cast(year as integer) as year,
    cast(co2_mt as double) as co2_mt,
    source_file,
    sheet,
    cast("row" as bigint) as source_row
from source
