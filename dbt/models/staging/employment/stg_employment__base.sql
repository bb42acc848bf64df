-- One row per year x unit x GB/T edition x two-digit division; employment in persons.
with source as (
    select * from {{ source('employment', 'base_employment') }}
),

renamed as (
    select
        ---------- keys
        cast(year as integer) as year,
        cast(city_code as varchar) as city_code,
        cast(unit_kind as varchar) as unit_kind,
        cast(classification as varchar) as gbt_version,
        cast(industry_code as varchar) as gbt_division,
        ---------- measures
        cast(employment as double) as employment
    from source
)

select * from renamed
