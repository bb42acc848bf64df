-- Cities that carry several policies, and from when (seed spec 003 §6.1, policy-overlap matrix): one
-- row per (city_code, policy_a, policy_b) with policy_a < policy_b, both treating the city under the
-- coding options of int_policies__treated_units. All catalogued policies are included, partial lists
-- (smart_city, lianghua_ronghe_zone) too: a listed city does carry the policy, but an absent pair proves
-- nothing for them (both_lists_complete = false).
with treated as (
    select t.policy_id, t.city_code, t.first_treat_year, t.coverage
    from {{ ref('int_policies__treated_units') }} as t
    semi join {{ ref('dim_city') }} as d using (city_code)
),

catalog as (
    select policy_id, list_status
    from {{ ref('policy_catalog') }}
),

policy_counts as (
    select city_code, count(*) as n_policies_city
    from treated
    group by city_code
),

pairs as (
    select
        a.city_code,
        a.policy_id as policy_a,
        b.policy_id as policy_b,
        a.first_treat_year as first_year_a,
        b.first_treat_year as first_year_b,
        greatest(a.first_treat_year, b.first_treat_year) as first_year_both,
        a.coverage as coverage_a,
        b.coverage as coverage_b
    from treated as a
    inner join treated as b on a.city_code = b.city_code and a.policy_id < b.policy_id
),

final as (
    select
        p.*,
        ca.list_status = 'complete' and cb.list_status = 'complete' as both_lists_complete,
        c.n_policies_city
    from pairs as p
    inner join catalog as ca on ca.policy_id = p.policy_a
    inner join catalog as cb on cb.policy_id = p.policy_b
    inner join policy_counts as c using (city_code)
)

select * from final
order by city_code, policy_a, policy_b
