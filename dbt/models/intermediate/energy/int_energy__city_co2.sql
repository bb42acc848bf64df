-- CO2 from energy use per city-year (Mt CO2), seed 002 §4.1 (Glaeser & Kahn 2010; Li et al. 2013; 吴建新 &
-- 郭智勇 2016), with seed 001 eq. 3 (E x NCV x CEF x COF x 44/12) for every fuel. docs/energy-co2.md.
--   electricity  = electricity use (万千瓦时) x 1e4 kWh x grid factor (kg/kWh) of the city's grid and year
--                  (int_energy__grid_factors); the same factor for industrial and residential use;
--   heat         = hot water heat supplied (万吉焦, CHP + boiler houses) [+ steam x var('energy_steam_gj_per_ton')]
--                  / var('energy_boiler_efficiency') (0.70, GB/T 15317-2009) / raw-coal NCV = raw coal burnt
--                  -> x 0.7143 standard coal (reported) -> x NCV x CEF x COF x 44/12 (IPCC 2006 coal);
--   transport    = (passenger-km x kgce/pkm + tonne-km x kgce/tkm) / standard-coal coefficient of the
--                  intensity table's fuel -> fuel burnt x NCV x CEF x COF x 44/12;
--   direct       = gas supply (万立方米, as natural gas) and LPG supply (t) x NCV x CEF x COF x 44/12;
--   total        = electricity + heat + transport + direct (null if a component is).
-- Factors: seeds/energy (fuel_factors rows chosen in energy_fuel_choices; grid factors and mapping).
{%- set eta = var('energy_boiler_efficiency', 0.70) | float %}
{%- set steam = var('energy_steam_gj_per_ton', none) %}
with pivoted as (
    pivot (select city_code, year, input, value from {{ ref('int_energy__inputs') }})
    on input using first(value) group by city_code, year
),

-- Heat supplied as hot water = CHP + boiler houses (seed 002 §4.1 step a) where both are known, else the
-- table's total column (flagged).
inputs as (
    select
        *,
        case when heat_hot_water_chp_10k_gj is not null and heat_hot_water_boiler_10k_gj is not null
             then heat_hot_water_chp_10k_gj + heat_hot_water_boiler_10k_gj
             else heat_hot_water_total_10k_gj end as hot_water_10k_gj,
        (heat_hot_water_chp_10k_gj is null or heat_hot_water_boiler_10k_gj is null)
            and heat_hot_water_total_10k_gj is not null as heat_from_total
    from pivoted
),

flags as (
    select
        city_code,
        year,
        bool_or(is_imputed) filter (where input not like 'road_%' and input <> 'heat_steam_10k_ton'
                                    {%- if steam is not none %} or input = 'heat_steam_10k_ton'{% endif %})
            as inputs_imputed,
        count_if(is_quarantined) filter (where input not like 'road_%') as inputs_quarantined,
        bool_or(heat_assumed_zero) filter (where input like 'heat_hot_water%') as heat_assumed_zero
    from {{ ref('int_energy__inputs') }}
    group by city_code, year
),

fuel as (
    select * from {{ ref('int_energy__fuel_parameters') }}
),

coal as (select * from fuel where fuel_key = 'raw_coal'),
gas as (select * from fuel where fuel_key = 'natural_gas'),
lpg as (select * from fuel where fuel_key = 'lpg'),

units as (
    select city_code, province_code, grid_region from {{ ref('int_energy__city_grid') }}
),

intensity as (
    select
        t.province_code, t.year,
        max(t.kgce_per_unit) filter (where t.mode = 'passenger') as kgce_per_pkm,
        max(t.kgce_per_unit) filter (where t.mode = 'freight') as kgce_per_tkm,
        -- t CO2 per kgce of each mode's fuel: 1 kgce = 1 / scc kg of fuel
        max(f.co2_t_per_unit / f.standard_coal_coef / 1000) filter (where t.mode = 'passenger') as co2_t_per_kgce_p,
        max(f.co2_t_per_unit / f.standard_coal_coef / 1000) filter (where t.mode = 'freight') as co2_t_per_kgce_f,
        bool_or(t.intensity_other_year) as intensity_other_year,
        bool_or(t.intensity_is_national) as intensity_is_national
    from {{ ref('int_energy__transport_intensity') }} as t
    left join fuel as f on f.fuel_key = t.fuel
    group by t.province_code, t.year
),

