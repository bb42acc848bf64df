-- Transport energy intensity (kgce per passenger-km / tonne-km) for every province x panel year x mode, from
-- the user-supplied table: a provincial row for that year if there is one, else the national (全国) row of
-- that year, else the nearest year (provincial before national at equal distance, earlier year on ties).
-- intensity_other_year: the row's year is not the panel year; intensity_is_national: the national row was used.
with supplied as (
    select * from {{ ref('int_energy__transport_intensity_rows') }}
),

spine as (
    select p.province_code, y.year, m.mode
    from {{ ref('provinces') }} as p
    cross join (select distinct year from {{ ref('int_yearbook__values') }}) as y
    cross join (select distinct mode from supplied) as m
)

select
    s.province_code,
    s.year,
    s.mode,
    t.kgce_per_unit,
    t.fuel,
    t.year as intensity_year,
    t.year <> s.year as intensity_other_year,
    t.is_national as intensity_is_national,
    t.source
from spine as s
inner join supplied as t
    on t.mode = s.mode and (t.is_national or t.region_province_code = s.province_code)
qualify row_number() over (partition by s.province_code, s.year, s.mode
                           order by abs(t.year - s.year), t.is_national, t.year) = 1
