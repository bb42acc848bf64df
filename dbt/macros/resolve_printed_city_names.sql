{#- Printed city names resolved to city_code the way the City Statistical Yearbook's are, for any table of
    cells with province_name, city_name and year (heating tables, historical yearbooks): the exact printed name
    through int_cities__name_lookup (unambiguous spellings valid in the data year), else province + name.
    Returns every cell column, city_code, and resolution = 'prefecture' | 'county_level_city' (a county-level
    city from the crosswalk seed county_level_units, printed beside prefectures) | 'unresolved'. -#}
{% macro resolve_printed_city_names(cells) %}
with lookup as (
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
    from {{ cells }} as c
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
{% endmacro %}
