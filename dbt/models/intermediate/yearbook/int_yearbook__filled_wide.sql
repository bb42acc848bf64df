-- The gap-filled yearbook as panel columns: one row per city_code x year of the spine of
-- int_yearbook__filled, with
--   <column>          the published value, or the interpolated one where <column>_imputed is true
--                     (same column names as int_yearbook__wide: `<variable>` in the canonical scope,
--                     `<variable>_district` / `_city` for the other published scope);
--   <column>_imputed  one boolean per imputable column (see int_yearbook__filled);
--   n_imputed         number of imputed yearbook cells in the city-year.
-- Dynamic PIVOT, as in int_yearbook__wide: a variable added to the dictionary appears without edits.
-- (A dynamic PIVOT reads its input before the CTEs exist, so each one names the model directly.)
with vals as (
    pivot (select city_code, year, column_name, value from {{ ref('int_yearbook__filled') }})
    on column_name using first(value) group by city_code, year
),

flags as (
    pivot (
        select city_code, year, column_name || '_imputed' as flag, is_imputed
        from {{ ref('int_yearbook__filled') }}
        where is_imputable
    )
    on flag using bool_or(is_imputed) group by city_code, year
),

counts as (
    select city_code, year, count_if(is_imputed) as n_imputed
    from {{ ref('int_yearbook__filled') }}
    group by city_code, year
)

select *
from vals
inner join flags using (city_code, year)
inner join counts using (city_code, year)
