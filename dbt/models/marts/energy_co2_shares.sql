-- Component shares of the energy-accounting CO2 by year and overall (year = null), for comparison with seed
-- 002 §4.1 (electricity 61%, heat 7%, transport 28%, direct 4%; industrial 71% and residential 13% of
-- electricity use). Sums run in a fixed order so that rebuilds are bit-identical. `share_*` = component total / CO2 total over the city-years with a total (ratio of sums);
-- `mean_share_*` = the average of the city-year shares (the paper does not say which it reports).
with c as (
    select * from {{ ref('int_energy__city_co2') }} where co2_energy_total > 0
)

select
    year,
    count(*) as n_city_years,
    sum(co2_energy_electricity order by city_code, year) / sum(co2_energy_total order by city_code, year) as share_electricity,
    sum(co2_energy_heat order by city_code, year) / sum(co2_energy_total order by city_code, year) as share_heat,
    sum(co2_energy_transport order by city_code, year) / sum(co2_energy_total order by city_code, year) as share_transport,
    sum(co2_energy_direct order by city_code, year) / sum(co2_energy_total order by city_code, year) as share_direct,
    avg(co2_energy_electricity / co2_energy_total order by city_code, year) as mean_share_electricity,
    avg(co2_energy_heat / co2_energy_total order by city_code, year) as mean_share_heat,
    avg(co2_energy_transport / co2_energy_total order by city_code, year) as mean_share_transport,
    avg(co2_energy_direct / co2_energy_total order by city_code, year) as mean_share_direct,
    sum(co2_energy_industrial_electricity order by city_code, year) / sum(co2_energy_electricity order by city_code, year) as industrial_share_of_electricity,
    sum(co2_energy_residential_electricity order by city_code, year) / sum(co2_energy_electricity order by city_code, year) as residential_share_of_electricity
from c
group by grouping sets ((year), ())
order by year nulls last
