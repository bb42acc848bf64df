-- The base-year employment source uses one GB/T 4754 edition (2002 or 2011) in the base year; a mix would
-- put the same industry into two groups.
select year, count(distinct gbt_version) as n_editions
from {{ ref('stg_employment__base') }}
where year = {{ var('robot_base_year') }}
group by year
having count(distinct gbt_version) > 1
