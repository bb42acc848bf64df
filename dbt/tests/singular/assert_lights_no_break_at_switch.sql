-- The harmonised city light series has no break at the DMSP -> VIIRS switch: the mean absolute change of the
-- cities' within-province light shares from switch_year - 1 to switch_year is no larger than the largest of
-- the two neighbouring year-to-year changes (switch - 2 -> switch - 1, switch -> switch + 1), times
-- var('lights_break_tolerance') (default 1.0). Returns a row (fails) when it is.
{{ config(severity=var('lights_break_check_severity', 'error')) }}
with lights as (
    select city_code, province_code, year, light_harmonised
    from {{ ref('int_emissions__city_lights') }}
    where unit_kind <> 'province' and light_harmonised is not null
),

shares as (
    select *, light_harmonised / nullif(sum(light_harmonised) over (partition by province_code, year), 0) as share
    from lights
),

changes as (
    select a.year as year, avg(abs(a.share - b.share)) as mean_abs_change
    from shares as a
    inner join shares as b on a.city_code = b.city_code and b.year = a.year - 1
    group by a.year
),

h as (select switch_year from {{ ref('int_emissions__lights_harmonisation') }})

select s.mean_abs_change as switch_change, greatest(b.mean_abs_change, a.mean_abs_change) as neighbour_change
from h
inner join changes as s on s.year = h.switch_year
left join changes as b on b.year = h.switch_year - 1
left join changes as a on a.year = h.switch_year + 1
where s.mean_abs_change > {{ var('lights_break_tolerance', 1.0) }}
      * greatest(coalesce(b.mean_abs_change, 0), coalesce(a.mean_abs_change, 0))
