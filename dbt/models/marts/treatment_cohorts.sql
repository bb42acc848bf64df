-- Cohorts under every timing coding: one row per (policy_id, timing_coding, city_code) of the cities of
-- dim_city a policy treats, with the first treated year under that coding, the listing that sets it, its
-- zone type (zone_types) and whether the coding is the one treatment_panel uses. Designs read it to
-- run alternative timings (seed 002: both big-data batches coded 2016) and zone-type heterogeneity.

with cohorts as (
    select *
    from {{ ref('int_policies__cohorts') }}
),

cities as (
    select city_code
    from {{ ref('dim_city') }}
),

zone_types as (
    select policy_id, unit_name_cn, zone_type
    from {{ ref('zone_types') }}
),

final as (
    select
        c.policy_id,
        c.timing_coding,
        c.city_code,
        c.first_treat_year,
        c.first_batch,
        c.first_unit_name_cn,
        z.zone_type,
        c.is_selected_coding
    from cohorts as c
    semi join cities as d using (city_code)
    left join zone_types as z on z.policy_id = c.policy_id and z.unit_name_cn = c.first_unit_name_cn
)

select * from final
order by policy_id, timing_coding, city_code
