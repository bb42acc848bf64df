-- Coverage of the yearbook in the panel: one row per panel column of a yearbook variable x year.
--   n_expected   cities on the panel spine (every city the yearbook reports on, every yearbook year)
--   n_observed   cities with a published value (after the precedence rule of int_yearbook__values)
--   n_imputed    cities whose value is a linear interpolation (int_yearbook__filled)
--   n_missing    the rest: leading/trailing gaps, interior gaps longer than var('max_interpolation_gap'),
--                columns that are not imputed, and unresolved conflicts (also counted in n_conflict)
-- n_observed + n_imputed + n_missing = n_expected, so the three shares sum to 1.
with filled as (
    select * from {{ ref('int_yearbook__filled') }}
),

labels as (
    select variable, label_en, unit from {{ ref('stg_yearbook__dictionary') }}
)

select
    f.column_name,
    f.variable,
    f.scope,
    l.label_en,
    l.unit,
    f.year,
    bool_or(f.is_imputable) as is_imputable,
    count(*)::integer as n_expected,
    count_if(f.value_status = 'observed')::integer as n_observed,
    count_if(f.value_status = 'interpolated')::integer as n_imputed,
    count_if(f.value_status in ('missing', 'unresolved_conflict'))::integer as n_missing,
    count_if(f.value_status = 'unresolved_conflict')::integer as n_conflict,
    count_if(f.value_status = 'missing' and f.gap_position = 'interior')::integer as n_missing_interior,
    count_if(f.value_status = 'observed') / count(*) as share_observed,
    count_if(f.value_status = 'interpolated') / count(*) as share_imputed,
    count_if(f.value_status in ('missing', 'unresolved_conflict')) / count(*) as share_missing
from filled as f
left join labels as l using (variable)
group by all
