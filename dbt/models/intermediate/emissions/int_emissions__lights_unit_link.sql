-- Per-unit link across the DMSP -> VIIRS switch for units whose DMSP is saturated in the overlap.
-- A unit with a saturated DMSP pixel (DN 63) in an overlap year has a capped DMSP sum that the pooled power
-- law of int_emissions__lights_harmonisation cannot reproduce from VIIRS (VIIRS does not saturate), so its
-- converted VIIRS would jump above its DMSP level at the switch. Such a unit is linked at its own overlap:
-- residual = mean over the overlap years of ln(DMSP_cal) - (alpha + beta ln VIIRS), added to its converted
-- VIIRS from the switch on (ratio linking of two series over their overlap; at the pixel level Li et al.
-- 2020 get the same continuity from a sigmoid that flattens at DN 63). Unsaturated units get no residual:
-- for them the pooled fit holds, and a unit-level offset would hide a genuine sensor break.
with units as (
    select * from {{ ref('int_emissions__unit_lights') }}
),

h as (
    select * from {{ ref('int_emissions__lights_harmonisation') }}
),

overlap as (
    select unit_code, unit_kind, year, light_dmsp_calibrated, light_viirs, dmsp_saturated_pixels
    from units
    -- Province polygons too: they hold the saturated cores of their units (eq. 19 uses their harmonised light).
    where light_dmsp_calibrated > 0 and light_viirs > 0
)

select
    o.unit_code,
    o.unit_kind,
    count(*) as n_overlap_years,
    max(o.dmsp_saturated_pixels) as max_saturated_pixels,
    -- A sum in a fixed order (avg's parallel aggregation is not bit-reproducible).
    sum(ln(o.light_dmsp_calibrated) - (h.alpha + h.beta * ln(o.light_viirs)) order by o.year) / count(*)
        as link_residual
from overlap as o
cross join h
group by o.unit_code, o.unit_kind
having max(coalesce(o.dmsp_saturated_pixels, 0)) > 0
