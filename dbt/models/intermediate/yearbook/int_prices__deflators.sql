-- Provincial price indices chained to one base year: one row per province x year over the years of the
-- seed deflators_province (2000-2022), each index = 1 in var('price_base_year') (default 2010).
--
-- Sources (seeds/prices, copied from ../shared/reference, see deflators.md):
--   gdp_deflator  implied provincial GDP deflator, recomputed here at full precision from NBS nominal GDP
--                 and the GDP volume index: yoy_t = 100 x (GDP_t / GDP_t-1) / (volume index_t / 100). NBS
--                 publishes no provincial deflator; this is the standard workaround. 2000-2019 only.
--   cpi           provincial CPI (上年=100); where a province-year has none, the national CPI of the year
--                 (deflators_national). Both end in 2019.
--   rpi           provincial retail price index, 2000-2022 (2020-2022 from CapitalStock).
--   fai           provincial fixed-asset investment price index, 2000-2019 (no national fallback).
-- Chaining (deflators.md): P_t = P_t-1 x yoy_t / 100, rebased so that P_base = 1. Computed as a
-- cumulative sum of ln(yoy / 100); a missing yoy anywhere between t and the base year makes P_t null
-- (counted by a cumulative count of missing steps). No extrapolation: years after the last published
-- index (2019 for CPI and the GDP deflator) and years outside the seed are null, and so is every year
-- of a province that publishes no index at all (西藏 FAI), the base year included.
{% set base_year = var('price_base_year', 2010) | int %}
{% set indices = ['gdp_deflator', 'cpi', 'rpi', 'fai'] %}

with province as (
    select * from {{ ref('deflators_province') }}
),

national as (
    select year, cpi_prev_year_100 from {{ ref('deflators_national') }}
),

years as (
    select unnest(range(min(year), max(year) + 1)) as year from province
),

spine as (
    select p.province_code, y.year
    from (select distinct province_code from province) as p
    cross join years as y
),

steps as (
    select
        s.province_code,
        s.year,
        -- implied GDP deflator, previous year = 100 (needs the previous year's nominal GDP)
        100 * (p.gdp_nominal_100m_yuan / nullif(prev.gdp_nominal_100m_yuan, 0))
            / nullif(p.gdp_volume_index_prev_year_100 / 100, 0) as gdp_deflator_yoy,
        coalesce(p.cpi_prev_year_100, n.cpi_prev_year_100) as cpi_yoy,
        case when p.cpi_prev_year_100 is not null then 'province'
             when n.cpi_prev_year_100 is not null then 'national' end as cpi_source,
        p.rpi_prev_year_100 as rpi_yoy,
        p.fai_price_index_prev_year_100 as fai_yoy
    from spine as s
    left join province as p using (province_code, year)
    left join province as prev on prev.province_code = s.province_code and prev.year = s.year - 1
    left join national as n on n.year = s.year
),

-- Running log-level and running count of missing steps; the first year is the chain's origin (its own
-- yoy, relative to the year before the seed, is not used).
chained as (
    select
        *,
        {% for idx in indices %}
        sum(case when year > first_year then ln({{ idx }}_yoy / 100) else 0 end)
            over w as {{ idx }}_log_level,
        sum(case when year > first_year and {{ idx }}_yoy is null then 1 else 0 end)
            over w as {{ idx }}_n_missing,
        count({{ idx }}_yoy) over (partition by province_code) as {{ idx }}_n_published{{ ',' if not loop.last }}
        {% endfor %}
    from (select *, min(year) over (partition by province_code) as first_year from steps)
    window w as (partition by province_code order by year rows between unbounded preceding and current row)
),

base as (
    select
        province_code
        {% for idx in indices %}
        , {{ idx }}_log_level as {{ idx }}_base_log_level
        , {{ idx }}_n_missing as {{ idx }}_base_n_missing
        {% endfor %}
    from chained
    where year = {{ base_year }}
)

select
    c.province_code,
    c.year,
    {{ base_year }} as price_base_year,
    {% for idx in indices %}
    c.{{ idx }}_yoy,
    case when c.{{ idx }}_n_missing = b.{{ idx }}_base_n_missing and c.{{ idx }}_n_published > 0
         then exp(c.{{ idx }}_log_level - b.{{ idx }}_base_log_level) end as {{ idx }}_index,
    {% endfor %}
    c.cpi_source
from chained as c
left join base as b using (province_code)
