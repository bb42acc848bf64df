-- City size class per city-year under the 2014 State Council standard (国发〔2014〕51号), which is defined
-- on the urban resident population (城区常住人口). The yearbook publishes the registered population of the
-- urban districts (市辖区户籍人口), used here as the proxy: it counts 户籍 not 常住 residents and 市辖区
-- is wider than 城区, so classes of fast-growing migrant cities are understated.
select
    v.city_code,
    v.year,
    v.value as pop_district_10k,
    s.size_class
from {{ ref('int_yearbook__values') }} as v
inner join {{ ref('city_size_classes') }} as s
    on v.value >= s.min_pop_10k and (s.max_pop_10k is null or v.value < s.max_pop_10k)
where v.variable = 'pop_district_10k' and v.scope = 'district'
