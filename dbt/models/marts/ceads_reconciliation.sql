-- Distribution of the county-aggregated / city-inventory CO2 ratio by year (and overall as year = null).
-- The mean runs in a fixed order so that rebuilds are bit-identical.
with r as (
    select * from {{ ref('int_emissions__reconciliation') }} where ratio_county_to_city is not null
)

select
    year,
    count(*) as n_city_years,
    quantile_cont(ratio_county_to_city, 0.10) as p10,
    quantile_cont(ratio_county_to_city, 0.25) as p25,
    median(ratio_county_to_city) as p50,
    quantile_cont(ratio_county_to_city, 0.75) as p75,
    quantile_cont(ratio_county_to_city, 0.90) as p90,
    avg(abs(ln(ratio_county_to_city)) order by city_code, year) as mean_abs_log_ratio
from r
group by grouping sets ((year), ())
order by year nulls last
