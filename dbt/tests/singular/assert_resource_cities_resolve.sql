-- Every prefecture-level entry of the 2013 resource-city plan resolves to exactly one unit.
{{ config(meta={'dagster': {'ref': {'name': 'resource_cities'}}}) }}
select r.name
from {{ ref('resource_cities') }} as r
left join {{ ref('int_cities__name_lookup') }} as l on l.alias = r.name and l.n_codes = 1
where r.admin_level_in_2013_plan = 'prefecture' and l.city_code is null
