-- Pairwise great-circle distances between the seats of the units of dim_city (both directions, no
-- self-pairs). Haversine on a sphere of radius 6371.0088 km (IUGG mean Earth radius), the formula of
-- dagster_project/sample/dgp.py::haversine_km, on the AMap seat coordinates of dbt/seeds/reference/cities.csv
-- (seed spec 002 §7.7 leaves centroid vs seat open; seats are what the reference list carries).
-- Var city_distance_max_km [null] keeps only pairs up to that distance (large extension universes).
{%- set max_km = var('city_distance_max_km', none) %}

with source as (
    select city_code, radians(seat_lon) as lon, radians(seat_lat) as lat
    from {{ ref('dim_city') }}
    where seat_lon is not null and seat_lat is not null
),

pairs as (
    select
        a.city_code,
        b.city_code as neighbour_code,
        pow(sin((b.lat - a.lat) / 2), 2)
            + cos(a.lat) * cos(b.lat) * pow(sin((b.lon - a.lon) / 2), 2) as hav
    from source as a
    inner join source as b on a.city_code <> b.city_code
),

final as (
    select
        city_code,
        neighbour_code,
        2 * 6371.0088 * asin(sqrt(least(greatest(hav, 0.0), 1.0))) as distance_km
    from pairs
)

select * from final
{% if max_km is not none %}
where distance_km <= {{ max_km }}
{% endif %}
