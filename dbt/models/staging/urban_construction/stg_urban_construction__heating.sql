-- One row per published heat-supplied cell of the central-heating table: names as printed, canonical units
-- (steam 万吨, hot water 万吉焦), full location.
select
    cast(year as integer) as year,
    trim(city_name) as city_name,
    nullif(trim(province_name), '') as province_name,
    item,
    cast(value as double) as value,
    unit,
    unit_raw,
    cast(unit_factor as double) as unit_factor,
    value_raw,
    source_file,
    sheet,
    cast("row" as bigint) as source_row,
    "column" as source_column,
    header_raw
from {{ source('urban_construction', 'urban_construction_heating') }}
