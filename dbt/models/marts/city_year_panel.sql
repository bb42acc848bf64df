-- The city-year panel: one row per (city_code, year) for every prefecture-level unit and every year the
-- yearbook covers. Every column is documented in marts.variable_dictionary.
--   * city attributes: every column of dim_city except its technical ones (seat coordinates, short name,
--     extension flag, validity, source), so classification columns added to dim_city flow in;
--   * yearbook variables as columns (int_yearbook__filled_wide): the published value, or a linear
--     interpolation over an interior gap of at most var('max_interpolation_gap') years (default 2) where
--     the flag `<column>_imputed` is true. Filled values REPLACE the published ones in the same column
--     (the published value is `<column>` where `<column>_imputed` is false; null otherwise); n_imputed
--     counts the imputed cells of the row. Derived columns below are computed from the filled columns;
--   * emissions, lights, robot exposure and the 1984 instrument inputs joined by key; CO2 from energy use with its flags
--     (int_energy__city_co2, docs/energy-co2.md);
--   * prices: provincial indices = 1 in var('price_base_year') (default 2010), int_prices__deflators;
--     real values are nominal / the provincial implied GDP deflator, null where it is (2020+);
--   * derived variables of the seed papers (specs seed_000 §3.4, seed_002 §4.2, seed_004 §3.3).
-- Unbalanced where sources are (CEADs covers fewer city-years).
-- depends_on: {{ ref('panel_derived_variables') }}
{%- set base_year = var('price_base_year', 2010) | int %}
{%- set technical = ['city_short', 'seat_lon', 'seat_lat', 'is_extension', 'valid_to', 'source'] %}
{%- set dim_columns = [] %}
{%- if execute %}
    {%- set dim_columns = adapter.get_columns_in_relation(ref('dim_city')) | map(attribute='name') | map('lower') | list %}
    {#- The dictionary labels of the real-price columns name the base year: refuse to build a panel
        whose labels would lie (change the labels in panel_derived_variables.csv with the var). #}
    {%- set labels = run_query("select variable, label_en from " ~ ref('panel_derived_variables')
                               ~ " where variable in ('gdp_deflator', 'cpi_index', 'gdp_real_10k_yuan', 'ln_gdp_real',"
                               ~ " 'gdp_per_capita_real_yuan', 'ln_gdp_per_capita_real', 'industrial_va_real_10k_yuan')") %}
    {%- for row in labels.rows %}
        {%- if (base_year | string) not in row[1] %}
            {{ exceptions.raise_compiler_error("var('price_base_year') = " ~ base_year ~ " but the label of "
               ~ row[0] ~ " in seeds/dictionary/panel_derived_variables.csv says: " ~ row[1]) }}
        {%- endif %}
    {%- endfor %}
{%- endif %}
{%- set excluded = technical | select('in', dim_columns) | list %}

with cities as (
    select
        c.*{% if excluded %} exclude ({{ excluded | join(', ') }}){% endif %}
        {%- if 'province_cn' not in dim_columns %}, p.province_cn{% endif %}
        {%- if 'region' not in dim_columns %}, p.region{% endif %}
    from {{ ref('dim_city') }} as c
    inner join {{ ref('provinces') }} as p using (province_code)
),

-- The panel's universe: units of dim_city the yearbook reports on, over the yearbook's years.
years as (
    select distinct year from {{ ref('int_yearbook__values') }}
),

covered as (
    select distinct city_code from {{ ref('int_yearbook__values') }}
),

spine as (
    select cities.*, years.year
    from cities
    semi join covered using (city_code)
    cross join years
),

-- Filled values, `<column>_imputed` flags and n_imputed; its spine is the panel's (covered x years).
yearbook as (
    select * from {{ ref('int_yearbook__filled_wide') }}
),

prices as (
    select province_code, year, gdp_deflator_index as gdp_deflator, cpi_index
    from {{ ref('int_prices__deflators') }}
),

joined as (
    select
        spine.*,
        yearbook.* exclude (city_code, year),
        co2.co2_mt,
        county.co2_county_sum_mt,
        ind.co2_industrial_mt,
        lights.light_dmsp,
        lights.light_viirs,
        lights.light_dmsp_calibrated,
        lights.light_harmonised,
        robots.robot_exposure,
        robots.robot_exposure_us,
        capital.capital_stock_10k_yuan,
        conv.co2_base_year,
        conv.ln_co2_initial,
        conv.ln_co2_growth,
        conv.ln_co2_growth_yoy,
        robots.robot_exposure_stock,
        robots.robot_exposure_stock_us,
        robots.robot_exposure_loo,
        robots.robot_exposure_stock_loo,
        robots.exposure_basis as robot_exposure_basis,
        hm.hmatch,
        hist.post_telecom_1984_10k_yuan,
        hist.phones_per_100_1984,
        prices.gdp_deflator,
        prices.cpi_index,
        size.size_class,
        energy.* exclude (city_code, year)
    from spine
    left join yearbook using (city_code, year)
    left join prices using (province_code, year)
    left join {{ ref('int_emissions__city_co2') }} as co2 using (city_code, year)
    left join {{ ref('int_emissions__county_city_co2') }} as county using (city_code, year)
    left join {{ ref('int_emissions__city_industrial_co2') }} as ind using (city_code, year)
    left join (select * from {{ ref('int_emissions__city_lights') }} where unit_kind = 'city') as lights
        using (city_code, year)
    left join {{ ref('int_robots__city_exposure') }} as robots using (city_code, year)
    left join {{ ref('int_robots__human_machine_match') }} as hm using (city_code, year)
    left join {{ ref('int_cities__size_class') }} as size using (city_code, year)
    left join {{ ref('int_capital__stock') }} as capital using (city_code, year)
    left join {{ ref('int_emissions__convergence') }} as conv using (city_code, year)
    left join {{ ref('int_energy__city_co2') }} as energy using (city_code, year)
    -- constant per city: seed 000's historical instrument inputs (optional source, null without it)
    left join {{ ref('int_historical__instruments') }} as hist using (city_code)
)

select
    -- everything but the gap-filling bookkeeping, which goes last
    columns(lambda c: not regexp_matches(c, '_imputed$')),
    ---------- emissions
    ln(nullif(co2_mt, 0)) as ln_co2,
    co2_mt * 1e6 / nullif(pop_total_10k * 1e4, 0) as co2_per_capita_t,
    co2_mt * 1e6 / nullif(gdp_10k_yuan, 0) as co2_intensity_t_per_10k_yuan,
    ln(nullif(co2_industrial_mt * 1e6 / nullif(industrial_va_10k_yuan, 0), 0)) as ln_industrial_co2_intensity,
    ---------- CO2 from energy use (int_energy__city_co2; seed 002 outcomes in logs, seed 001 CO2 and CO2/GDP)
    ln(nullif(co2_energy_total, 0)) as ln_co2_energy_total,
    ln(nullif(co2_energy_electricity, 0)) as ln_co2_energy_electricity,
    ln(nullif(co2_energy_industrial_electricity, 0)) as ln_co2_energy_industrial_electricity,
    ln(nullif(co2_energy_residential_electricity, 0)) as ln_co2_energy_residential_electricity,
    ln(nullif(co2_energy_heat, 0)) as ln_co2_energy_heat,
    ln(nullif(co2_energy_transport, 0)) as ln_co2_energy_transport,
    ln(nullif(co2_energy_direct, 0)) as ln_co2_energy_direct,
    co2_energy_total * 1e6 / nullif(gdp_10k_yuan, 0) as co2_energy_intensity_t_per_10k_yuan,
    ln(nullif(co2_energy_total * 1e6 / nullif(gdp_10k_yuan, 0), 0)) as ln_co2_energy_intensity,
    ---------- economy
    college_students / nullif(pop_total_10k * 1e4, 0) as human_capital,
    ln(nullif(gdp_per_capita_yuan, 0)) as ln_gdp_per_capita,
    gdp_primary_10k_yuan / nullif(gdp_10k_yuan, 0) as share_primary_gdp,
    gdp_secondary_10k_yuan / nullif(gdp_10k_yuan, 0) as share_secondary_gdp,
    gdp_tertiary_10k_yuan / nullif(gdp_10k_yuan, 0) as share_tertiary_gdp,
    loans_10k_yuan / nullif(gdp_10k_yuan, 0) as fin_loans_gdp,
    education_expenditure_10k_yuan / nullif(fiscal_expenditure_10k_yuan, 0) as edu_fiscal_share,
    st_expenditure_10k_yuan / nullif(fiscal_expenditure_10k_yuan, 0) as st_fiscal_share,
    ---------- digital economy
    broadband_subscribers_10k / nullif(pop_total_10k, 0) as broadband_per_capita,
    mobile_subscribers_10k / nullif(pop_total_10k, 0) as mobile_per_capita,
    emp_it_10k / nullif(emp_total_10k, 0) as it_employment_share,
    ln(nullif(pop_total_10k * 1e4 / nullif(land_area_km2, 0), 0)) as ln_pop_density,
    ---------- real values (constant prices of var('price_base_year'); provincial implied GDP deflator)
    gdp_10k_yuan / gdp_deflator as gdp_real_10k_yuan,
    ln(nullif(gdp_10k_yuan / gdp_deflator, 0)) as ln_gdp_real,
    gdp_per_capita_yuan / gdp_deflator as gdp_per_capita_real_yuan,
    ln(nullif(gdp_per_capita_yuan / gdp_deflator, 0)) as ln_gdp_per_capita_real,
    industrial_va_10k_yuan / gdp_deflator as industrial_va_real_10k_yuan,
    ---------- controls of the seed papers
    -- tertiary employment share (seed 000 S): employment outside agriculture (primary) and mining,
    -- manufacturing, utilities, construction (secondary), over all employment in units
    (emp_total_10k - emp_agriculture_10k - emp_mining_10k - emp_manufacturing_10k - emp_utilities_10k
        - emp_construction_10k) / nullif(emp_total_10k, 0) as share_tertiary_emp,
    -- urbanisation PROXY: the yearbook has no urban resident population (城镇常住人口, seed 004 `urban`);
    -- registered population of the urban districts over the whole city's
    pop_district_10k / nullif(pop_total_10k, 0) as urban_district_pop_share,
    pop_total_10k * 1e4 / nullif(land_area_km2, 0) as pop_density_per_km2,
    -- seed 004 `energ`: industrial electricity / industrial value added (current prices, as the paper
    -- states it); 万千瓦时 / 万元 = kWh per yuan
    electricity_industrial_10k_kwh / nullif(industrial_va_10k_yuan, 0) as energ,
    -- seed 004 `open` without an exchange rate: FDI (US dollars) per 万元 of GDP (yuan). No RMB/USD rate
    -- is in ../shared/reference, so nothing is converted; comparable across cities within a year only
    fdi_usd_10k * 1e4 / nullif(gdp_10k_yuan, 0) as fdi_usd_per_10k_yuan_gdp,
    postal_revenue_10k_yuan * 1e4 / nullif(pop_total_10k * 1e4, 0) as postal_revenue_per_capita_yuan,
    retail_sales_10k_yuan * 1e4 / nullif(pop_total_10k * 1e4, 0) as retail_sales_per_capita_yuan,
    ---------- logs (seed 002 §4.2 logs every control but the tertiary share; seed 000 A = ln 工业用电量)
    ln(nullif(gdp_10k_yuan, 0)) as ln_gdp,
    ln(nullif(pop_total_10k, 0)) as ln_pop_total,
    ln(nullif(fdi_usd_10k, 0)) as ln_fdi_usd,
    ln(nullif(retail_sales_10k_yuan, 0)) as ln_retail_sales,
    ln(nullif(library_books_1k, 0)) as ln_library_books,
    ln(nullif(fai_10k_yuan, 0)) as ln_fai,
    ln(nullif(education_expenditure_10k_yuan, 0)) as ln_education_expenditure,
    ln(nullif(st_expenditure_10k_yuan, 0)) as ln_st_expenditure,
    ln(nullif(loans_10k_yuan, 0)) as ln_loans,
    ln(nullif(electricity_industrial_10k_kwh, 0)) as ln_electricity_industrial,
    ---------- carbon inequality and productivity inputs (seeds 000/001; int_capital__stock)
    ln(nullif(capital_stock_10k_yuan, 0)) as ln_capital_stock,
    ln(nullif(co2_mt * 1e6 / nullif(pop_total_10k * 1e4, 0), 0)) as ln_co2_per_capita,
    ln(nullif(co2_mt * 1e6 / nullif(gdp_10k_yuan / gdp_deflator, 0), 0)) as ln_co2_intensity_real,
    ---------- gap filling: count of imputed cells, then one flag per imputable yearbook column
    n_imputed,
    columns(lambda c: regexp_matches(c, '_imputed$') and c <> 'n_imputed')
from joined
