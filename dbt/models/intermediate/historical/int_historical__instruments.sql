-- Seed 000's historical instrument inputs per prefecture-level city, from the data year
-- var('historical_instrument_year') (default 1984, the 1985 yearbook edition):
--   post_telecom_1984_10k_yuan  post-and-telecom business volume (邮电业务总量, 万元)
--   phones_per_100_1984         telephones per 100 people (每百人拥有电话机数)
-- Scope: the whole city (地区/全市) where printed, else an unstated scope, else the urban districts (市区); the
-- scope used is kept. The time-varying instruments (x the national annual mean of the digital index) are
-- formed by the design layer (analysis/designs/seed_000.yaml), because the index is computed after the panel.
{% set year = var('historical_instrument_year', 1984) | int %}

with cells as (
    select *,
        case scope when 'city' then 1 when 'unstated' then 2 else 3 end as scope_rank
    from {{ ref('int_historical__resolved') }}
    where city_code is not null and year = {{ year }}
),

best as (
    select *
    from cells
    qualify row_number() over (partition by city_code, indicator order by scope_rank, source_file, source_row) = 1
)

select
    city_code,
    {{ year }} as historical_year,
    max(case when indicator = 'post_telecom_volume' then value end) as post_telecom_1984_10k_yuan,
    max(case when indicator = 'post_telecom_volume' then scope end) as post_telecom_1984_scope,
    max(case when indicator = 'phones_per_100' then value end) as phones_per_100_1984,
    max(case when indicator = 'phones_per_100' then scope end) as phones_per_100_1984_scope
from best
group by city_code
