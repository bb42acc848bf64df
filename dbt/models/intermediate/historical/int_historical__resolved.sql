-- Historical-yearbook cells with city_code, resolved like the City Statistical Yearbook: the exact printed
-- name through int_cities__name_lookup (unambiguous spellings valid in the data year, so 1984 names such as
-- 襄樊 resolve to today's unit), else province + name. A name that resolves to no prefecture-level unit (the
-- early editions also print county-level cities) keeps city_code null with `resolution` saying why; the WARN
-- test on city_code lists those names, and nothing is dropped.
with cells as (
    select * from {{ ref('stg_historical__city_indicators') }}
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
),

resolved as (
    select
        w.* exclude (province_short),
        coalesce(by_name.city_code, by_province.city_code) as city_code
    from with_province as w
    left join lookup as by_name
        on w.city_name = by_name.alias
        and w.year between coalesce(by_name.valid_from, 0) and coalesce(by_name.valid_to, 9999)
    left join lookup as by_province
        on w.province_short || w.city_name = by_province.alias
        and w.year between coalesce(by_province.valid_from, 0) and coalesce(by_province.valid_to, 9999)
)

select
    *,
    case
        when city_code is not null then 'prefecture'
        when city_name in (select name from county_units) then 'county_level_city'
        else 'unresolved'
    end as resolution
from resolved
