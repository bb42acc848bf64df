-- Human–machine matching (人机匹配度, seed 004 eq. 23, after 胡晟明等 2021), coupling-coordination form:
--   hmatch = sqrt(U × V),  U = 2·sqrt(r × h) / (r + h),  V = 0.5·r + 0.5·h
-- r = robot_exposure, h = human capital (college students per resident: college_students /
-- (pop_total_10k × 1e4)), each min–max normalised to [0, 1] over the pooled panel (every city-year with both
-- values; the paper does not say pooled or by year). Null where r + h = 0 or either input is missing.
with inputs as (
    select e.city_code, e.year, e.robot_exposure as robot,
           y.college_students / nullif(y.pop_total_10k * 1e4, 0) as hum
    from {{ ref('int_robots__city_exposure') }} as e
    inner join {{ ref('int_yearbook__filled_wide') }} as y using (city_code, year)
),

bounds as (
    select min(robot) as r_min, max(robot) as r_max, min(hum) as h_min, max(hum) as h_max
    from inputs
    where robot is not null and hum is not null
),

normalised as (
    select i.city_code, i.year,
           (i.robot - b.r_min) / nullif(b.r_max - b.r_min, 0) as r,
           (i.hum - b.h_min) / nullif(b.h_max - b.h_min, 0) as h
    from inputs as i
    cross join bounds as b
)

select
    city_code,
    year,
    r as robot_normalised,
    h as human_capital_normalised,
    2 * sqrt(r * h) / nullif(r + h, 0) as coupling_u,
    0.5 * r + 0.5 * h as coordination_v,
    sqrt(2 * sqrt(r * h) / nullif(r + h, 0) * (0.5 * r + 0.5 * h)) as hmatch
from normalised
