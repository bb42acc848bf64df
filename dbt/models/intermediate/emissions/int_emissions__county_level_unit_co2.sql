-- CEADs city-inventory entries for province-governed county-level units (济源, 仙桃, 潜江, 天门, 石河子 …),
-- which belong to no prefecture and so are not panel units; kept here so nothing is dropped unseen.
select r.city_code as unit_code, u.unit_cn, r.ceads_name, r.year, r.co2_mt
from {{ ref('int_emissions__ceads_city_resolved') }} as r
inner join {{ ref('county_level_units') }} as u on u.unit_code = r.city_code
