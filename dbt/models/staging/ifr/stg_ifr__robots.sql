-- One row per country x IFR industry x year; counts of robots.
with source as (
    select * from {{ source('ifr', 'ifr_robots') }}
),

renamed as (
    select
        ---------- keys
        upper(trim(country)) as country,
        trim(industry_code) as industry_code,
        cast(year as integer) as year,
        ---------- counts
        cast(installations as double) as installations,
        cast(operational_stock as double) as operational_stock
    from source
)

select * from renamed
