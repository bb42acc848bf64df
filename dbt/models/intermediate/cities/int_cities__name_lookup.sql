-- Every known spelling of a prefecture-level unit → city_code, with the years the spelling is valid.
-- Exact strings only: generated forms (official, short, province-prefixed) plus the curated aliases seed.
-- `n_codes` > 1 marks a spelling shared by several units, which resolution refuses to use alone.
with units as (
    select city_code, city_cn, city_short, province_code from {{ ref('cities') }}
    union all
    select city_code, city_cn, city_short, province_code from {{ ref('stg_cities__extensions') }}
),

cities as (
    select c.city_code, c.city_cn, c.city_short, p.province_short
    from units as c
    inner join {{ ref('provinces') }} as p using (province_code)
),

historic as (
    select h.city_code, h.city_cn, h.city_short, p.province_short, h.valid_from, h.valid_to
    from {{ ref('historic_cities') }} as h
    inner join {{ ref('provinces') }} as p using (province_code)
),

generated as (
    select city_cn as alias, city_code, 'official_name' as alias_kind,
           null::integer as valid_from, null::integer as valid_to from cities
    union all
    select city_short, city_code, 'short_name', null, null from cities
    union all
    select province_short || city_short, city_code, 'province_prefixed', null, null from cities
    union all
    select city_cn, city_code, 'historic_name', valid_from, valid_to from historic
    union all
    select city_short, city_code, 'historic_name', valid_from, valid_to from historic
    union all
    select province_short || city_short, city_code, 'historic_name', valid_from, valid_to from historic
),

curated as (
    select alias, city_code, alias_kind, try_cast(valid_from as integer) as valid_from,
           try_cast(valid_to as integer) as valid_to
    from {{ ref('city_name_aliases') }}
),

unioned as (
    select * from generated
    union all
    select * from curated
),

deduplicated as (
    -- A spelling valid without bounds in any source stays unbounded (null), so min/max must not skip nulls.
    select
        alias,
        city_code,
        min(alias_kind) as alias_kind,
        case when bool_or(valid_from is null) then null else min(valid_from) end as valid_from,
        case when bool_or(valid_to is null) then null else max(valid_to) end as valid_to
    from unioned
    where alias is not null and alias <> ''
    group by alias, city_code
)

select
    *,
    count(*) over (partition by alias) as n_codes
from deduplicated
