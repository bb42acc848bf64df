-- Grid CO2 emission factor (t CO2 per MWh = kg per kWh) per regional grid and panel year, with the year rule
-- made explicit per row. Published factors cover few years (grid_emission_factors_notes.md), so:
--   * series var('energy_grid_factor_series'): `baseline` = the NDRC/MEE OM/BM releases seed 002 uses
--     (single-year OM 2012-2014, the 2016 OM release, the OM/BM release of year (?) 2019); `average` = the
--     regional average factors (2012; MEE/NBS 2021-2023);
--   * kind var('energy_grid_factor_kind'): OM, BM or combined = w x OM + (1 - w) x BM,
--     w = var('energy_grid_factor_om_weight') (baseline only; the average series has one kind);
--   * each published row is keyed at the year grid_factor_year_keys gives it;
--   * year rule var('energy_grid_factor_year_rule'): `nearest` published year (ties go to the earlier year)
--     or `interpolate` (linear between the published years around the panel year, nearest outside them).
-- grid_factor_rule says per row what happened (published / nearest / interpolated; per part for combined);
-- grid_factor_not_published is true unless the factor was published for that very year;
-- grid_factor_year_uncertain is true when the row used is keyed at a year its source does not state.
{%- set series = var('energy_grid_factor_series', 'baseline') %}
{%- set kind = var('energy_grid_factor_kind', 'OM') %}
{%- set rule = var('energy_grid_factor_year_rule', 'nearest') %}
{%- set w = var('energy_grid_factor_om_weight', 0.5) | float %}
{%- if series not in ['baseline', 'average'] or kind not in ['OM', 'BM', 'combined'] or rule not in ['nearest', 'interpolate'] %}
    {{ exceptions.raise_compiler_error("energy grid factor vars: series " ~ series ~ " (baseline|average), kind "
       ~ kind ~ " (OM|BM|combined), year rule " ~ rule ~ " (nearest|interpolate)") }}
{%- endif %}
{%- set kinds = ['average'] if series == 'average' else (['OM', 'BM'] if kind == 'combined' else [kind]) %}
with keys as (
    select * from {{ ref('grid_factor_year_keys') }} where series = '{{ series }}'
),

factors as (
    select f.*, k.factor_year, f.data_years = '(?)' as year_uncertain
    from {{ ref('grid_emission_factors') }} as f
    inner join keys as k on f.factor_type = k.factor_type and f.data_years = k.data_years
),

points as (
    {%- for k in kinds %}
    select grid, factor_year, '{{ k }}' as kind, year_uncertain,
           try_cast({{ {'OM': 'OM_tCO2_per_MWh', 'BM': 'BM_tCO2_per_MWh', 'average': 'average_tCO2_per_MWh'}[k] }} as double) as factor
    from factors
    where try_cast({{ {'OM': 'OM_tCO2_per_MWh', 'BM': 'BM_tCO2_per_MWh', 'average': 'average_tCO2_per_MWh'}[k] }} as double) is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

years as (
    select distinct year from {{ ref('int_yearbook__values') }}
),

spine as (
    select distinct p.grid, p.kind, y.year from points as p cross join years as y
),

nearest as (
    select s.grid, s.kind, s.year, p.factor, p.factor_year, p.year_uncertain
    from spine as s
    inner join points as p using (grid, kind)
    qualify row_number() over (partition by s.grid, s.kind, s.year
                               order by abs(s.year - p.factor_year), p.factor_year) = 1
),

bracket as (
    select
        s.grid, s.kind, s.year,
        max(p.factor_year) filter (where p.factor_year <= s.year) as lo_year,
        min(p.factor_year) filter (where p.factor_year >= s.year) as hi_year
    from spine as s
    inner join points as p using (grid, kind)
    group by s.grid, s.kind, s.year
),

resolved as (
    select
        n.grid, n.kind, n.year,
        {%- if rule == 'interpolate' %}
        case when b.lo_year < b.hi_year
             then lo.factor + (hi.factor - lo.factor) * (n.year - b.lo_year) / (b.hi_year - b.lo_year)
             else n.factor end as factor,
        case when n.factor_year = n.year then 'published'
             when b.lo_year < b.hi_year then 'interpolated'
             else 'nearest' end as rule,
        case when b.lo_year < b.hi_year then b.lo_year || '-' || b.hi_year
             else cast(n.factor_year as varchar) end as factor_year_used,
        case when b.lo_year < b.hi_year then lo.year_uncertain or hi.year_uncertain
             else n.year_uncertain end as year_uncertain
        {%- else %}
        n.factor,
        case when n.factor_year = n.year then 'published' else 'nearest' end as rule,
        cast(n.factor_year as varchar) as factor_year_used,
        n.year_uncertain
        {%- endif %}
    from nearest as n
    inner join bracket as b using (grid, kind, year)
    left join points as lo on lo.grid = n.grid and lo.kind = n.kind and lo.factor_year = b.lo_year
    left join points as hi on hi.grid = n.grid and hi.kind = n.kind and hi.factor_year = b.hi_year
)

{%- if kind == 'combined' and series == 'baseline' %}
select
    om.grid as grid_region,
    om.year,
    {{ w }} * om.factor + {{ 1 - w }} * bm.factor as grid_factor_t_per_mwh,
    'combined (OM weight {{ w }})' as grid_factor_kind,
    '{{ series }}' as grid_factor_series,
    'OM ' || om.rule || ', BM ' || bm.rule as grid_factor_rule,
    'OM ' || om.factor_year_used || ', BM ' || bm.factor_year_used as grid_factor_year,
    om.rule <> 'published' or bm.rule <> 'published' as grid_factor_not_published,
    om.year_uncertain or bm.year_uncertain as grid_factor_year_uncertain
from resolved as om
inner join resolved as bm on bm.grid = om.grid and bm.year = om.year and bm.kind = 'BM'
where om.kind = 'OM'
{%- else %}
select
    grid as grid_region,
    year,
    factor as grid_factor_t_per_mwh,
    kind as grid_factor_kind,
    '{{ series }}' as grid_factor_series,
    rule as grid_factor_rule,
    factor_year_used as grid_factor_year,
    rule <> 'published' as grid_factor_not_published,
    year_uncertain as grid_factor_year_uncertain
from resolved
{%- endif %}
