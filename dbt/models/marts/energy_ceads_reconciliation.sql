-- Energy-accounting CO2 (int_energy__city_co2, seed 002 §4.1) against the CEADs city inventory, per year
-- where both exist (and overall as year = null): distribution of the ratio co2_energy_total / co2_mt. The
-- two products differ by scope (CEADs: territorial inventory incl. industrial fuel combustion and process
-- emissions; the energy product: electricity use incl. imported power, central heating, transport, gas and
-- LPG supply), so the ratio is a diagnostic, not a test.
with r as (
    select e.city_code, e.year, e.co2_energy_total / nullif(c.co2_mt, 0) as ratio
    from {{ ref('int_energy__city_co2') }} as e
    inner join {{ ref('int_emissions__city_co2') }} as c using (city_code, year)
    where e.co2_energy_total > 0 and c.co2_mt > 0
)

select
    year,
    count(*) as n_city_years,
    quantile_cont(ratio, 0.10) as p10,
    quantile_cont(ratio, 0.25) as p25,
    median(ratio) as p50,
    quantile_cont(ratio, 0.75) as p75,
    quantile_cont(ratio, 0.90) as p90,
    avg(abs(ln(ratio)) order by city_code, year) as mean_abs_log_ratio
from r
group by grouping sets ((year), ())
order by year nulls last
