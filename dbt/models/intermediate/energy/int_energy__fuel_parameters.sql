-- One row per fuel used by the energy CO2 (raw coal for heat, natural gas and LPG for direct use, the
-- transport fuels), with its parameters parsed from the fuel_factors seed rows that energy_fuel_choices names,
-- and the CO2 per physical unit in the form of seed 001 eq. 3: E x NCV x CEF x COF x 44/12.
--   mass_t:        NCV in kJ/kg (= MJ/t); co2_t_per_unit = t CO2 per t of fuel
--   volume_10k_m3: NCV in kJ/m3;           co2_t_per_unit = t CO2 per 万立方米
-- Percentages (`98%`) become fractions. A choice that names no row, or a value that is not one number,
-- leaves a null that the not_null tests on this model report.
with choices as (
    select * from {{ ref('energy_fuel_choices') }}
),

picked as (
    select
        c.fuel_key,
        c.parameter,
        c.basis,
        f.value as value_as_published,
        f.unit,
        f.source,
        case
            when regexp_matches(trim(f.value), '^[0-9.]+%$') then try_cast(rtrim(trim(f.value), '%') as double) / 100
            else try_cast(trim(f.value) as double)
        end as value
    from choices as c
    left join {{ ref('fuel_factors') }} as f
        on f.fuel_cn = c.fuel_cn and f.parameter = c.fuel_parameter
),

wide as (
    select
        fuel_key,
        any_value(basis) as basis,
        max(value) filter (where parameter = 'ncv') as ncv,
        max(unit) filter (where parameter = 'ncv') as ncv_unit,
        max(value) filter (where parameter = 'carbon_content') as carbon_content_tc_per_tj,
        max(value) filter (where parameter = 'oxidation_rate') as oxidation_rate,
        max(value) filter (where parameter = 'standard_coal_coef') as standard_coal_coef,
        string_agg(parameter || ': ' || coalesce(value_as_published, '?') || ' ' || coalesce(unit, '') || ' ('
                   || coalesce(source, 'NO ROW') || ')', '; ' order by parameter) as provenance
    from picked
    group by fuel_key
)

select
    *,
    -- NCV in kJ/kg = MJ/t, x 1e-6 = TJ per t (kJ/m3 x 1e-6 = TJ per 1000 m3; x 10 more for 万立方米)
    ncv * 1e-6 * case basis when 'volume_10k_m3' then 10 else 1 end
        * carbon_content_tc_per_tj * oxidation_rate * 44.0 / 12.0 as co2_t_per_unit
from wide
