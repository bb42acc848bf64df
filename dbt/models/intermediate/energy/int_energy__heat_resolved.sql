-- Central-heating cells (China Urban Construction Statistical Yearbook) with city_code, resolved like the
-- City Statistical Yearbook: the exact printed name through int_cities__name_lookup (unambiguous spellings
-- valid in the data year), else province + name. County-level cities (crosswalk seed county_level_units)
-- are printed in the same table but are not prefecture-level units: they are kept with
-- is_county_level_city and no city_code. Any other unresolved name fails the not_null test, which lists it.
with cells as (
    select * from {{ ref('stg_urban_construction__heating') }}
),

lookup as (
    select * from {{ ref('int_cities__name_lookup') }} where n_codes = 1
),

provinces as (
    select province_cn, province_short from {{ ref('provinces') }}
),

county_units as (
    select unit_cn as name from {{ ref('county_level_units') }}
    union
    select unit_short from {{ ref('county_level_units') }}
),

with_province as (
    select c.*, p.province_short
    from cells as c
    left join provinces as p on c.province_name in (p.province_cn, p.province_short)
)

select
    w.* exclude (province_short),
    coalesce(by_name.city_code, by_province.city_code) as city_code,
    w.city_name in (select name from county_units)
        and coalesce(by_name.city_code, by_province.city_code) is null as is_county_level_city
from with_province as w
left join lookup as by_name
    on w.city_name = by_name.alias
    and w.year between coalesce(by_name.valid_from, 0) and coalesce(by_name.valid_to, 9999)
left join lookup as by_province
    on w.province_short || w.city_name = by_province.alias
    and w.year between coalesce(by_province.valid_from, 0) and coalesce(by_province.valid_to, 9999)
