-- The prefecture-level units of the panel: the reference seed (real GB/T 2260 units) plus any
-- user-supplied extension units (raw.city_extensions, e.g. the synthetic units of a large sample).
with reference as (
    select city_code, city_cn, city_short, city_en, province_code, level, seat_lon, seat_lat,
           false as is_extension, source
    from {{ ref('cities') }}
),

extensions as (
    select city_code, city_cn, city_short, city_en, province_code, level, seat_lon, seat_lat,
           true as is_extension, source
    from {{ ref('stg_cities__extensions') }}
    where city_code not in (select city_code from reference)
)

select * from reference
union all
select * from extensions
