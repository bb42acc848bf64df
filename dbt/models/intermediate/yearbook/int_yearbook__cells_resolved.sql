-- Yearbook cells with their city_code. Resolution is exact: a code printed in the file (vendor panels'
-- 行政区划代码) if it is a known unit, else the name through int_cities__name_lookup (unambiguous
-- spellings valid in the data year), else the province-qualified name. Unresolved cells keep a null
-- city_code; the post-hook then fails the model with every unresolved name, its data year and the file,
-- sheet and row it was first read from (the `not_null` test on city_code stays as the check of record).
{{ config(post_hook="{{ fail_on_unresolved_names(['city_name', 'province_name', 'city_code_given']) }}") }}
with cells as (
    select * from {{ ref('stg_yearbook__indicators') }}
),

lookup as (
    select * from {{ ref('int_cities__name_lookup') }} where n_codes = 1
),

known_codes as (
    select distinct city_code from {{ ref('int_cities__name_lookup') }}
),

provinces as (
    select province_cn, province_short from {{ ref('provinces') }}
),

with_province as (
    select
        c.*,
        p.province_short
    from cells as c
    left join provinces as p on c.province_name in (p.province_cn, p.province_short)
),

resolved as (
    select
        w.*,
        coalesce(k.city_code, by_name.city_code, by_province.city_code) as city_code,
        case
            when k.city_code is not null then 'code_in_file'
            when by_name.city_code is not null then 'name'
            when by_province.city_code is not null then 'province_and_name'
        end as resolved_by
    from with_province as w
    left join known_codes as k on w.city_code_given = k.city_code
    left join lookup as by_name
        on w.city_name = by_name.alias
        and w.year between coalesce(by_name.valid_from, 0) and coalesce(by_name.valid_to, 9999)
    left join lookup as by_province
        on w.province_short || w.city_name = by_province.alias
        and w.year between coalesce(by_province.valid_from, 0) and coalesce(by_province.valid_to, 9999)
)

select * exclude (province_short) from resolved
