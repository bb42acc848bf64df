-- County-aggregated CO2 (Chen et al. 2020, downscaled from provincial CEADs totals with night lights)
-- against the CEADs city inventory, per city-year where both exist. A ratio far from 1 marks a city
-- whose two published estimates disagree (different methods and scopes, not an error in either file).
select
    c.city_code,
    c.year,
    c.co2_mt as co2_city_inventory_mt,
    k.co2_county_sum_mt,
    k.n_counties,
    k.co2_county_sum_mt / nullif(c.co2_mt, 0) as ratio_county_to_city
from {{ ref('int_emissions__city_co2') }} as c
inner join {{ ref('int_emissions__county_city_co2') }} as k using (city_code, year)
