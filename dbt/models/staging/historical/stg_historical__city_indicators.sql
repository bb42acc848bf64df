-- One row per published historical-yearbook cell: names as printed, canonical units, full location.
select
    cast(year as integer) as year,
    cast(edition as integer) as edition,
    trim(city_name) as city_name,
    nullif(trim(province_name), '') as province_name,
    indicator,
    scope,
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
from {{ source('historical', 'historical_city_indicators') }}
