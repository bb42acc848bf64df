-- One value per city_code x year x variable x scope, after the precedence rule of int_yearbook__conflicts.
with cells as (
    select
        *,
        row_number() over (
            partition by city_code, year, variable, scope
            order by case when edition is not null then 1 else 2 end, coalesce(edition, 0) desc,
                     source_file, source_row
        ) as rank_in_key
    from {{ ref('int_yearbook__cells_resolved') }}
    where city_code is not null and value is not null
),

unresolved as (
    select distinct city_code, year, variable, scope
    from {{ ref('int_yearbook__conflicts') }}
    where resolution = 'unresolved'
)

select c.city_code, c.year, c.variable, c.scope, c.value, c.unit, c.source_file, c.sheet, c.source_row,
       c.source_column, c.edition
from cells as c
anti join unresolved as u using (city_code, year, variable, scope)
where c.rank_in_key = 1
