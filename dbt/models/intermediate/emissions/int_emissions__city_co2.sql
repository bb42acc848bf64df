-- City-year CO2 from the CEADs city inventory (unbalanced: only published city-years).
select city_code, year, sum(co2_mt) as co2_mt, count(*) as n_source_rows
from {{ ref('int_emissions__ceads_city_resolved') }}
where city_code is not null
group by city_code, year
