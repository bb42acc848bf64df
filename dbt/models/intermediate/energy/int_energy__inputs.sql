-- Energy inputs of the energy CO2 per city x year x input (long), after quarantine and gap filling:
--   yearbook inputs (electricity total / industrial / residential, gas, LPG, passenger and freight turnover,
--   road passenger and freight traffic): the published value (int_yearbook__filled: value_observed);
--   heat inputs (urban construction yearbook): hot water heat supplied in total, by CHP plants and by boiler
--   houses, and steam, each its own input; on the spine of every panel city x every year that has a heating
--   table (int_energy__city_co2 combines them).
-- Quarantine (bad input is never used silently): an observed value more than var('energy_slip_ratio')
-- (default 20) times above or below the median of the same city's observed values of that input (at least
-- var('energy_slip_min_years') years) is implausible, e.g. a 100x unit slip as ccsy-formats.md §4.3
-- documents for Lhasa's road passenger traffic; it is replaced like a missing value and listed with the
-- reason in marts.energy_input_quarantine. (Negative figures never get here: the readers reject them into
-- raw.rejected_rows.)
-- Gap filling: missing or quarantined values with published neighbours on both sides at most
-- var('max_interpolation_gap') years apart are interpolated linearly (is_imputed), as int_yearbook__filled.
-- A panel city absent from a year's heating table has no central heating: heat 0 (heat_assumed_zero) when
-- var('energy_heat_absent_is_zero') (default true).
{%- set ratio = var('energy_slip_ratio', 20) | float %}
{%- set min_years = var('energy_slip_min_years', 3) | int %}
{%- set max_gap = var('max_interpolation_gap', 2) | int %}
{%- set yearbook_inputs = ['electricity_total_10k_kwh', 'electricity_industrial_10k_kwh', 'electricity_residential_10k_kwh',
                           'gas_supply_10k_m3', 'lpg_supply_ton', 'passenger_turnover_10k_pkm', 'freight_turnover_10k_tkm',
                           'road_passengers_10k', 'road_freight_10k_ton'] %}
with yearbook as (
    select city_code, year, column_name as input, value_observed, false as absent_from_table
    from {{ ref('int_yearbook__filled') }}
    where column_name in ('{{ yearbook_inputs | join("', '") }}')
),

heat_cells as (
    select city_code, year,
           max(value) filter (where item = 'heat_hot_water_total') as total,
           max(value) filter (where item = 'heat_hot_water_chp') as chp,
           max(value) filter (where item = 'heat_hot_water_boiler') as boiler,
           max(value) filter (where item = 'heat_steam_total') as steam
    from {{ ref('int_energy__heat_resolved') }}
    where city_code is not null
    group by city_code, year
),

heat_spine as (
    select c.city_code, y.year
    from (select distinct city_code from {{ ref('int_yearbook__filled') }}) as c
    cross join (select distinct year from {{ ref('stg_urban_construction__heating') }}) as y
),

-- Each printed heat column is its own input, so that a slip in one column is caught on that column.
heat as (
    select s.city_code, s.year, u.input, u.value_observed, h.city_code is null as absent_from_table
    from heat_spine as s
    left join heat_cells as h using (city_code, year)
    cross join lateral (
        values ('heat_hot_water_total_10k_gj', h.total), ('heat_hot_water_chp_10k_gj', h.chp),
               ('heat_hot_water_boiler_10k_gj', h.boiler), ('heat_steam_10k_ton', h.steam)
    ) as u(input, value_observed)
),

observed as (
    select * from yearbook
    union all
    select * from heat
),

checked as (
    select
        *,
        median(value_observed) over w as city_median,
        count(value_observed) over w as n_years,
        value_observed / nullif(median(value_observed) over w, 0) as ratio_to_city_median
    from observed
    window w as (partition by city_code, input)
),

quarantined as (
    select
        *,
        coalesce(n_years >= {{ min_years }} and value_observed > 0
                 and (ratio_to_city_median > {{ ratio }} or ratio_to_city_median < {{ 1.0 / ratio }}), false)
            as is_quarantined
    from checked
),

neighbours as (
    select
        *,
        case when is_quarantined then null else value_observed end as value_clean,
        last_value(case when is_quarantined then null else value_observed end ignore nulls) over before as prev_value,
        last_value(case when is_quarantined or value_observed is null then null else year end ignore nulls) over before as prev_year,
        first_value(case when is_quarantined then null else value_observed end ignore nulls) over after as next_value,
        first_value(case when is_quarantined or value_observed is null then null else year end ignore nulls) over after as next_year
    from quarantined
    window
        before as (partition by city_code, input order by year rows between unbounded preceding and 1 preceding),
        after as (partition by city_code, input order by year rows between 1 following and unbounded following)
)

select
    city_code,
    year,
    input,
    value_observed,
    case
        when value_clean is not null then value_clean
        when absent_from_table and {{ var('energy_heat_absent_is_zero', true) }} then 0.0
        when next_year - prev_year - 1 <= {{ max_gap }}
            then prev_value + (next_value - prev_value) * (year - prev_year) / (next_year - prev_year)
    end as value,
    coalesce(value_clean is null and not absent_from_table and next_year - prev_year - 1 <= {{ max_gap }}, false)
        as is_imputed,
    is_quarantined,
    case when is_quarantined then
        'implausible: ' || round(ratio_to_city_median, 4) || ' x the median of the city''s ' || n_years
        || ' published years (outside 1/{{ ratio }} .. {{ ratio }}; suspected unit slip, e.g. 100x)'
    end as quarantine_reason,
    ratio_to_city_median,
    absent_from_table and {{ var('energy_heat_absent_is_zero', true) }} and value_clean is null as heat_assumed_zero
from neighbours
