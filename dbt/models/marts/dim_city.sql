-- The prefecture-level units of the panel with their classifications. Units: the reference seed (real
-- GB/T 2260 units), any user-supplied extension units (raw.city_extensions), and, when
-- var('abolished_city_rule') = 'keep', abolished units (historic_cities) as units of their own.
-- Classification rules (each column's source is in the seeds' YAML):
--   region              NBS four regions (east / central / west / northeast) of the province
--   north_south         Qinling–Huaihe line: province-level assignment, city exceptions in seed north_south
--   is_provincial_capital  GB/T 2260 gives the capital the code <pp>01<00>; municipalities are not capitals
--   is_sub_provincial   seed sub_provincial_cities (15 副省级城市)
--   resource_city_type  2013 national plan (国发〔2013〕45号), prefecture-level entries, names resolved exactly
{% set rule = var('abolished_city_rule', 'fold') %}

with reference as (
    select city_code, city_cn, city_short, city_en, province_code, level, seat_lon, seat_lat,
           false as is_extension, null::integer as valid_to, source
    from {{ ref('cities') }}
),

extensions as (
    select city_code, city_cn, city_short, city_en, province_code, level, seat_lon, seat_lat,
           true as is_extension, null::integer as valid_to, source
    from {{ ref('stg_cities__extensions') }}
    where city_code not in (select city_code from reference)
),

{% if rule == 'keep' %}
historic as (
    select h.city_code, h.city_cn, h.city_short, null as city_en, h.province_code, 'abolished' as level,
           c.seat_lon, c.seat_lat, false as is_extension, cast(h.valid_to as integer) as valid_to, h.source
    from {{ ref('historic_cities') }} as h
    left join {{ ref('cities') }} as c on c.city_code = h.successor_code
),
{% endif %}

units as (
    select * from reference
    union all
    select * from extensions
    {% if rule == 'keep' %}union all select * from historic{% endif %}
),

north_provinces as (
    select unnest(['110000', '120000', '130000', '140000', '150000', '210000', '220000', '230000', '370000',
                   '410000', '610000', '620000', '630000', '640000', '650000']) as province_code
),

-- Plan names are 2013 names (哈密地区, 莱芜市 …): resolved exactly through the name lookup.
resource as (
    select l.city_code, min(r.type_en) as resource_city_type
    from {{ ref('resource_cities') }} as r
    inner join {{ ref('int_cities__name_lookup') }} as l on l.alias = r.name and l.n_codes = 1
    where r.admin_level_in_2013_plan = 'prefecture'
    group by l.city_code
)

select
    u.*,
    p.province_cn,
    p.region,
    coalesce(
        ns.side,
        case when u.province_code in (select province_code from north_provinces) then 'north' else 'south' end
    ) as north_south,
    u.level = 'municipality' as is_municipality,
    (substr(u.city_code, 3, 2) = '01' and u.level <> 'municipality') as is_provincial_capital,
    u.city_code in (select city_code from {{ ref('sub_provincial_cities') }}) as is_sub_provincial,
    r.resource_city_type is not null as is_resource_city,
    r.resource_city_type
from units as u
inner join {{ ref('provinces') }} as p using (province_code)
left join {{ ref('north_south') }} as ns using (city_code)
left join resource as r on r.city_code = u.city_code
