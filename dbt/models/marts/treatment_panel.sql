-- Treatment indicators for staggered DID: one row per (city_code, year, policy_id) over the units of
-- dim_city, the years of the city-year panel and the policies whose lists are complete.
--   treated          = 1 from the city's first treated year on (absorbing; a pilot's end date is ignored)
--   first_treat_year = cohort g (earliest batch when a city is listed more than once)
--   event_time       = year - first_treat_year (null for never-treated cities)
--   never_treated    = 1 when no list row of the policy treats the city under the options
-- Options (vars) are those of int_policies__treated_units plus:
--   treatment_include_partial_lists [false]  also give panels for smart_city and lianghua_ronghe_zone,
--                                            whose lists are partial ("do not use as complete treatment
--                                            list", shared/policies/README.md); their zeros are unknowns.
--   treatment_years [null]                    [first, last] year; default: the years of int_yearbook__values.
{%- set include_partial_lists = var('treatment_include_partial_lists', false) -%}
{%- set years = var('treatment_years', none) %}

with cities as (
    select city_code
    from {{ ref('dim_city') }}
),

years as (
    {% if years %}
    select unnest(range({{ years[0] | int }}, {{ years[1] | int }} + 1))::integer as year
    {% else %}
    select distinct year::integer as year
    from {{ ref('int_yearbook__values') }}
    {% endif %}
),

policies as (
    select policy_id, list_status
    from {{ ref('policy_catalog') }}
    {% if not include_partial_lists %}
    where list_status = 'complete'
    {% endif %}
),

treated_units as (
    select *
    from {{ ref('int_policies__treated_units') }}
),

final as (
    select
        c.city_code,
        y.year,
        p.policy_id,
        case when t.first_treat_year <= y.year then 1 else 0 end as treated,
        t.first_treat_year,
        y.year - t.first_treat_year as event_time,
        case when t.first_treat_year is null then 1 else 0 end as never_treated,
        t.first_batch as batch,
        t.first_unit_name_cn as listed_unit_cn,
        t.coverage,
        t.is_expanded,
        t.confidence,
        t.timing_coding,
        t.timing_verified,
        t.n_listings,
        p.list_status
    from cities as c
    cross join years as y
    cross join policies as p
    left join treated_units as t on t.policy_id = p.policy_id and t.city_code = c.city_code
)

select * from final
order by policy_id, city_code, year
