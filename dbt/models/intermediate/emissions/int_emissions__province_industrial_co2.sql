-- Provincial industrial CO2 from the CEADs sectoral inventories: sectors flagged is_industrial in
-- seeds/ceads/ceads_sectors.csv (mining, manufacturing, utilities), fossil-fuel cells plus process
-- emissions (cement) when var industrial_co2_includes_process is true; stated totals and scope-2
-- columns excluded. Sums run in a fixed (sector, fuel) order so that rebuilds are bit-identical.
with cells as (
    select e.*, s.is_industrial
    from {{ ref('stg_ceads__provincial_emissions') }} as e
    inner join (select distinct sector, cast(is_industrial as boolean) as is_industrial
                from {{ ref('ceads_sectors') }}) as s using (sector)
    where not e.is_total_row and not e.is_total_col
),

provinces as (
    select province_code, province_en from {{ ref('provinces') }}
)

select
    p.province_code,
    c.year,
    sum(case when c.kind = 'fossil' then c.co2_mt else 0 end order by c.sector, c.fuel) as co2_industrial_fossil_mt,
    sum(case when c.kind = 'process' then c.co2_mt else 0 end order by c.sector, c.fuel) as co2_industrial_process_mt,
    sum(case when c.kind = 'fossil' {% if var('industrial_co2_includes_process') %} or c.kind = 'process'{% endif %}
             then c.co2_mt else 0 end order by c.sector, c.fuel) as co2_industrial_mt
from cells as c
inner join provinces as p using (province_en)
where c.is_industrial
group by p.province_code, c.year
