-- City-year-variable-scope keys published with different values by different files.
-- Precedence rule: an edition workbook beats a vendor panel; among edition workbooks the later edition
-- wins (revisions). Two values agree when they differ by at most 0.5% (the rounding of 亿元 figures
-- printed with two decimals against the same 万元 figure). A conflict between two sources of the same
-- precedence is `unresolved`: the panel gets no value and the cell stays here (quarantine).
with cells as (
    select
        *,
        case when edition is not null then 1 else 2 end as precedence_class,
        coalesce(edition, 0) as edition_order
    from {{ ref('int_yearbook__cells_resolved') }}
    where city_code is not null and value is not null
),

ranked as (
    select
        *,
        row_number() over (
            partition by city_code, year, variable, scope
            order by precedence_class, edition_order desc, source_file, source_row
        ) as rank_in_key,
        min(value) over (partition by city_code, year, variable, scope) as min_value,
        max(value) over (partition by city_code, year, variable, scope) as max_value
    from cells
),

disagreeing as (
    select *
    from ranked
    where max_value - min_value > 0.005 * greatest(abs(max_value), abs(min_value)) + 1e-9
),

top_two as (
    select
        city_code, year, variable, scope,
        max(case when rank_in_key = 1 then precedence_class end) as best_class,
        max(case when rank_in_key = 1 then edition_order end) as best_edition,
        max(case when rank_in_key = 2 then precedence_class end) as second_class,
        max(case when rank_in_key = 2 then edition_order end) as second_edition
    from disagreeing
    group by all
)

select
    d.city_code, d.year, d.variable, d.scope, d.value, d.edition, d.source_file, d.sheet, d.source_row,
    d.source_column, d.rank_in_key,
    case
        when t.best_class = t.second_class and t.best_edition = t.second_edition then 'unresolved'
        when d.rank_in_key = 1 then 'kept_by_precedence'
        else 'overridden_by_precedence'
    end as resolution
from disagreeing as d
inner join top_two as t using (city_code, year, variable, scope)
