-- Yearbook values as columns: `<variable>` in the variable's canonical scope, `<variable>_district`
-- (or `_city`) for the other published scope. DuckDB's dynamic PIVOT makes one column per variable
-- present in the data, so a variable added to the dictionary appears without editing this model.
with vals as (
    select
        v.city_code,
        v.year,
        case when v.scope = coalesce(d.canonical_scope, 'city') then v.variable
             else v.variable || '_' || v.scope end as column_name,
        v.value
    from {{ ref('int_yearbook__values') }} as v
    left join {{ ref('stg_yearbook__dictionary') }} as d using (variable)
)

pivot vals on column_name using first(value) group by city_code, year
