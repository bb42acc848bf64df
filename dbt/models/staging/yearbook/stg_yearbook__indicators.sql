-- One row per published yearbook cell: names as written, value in the canonical unit, full location.
with source as (
    select * from {{ source('yearbook', 'yearbook_indicators') }}
),

renamed as (
    select
        ---------- identity as published
        trim(city_name) as city_name,
        nullif(trim(province_name), '') as province_name,
        nullif(trim(cast(city_code_given as varchar)), '') as city_code_given,
        cast(year as integer) as year,
        cast(edition as integer) as edition,
        ---------- measure
        variable,
        scope,
        cast(value as double) as value,
        unit,
        unit_raw,
        cast(unit_factor as double) as unit_factor,
        ---------- lineage
        source_file,
        sheet,
        cast("row" as bigint) as source_row,
        cast("column" as varchar) as source_column,
        header_raw
    from source
)

select * from renamed
