-- City capital stock by perpetual inventory (seed 001 eq. 7, after Yu Yongze et al.):
--   K_t = (1 - δ) K_{t-1} + I_t,  δ = var('capital_depreciation') (default 0.05),
-- at constant prices of var('capital_base_year') (default 2006, seed 001's base).
--   * I_t: the city's 全社会固定资产投资 (fai_10k_yuan, filled panel values) deflated by the provincial
--     investment price index (seed invest_price_capitalstock, rebased to 1 in the base year). Seed 001
--     apportions provincial 新增固定资产 by the city's FAI share; provincial new fixed assets are not in
--     the warehouse, so I_t is the city's deflated FAI itself.
--   * K at the chain's start b (the first year >= the base year with I): var('capital_base_method')
--       'growth' (default): K_b = I_b / (δ + g), g = the city's mean annual growth of real I over b..b+4
--                 (log-difference mean, floored at 0) - the Harberger steady-state start;
--       'provincial_share': K_b = city FAI_b / Σ FAI_b of the province's panel cities x the province's
--                 base-year stock from seeds/prices/province_capital_stock_base.csv (seed 001's rule; the
--                 seed ships empty because ../shared/reference has no provincial stock series).
--   * From b on: K_t = (1-δ)^(t-b) [K_b + Σ_{s=b+1..t} (1-δ)^-(s-b) I_s]; null from the first year
--     without I (no gap is bridged beyond the panel's own interpolation).
{% set base_year = var('capital_base_year', 2006) | int %}
{% set delta = var('capital_depreciation', 0.05) | float %}
{% set method = var('capital_base_method', 'growth') %}
{% if method not in ['growth', 'provincial_share'] %}
    {{ exceptions.raise_compiler_error("var('capital_base_method') must be 'growth' or 'provincial_share', got " ~ method) }}
{% endif %}
{% if method == 'provincial_share' and execute %}
    {% set n_rows = run_query("select count(*) from " ~ ref('province_capital_stock_base')).columns[0].values()[0] %}
    {% if n_rows == 0 %}
        {{ exceptions.raise_compiler_error("var('capital_base_method') = 'provincial_share' needs provincial base-year "
           ~ "stocks in seeds/prices/province_capital_stock_base.csv, which is empty") }}
    {% endif %}
{% endif %}

with price as (
    select p.province_code, p.year,
           p.invest_price_fixed_base_capitalstock / b.invest_price_fixed_base_capitalstock as invest_price
    from {{ ref('invest_price_capitalstock') }} as p
    inner join {{ ref('invest_price_capitalstock') }} as b
        on b.province_code = p.province_code and b.year = {{ base_year }}
),

investment as (
    select w.city_code, w.year, c.province_code, w.fai_10k_yuan,
           w.fai_10k_yuan / price.invest_price as real_investment
    from {{ ref('int_yearbook__filled_wide') }} as w
    inner join {{ ref('dim_city') }} as c using (city_code)
    left join price on price.province_code = c.province_code and price.year = w.year
    where w.year >= {{ base_year }}
),

start as (
    select city_code, min(year) as start_year
    from investment
    where real_investment > 0
    group by city_code
),

chain as (
    select i.*, s.start_year, i.year - s.start_year as k,
           -- a year without investment ends the chain: count missing years since the start (running sums
           -- over one city's years in year order, so rebuilds are bit-identical)
           sum(case when i.real_investment is null then 1 else 0 end)
               over (partition by i.city_code order by i.year) as n_missing,
           sum(case when i.year > s.start_year then i.real_investment * pow(1 - {{ delta }}, -(i.year - s.start_year))
                    else 0 end)
               over (partition by i.city_code order by i.year) as discounted_sum
    from investment as i
    inner join start as s using (city_code)
    where i.year >= s.start_year
),

initial as (
{% if method == 'growth' %}
    select c.city_code, c.real_investment / ({{ delta }} + greatest(coalesce(g.growth, 0), 0)) as k_start
    from chain as c
    left join (
        select city_code, avg(ln(real_investment / prev) order by year) as growth
        from (select city_code, year, k, real_investment,
                     lag(real_investment) over (partition by city_code order by year) as prev
              from chain)
        where k between 1 and 4 and real_investment > 0 and prev > 0
        group by city_code
    ) as g using (city_code)
    where c.k = 0
{% else %}
    select c.city_code, c.fai_10k_yuan / t.fai_total * p.capital_stock_10k_yuan as k_start
    from chain as c
    inner join (select province_code, year, sum(fai_10k_yuan order by city_code) as fai_total
                from chain where k = 0 group by province_code, year) as t
        on t.province_code = c.province_code and t.year = c.year
    inner join {{ ref('province_capital_stock_base') }} as p
        on p.province_code = c.province_code and p.year = c.year
    where c.k = 0
{% endif %}
)

select
    c.city_code,
    c.year,
    c.real_investment as investment_real_10k_yuan,
    case when c.n_missing = 0
         then pow(1 - {{ delta }}, c.k) * (i.k_start + c.discounted_sum) end as capital_stock_10k_yuan,
    '{{ method }}' as capital_base_method,
    {{ base_year }} as capital_price_year
from chain as c
inner join initial as i using (city_code)
