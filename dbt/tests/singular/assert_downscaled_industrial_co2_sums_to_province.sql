-- Blocking: the downscaled industrial CO2 of a province's units (cities + county-level units) adds up to the
-- provincial CEADs total (relative 1e-9); a unit with null light counts as 0 here, so it fails the test.
select province_code, year, max(province_co2_industrial_mt) as province_total,
       sum(coalesce(co2_industrial_mt, 0)) as units_sum
from {{ ref('int_emissions__city_industrial_co2') }}
group by province_code, year
having abs(sum(coalesce(co2_industrial_mt, 0)) - max(province_co2_industrial_mt))
       > 1e-9 * greatest(abs(max(province_co2_industrial_mt)), 1e-12)
