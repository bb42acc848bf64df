-- Yearbook values on the full panel spine with interior gaps filled by linear interpolation: one row
-- per city_code x year x variable x scope, for every city the yearbook reports on (any variable, any
-- year), every yearbook year and every variable-scope of the dictionary (published or not). The spine
-- is built as the published cells plus the missing ones by position (interior / leading / trailing /
-- never published), so that only the published cells are sorted (one window) — the model stays cheap
-- at 10x the sample.
--
-- Rules (issue 4; seed 002 §7.1 "Interpolate sporadic gaps"):
--   * only INTERIOR gaps: a missing year with a published value both before and after it in the same
--     city-variable-scope series; leading and trailing gaps are never extrapolated;
--   * only short gaps: the run of missing years between the two published values is at most
--     var('max_interpolation_gap') years (default 2); a longer run stays missing as a whole;
--   * linear in the level between the two neighbours: v_t = v_a + (v_b - v_a) x (t - a) / (b - a);
--   * never over a quarantined cell: a key whose sources disagree at equal precedence
--     (int_yearbook__conflicts, `unresolved`) stays missing, whatever its neighbours;
--   * only imputable columns: a panel column `<column>` is imputed iff marts.variable_dictionary
--     documents a flag `<column>_imputed` (a row in seeds/dictionary/panel_derived_variables.csv). The
--     flags therefore always exist and are always documented; a yearbook variable added later is carried
--     as published until someone adds its flag row. Today: the canonical-scope column of every yearbook
--     variable; the other-scope columns (`<variable>_district` / `_city`) are carried as published.
-- Years are calendar years: a yearbook year with no data at all is not on the spine and counts in the
-- gap length (b - a - 1). The result feeds city_year_panel (values and `<column>_imputed` flags) and
-- marts.yearbook_coverage.
{% set max_gap = var('max_interpolation_gap', 2) | int %}

with vals as (
    select city_code, year, variable, scope, value from {{ ref('int_yearbook__values') }}
),

dictionary as (
    select variable, coalesce(canonical_scope, 'city') as canonical_scope, scopes
    from {{ ref('stg_yearbook__dictionary') }}
),

-- Panel column of every variable-scope the DICTIONARY declares (not only the published ones), so the
-- panel has the same yearbook columns whatever subset of files or variables is present: a variable no
-- file publishes is a column of nulls, `never_published` here and n_observed = 0 in yearbook_coverage.
-- Published keys outside the dictionary (the reader maps only dictionary variables) are kept too.
keys as (
    select d.variable, s.scope
    from dictionary as d, unnest(string_split(d.scopes, ',')) as s(scope)
    union
    select distinct variable, scope from vals
),

keys_named as (
    select
        k.variable,
        k.scope,
        case when k.scope = coalesce(d.canonical_scope, 'city') then k.variable
             else k.variable || '_' || k.scope end as column_name
    from keys as k
    left join dictionary as d using (variable)
),

imputable as (
    select distinct regexp_extract(variable, '^(.+)_imputed$', 1) as column_name
    from {{ ref('panel_derived_variables') }}
    where regexp_matches(variable, '_imputed$') and variable <> 'n_imputed'
),

cities as (
    select distinct city_code from vals
),

years as (
    select distinct year from vals
),

unresolved as (
    select distinct city_code, year, variable, scope
    from {{ ref('int_yearbook__conflicts') }}
    where resolution = 'unresolved'
),

-- Each published value with the years of the previous and next published value of its series (one
-- window over the published cells only; the spine is never sorted).
published as (
    select
        city_code, variable, scope, year, value,
        lag(year) over w as prev_published_year,
        lead(year) over w as next_year,
        lead(value) over w as next_value
    from vals
    window w as (partition by city_code, variable, scope order by year)
),

bounds as (
    select
        city_code, variable, scope,
        max(case when prev_published_year is null then year end) as first_year,
        max(case when next_year is null then year end) as last_year
    from published
    where prev_published_year is null or next_year is null
    group by all
),

-- The cells without a published value, by position in their series. Together with the published cells
-- they make the spine: cities x years x keys.
interior as (
    select
        p.city_code, p.variable, p.scope, g.year, 'interior' as gap_position,
        p.year as prev_year, p.value as prev_value, p.next_year, p.next_value,
        p.next_year - p.year - 1 as gap_years
    from published as p,
        unnest(range(p.year + 1, p.next_year)) as g(year)
    where p.next_year > p.year + 1
      and g.year in (select year from years)
),

ends as (
    select
        b.city_code, b.variable, b.scope, y.year,
        case when y.year < b.first_year then 'leading' else 'trailing' end as gap_position
    from bounds as b
    inner join years as y on y.year < b.first_year or y.year > b.last_year
),

never as (
    select c.city_code, k.variable, k.scope, y.year, 'never_published' as gap_position
    from cities as c
    cross join keys_named as k
    anti join bounds as b on b.city_code = c.city_code and b.variable = k.variable and b.scope = k.scope
    cross join years as y
),

-- Missing cells, with the conflict quarantine (looked up for missing cells only).
missing as (
    select m.*, u.city_code is not null as is_conflict
    from (
        select * from interior
        union all by name
        select * from ends
        union all by name
        select * from never
    ) as m
    left join unresolved as u using (city_code, year, variable, scope)
),

cells as (
    select city_code, year, variable, scope, value, false as is_conflict
    from vals
    union all by name
    select * from missing
),

classified as (
    select
        c.*,
        k.column_name,
        k.column_name in (select column_name from imputable) as is_imputable
    from cells as c
    inner join keys_named as k using (variable, scope)
),

filled as (
    select
        *,
        value is null
            and is_imputable
            and not is_conflict
            and gap_position = 'interior'
            and gap_years <= {{ max_gap }} as is_imputed
    from classified
)

select
    city_code,
    year,
    variable,
    scope,
    column_name,
    is_imputable,
    value as value_observed,
    case
        when value is not null then value
        when is_imputed then prev_value + (next_value - prev_value) * (year - prev_year) / (next_year - prev_year)
    end as value,
    is_imputed,
    case
        when value is not null then 'observed'
        when is_imputed then 'interpolated'
        when is_conflict then 'unresolved_conflict'
        else 'missing'
    end as value_status,
    gap_position,
    gap_years,
    prev_year,
    next_year
from filled
