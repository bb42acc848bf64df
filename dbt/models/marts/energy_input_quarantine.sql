-- Energy inputs the energy CO2 did not use because they are implausible (int_energy__inputs: more than
-- var('energy_slip_ratio') times off the city's median, e.g. a 100x unit slip), with the reason and where the
-- value was printed. Negative figures are rejected earlier by the readers (raw.rejected_rows).
with q as (
    select * from {{ ref('int_energy__inputs') }} where is_quarantined
),

yearbook_cells as (
    select city_code, year, variable as input,
           string_agg(source_file || ' [' || sheet || '] row ' || source_row || ' col ' || source_column, '; '
                      order by source_file, sheet, source_row, source_column) as printed_at
    from {{ ref('int_yearbook__cells_resolved') }}
    -- only the quarantined city-years: aggregating all ~400,000 resolved cells cost 0.8 s per build
    where city_code is not null and (city_code, year, variable) in (select (city_code, year, input) from q)
    group by city_code, year, variable, scope
),

heat_cells as (
    select city_code, year, replace(item, 'heat_steam_total', 'heat_steam') || case when item = 'heat_steam_total'
                                                                                then '_10k_ton' else '_10k_gj' end as input,
           string_agg(source_file || ' [' || sheet || '] row ' || source_row || ' col ' || source_column, '; '
                      order by source_file, sheet, source_row, source_column) as printed_at
    from {{ ref('int_energy__heat_resolved') }}
    where city_code is not null
    group by all
)

select
    q.city_code,
    q.year,
    q.input,
    q.value_observed,
    q.ratio_to_city_median,
    q.value as value_used,
    q.is_imputed as value_used_is_interpolated,
    q.quarantine_reason,
    coalesce(y.printed_at, h.printed_at) as printed_at
from q
left join yearbook_cells as y using (city_code, year, input)
left join heat_cells as h using (city_code, year, input)
order by q.city_code, q.year, q.input
