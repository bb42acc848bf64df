with source as (
    select * from {{ source('ceads', 'ceads_provincial_emissions') }}
)

select
    province_en,
    cast(year as integer) as year,
    sector,
    sector_raw,
    fuel,
    fuel_raw,
    kind,
    is_total_row,
    is_total_col,
    cast(co2_mt as double) as co2_mt,
    layout,
    source_file,
    sheet,
    cast("row" as bigint) as source_row,
    "column" as source_column
from source
