-- CEADs city inventory rows with city_code. CEADs labels ("province + city", e.g. 安徽安庆, 内蒙古兴安盟,
-- bare municipalities) are matched exactly against the unambiguous spellings of int_cities__name_lookup
-- (curated aliases, incl. every label of the real file, plus generated province-prefixed names). CEADs
-- labels name one unit over the whole file, so the spelling's validity years are not applied. A label
-- without a match keeps a null city_code; the post-hook then fails the model listing every such label with
-- its first file, sheet and row (macros/fail_on_unresolved_names.sql); the not_null test stays as well.
{{ config(post_hook="{{ fail_on_unresolved_names(['ceads_name']) }}") }}
with emissions as (
    select * from {{ ref('stg_ceads__city_emissions') }}
),

lookup as (
    select alias, min(city_code) as city_code
    from {{ ref('int_cities__name_lookup') }}
    where n_codes = 1
    group by alias
)

select e.*, l.city_code
from emissions as e
left join lookup as l on e.ceads_name = l.alias
