-- Every column of marts.city_year_panel with Chinese and English labels, unit, source and formula.
-- Yearbook variables come from the yearbook data dictionary (one entry per canonical variable, plus
-- the other published scope as `<variable>_<scope>`); the rest from seeds/dictionary.
with yearbook as (
    select variable, label_cn, label_en, unit, source,
           'yearbook cell, canonical scope ' || coalesce(canonical_scope, 'city') || ', unit converted' as formula
    from {{ ref('stg_yearbook__dictionary') }}
),

yearbook_other_scope as (
    select
        d.variable || '_' || s.scope as variable,
        d.label_cn || case when s.scope = 'district' then '（市辖区）' else '（全市）' end as label_cn,
        d.label_en || case when s.scope = 'district' then ' (districts under city)' else ' (whole city)' end
            as label_en,
        d.unit, d.source, 'yearbook cell, scope ' || s.scope as formula
    from {{ ref('stg_yearbook__dictionary') }} as d,
        unnest(string_split(d.scopes, ',')) as s(scope)
    where s.scope <> coalesce(d.canonical_scope, 'city')
),

derived as (
    select variable, label_cn, label_en, unit, source, formula from {{ ref('panel_derived_variables') }}
    union all
    select variable, label_cn, label_en, unit, source, formula from {{ ref('city_attribute_variables') }}
    union all
    select variable, label_cn, label_en, unit, source, formula from {{ ref('measure_variables') }}
)

select * from derived
union all
select * from yearbook
union all
select * from yearbook_other_scope
