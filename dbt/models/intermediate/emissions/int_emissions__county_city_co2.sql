-- County CO2 summed to prefecture cities (Chen et al. 2020 county estimates; 1997–2017).
select m.city_code, e.year, sum(e.co2_mt) as co2_county_sum_mt, count(*) as n_counties
from {{ ref('stg_ceads__county_emissions') }} as e
inner join {{ ref('int_emissions__county_city_map') }} as m using (county_code)
where m.city_code is not null
group by m.city_code, e.year
