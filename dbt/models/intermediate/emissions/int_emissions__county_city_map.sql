-- County code → prefecture city_code. Rule: municipalities (11, 12, 31, 50) → <pp>0000; province-governed
-- county-level units (crosswalk seed county_level_units) → no prefecture; otherwise the first four digits
-- + "00", carried through admin_changes renames/upgrades/mergers to the current code; counties of an
-- abolished prefecture (巢湖 341400) follow var('abolished_city_rule') as in int_emissions__city_co2.
{% set rule = var('abolished_city_rule', 'fold') %}

with counties as (
    select distinct county_code from {{ ref('stg_ceads__county_emissions') }}
),

direct as (
    select unit_code from {{ ref('county_level_units') }}
),

changes as (
    select old_code, new_code from {{ ref('admin_changes') }}
    where change_kind in ('rename', 'upgrade', 'merge') and old_code is not null and new_code is not null
),

prefix as (
    select
        county_code,
        case when left(county_code, 2) in ('11', '12', '31', '50') then left(county_code, 2) || '0000'
             else left(county_code, 4) || '00' end as prefecture_code,
        -- GB/T 2260 numbers province-governed county-level units <pp>90<nn> (省直辖县级行政区划); the
        -- seed also lists the ones the county file codes otherwise.
        (substr(county_code, 3, 2) = '90' or county_code in (select unit_code from direct)) as is_province_governed
    from counties
),

historic as (
    select city_code, successor_code from {{ ref('historic_cities') }}
),

mapped as (
    select
        p.county_code,
        p.is_province_governed,
        p.prefecture_code,
        case when p.is_province_governed then null else coalesce(c.new_code, p.prefecture_code) end as city_code
    from prefix as p
    left join changes as c on p.prefecture_code = c.old_code
)

select
    m.county_code,
    m.is_province_governed,
    m.prefecture_code,
    {% if rule == 'fold' %}coalesce(h.successor_code, m.city_code){% else %}m.city_code{% endif %} as city_code
from mapped as m
left join historic as h on m.city_code = h.city_code
{% if rule == 'drop' %}where h.city_code is null{% endif %}