components as (
    select
        i.city_code,
        i.year,
        u.grid_region,
        g.grid_factor_t_per_mwh,
        g.grid_factor_year,
        g.grid_factor_rule,
        g.grid_factor_not_published,
        g.grid_factor_year_uncertain,
        -- 万千瓦时 x 1e4 kWh x kg/kWh = kg; / 1e9 = Mt
        i.electricity_total_10k_kwh * g.grid_factor_t_per_mwh * 1e-5 as co2_energy_electricity,
        i.electricity_industrial_10k_kwh * g.grid_factor_t_per_mwh * 1e-5 as co2_energy_industrial_electricity,
        i.electricity_residential_10k_kwh * g.grid_factor_t_per_mwh * 1e-5 as co2_energy_residential_electricity,
        -- heat GJ / efficiency / (GJ per t raw coal = NCV kJ/kg / 1000) = t raw coal
        (i.hot_water_10k_gj * 1e4
         {%- if steam is not none %} + coalesce(i.heat_steam_10k_ton, 0) * 1e4 * {{ steam | float }}{% endif %})
            / {{ eta }} / (coal.ncv / 1000) as heat_coal_t,
        (i.passenger_turnover_10k_pkm * 1e4 * t.kgce_per_pkm * t.co2_t_per_kgce_p
         + i.freight_turnover_10k_tkm * 1e4 * t.kgce_per_tkm * t.co2_t_per_kgce_f) * 1e-6 as co2_energy_transport,
        (i.gas_supply_10k_m3 * gas.co2_t_per_unit + i.lpg_supply_ton * lpg.co2_t_per_unit) * 1e-6 as co2_energy_direct,
        coal.co2_t_per_unit as coal_co2_t_per_t,
        coal.standard_coal_coef as coal_tce_per_t,
        t.intensity_other_year,
        t.intensity_is_national,
        i.heat_from_total
    from inputs as i
    left join units as u using (city_code)
    left join {{ ref('int_energy__grid_factors') }} as g on g.grid_region = u.grid_region and g.year = i.year
    left join intensity as t on t.province_code = u.province_code and t.year = i.year
    cross join coal
    cross join gas
    cross join lpg
)

select
    c.city_code,
    c.year,
    c.co2_energy_electricity + c.heat_coal_t * c.coal_co2_t_per_t * 1e-6 + c.co2_energy_transport
        + c.co2_energy_direct as co2_energy_total,
    c.co2_energy_electricity,
    c.co2_energy_industrial_electricity,
    c.co2_energy_residential_electricity,
    c.heat_coal_t * c.coal_co2_t_per_t * 1e-6 as co2_energy_heat,
    c.co2_energy_transport,
    c.co2_energy_direct,
    c.heat_coal_t * c.coal_tce_per_t * 1e-4 as heat_coal_10k_tce,
    c.grid_region,
    c.grid_factor_t_per_mwh,
    c.grid_factor_year,
    c.grid_factor_rule,
    c.grid_factor_not_published,
    c.grid_factor_year_uncertain,
    coalesce(f.inputs_imputed, false) as co2_energy_inputs_interpolated,
    coalesce(f.inputs_quarantined, 0) as co2_energy_inputs_quarantined,
    coalesce(f.heat_assumed_zero, false) as co2_energy_heat_assumed_zero,
    coalesce(c.heat_from_total, false) as co2_energy_heat_from_total,
    c.intensity_other_year as transport_intensity_other_year,
    c.intensity_is_national as transport_intensity_national
from components as c
left join flags as f using (city_code, year)
