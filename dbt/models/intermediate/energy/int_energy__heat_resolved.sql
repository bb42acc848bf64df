-- Central-heating cells (China Urban Construction Statistical Yearbook) with city_code, resolved like the
-- City Statistical Yearbook (macro resolve_printed_city_names). County-level cities (crosswalk seed
-- county_level_units) are printed in the same table but are not prefecture-level units: they are kept with
-- is_county_level_city and no city_code. Any other unresolved name fails the not_null test, which lists it.
with named as (
    {{ resolve_printed_city_names(ref('stg_urban_construction__heating')) }}
)

select
    * exclude (resolution),
    resolution = 'county_level_city' as is_county_level_city
from named
