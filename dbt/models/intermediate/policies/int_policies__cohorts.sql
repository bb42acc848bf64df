-- One row per (policy, timing coding, city_code) that a policy treats under the coding options, with the
-- first treated year (cohort) under that coding; `is_selected_coding` marks the coding the options choose
-- (int_policies__treated_units keeps those rows). Every coding of policy_batch_timing is computed so that a
-- design can use an alternative timing (seed 002: both batches in 2016) without rebuilding the warehouse. Built from the registry rows that map to a unit; the options (dbt vars, defaults in
-- brackets, documented in _policies__models.yml) decide which rows count and which year they give:
--   treatment_include_expanded [true]     EXPANDED rows (province/cluster spread over prefectures) count;
--                                          true/false for all policies or {policy_id: bool, ...}
--                                          (policies left out of the mapping count them).
--   treatment_count_partial [true]        a district/county listing treats its whole parent prefecture.
--   treatment_min_confidence [medium]     rows below this confidence do not treat (low = weak source:
--                                          the Fujian ETS expansion, one smart-city entry).
--   bigdata_zone_timing [seed002]         seed002 (Guizhou 2015, batch 2 2017; seed spec 002 §3.1),
--                                          approval (2016/2016), t10 (all 2016), literature (2016/2017).
--   bigdata_zone_scope [t10]              t10: the CSV's EXPANDED rows (9 PRD cities, 沈阳 only, whole
--                                          贵州/河南/内蒙古/河北); prd_focus: PRD = 广州, 深圳 only (notice:
--                                          "以广州市、深圳市为重点"); guangdong_province: PRD = all of 广东.
--   policy_timing [{}]                    {policy_id: timing_coding}: any coding of policy_batch_timing;
--                                          overrides the catalog default (and bigdata_zone_timing).
-- A city listed several times (several batches, or a province pilot plus a city listing) gets the
-- earliest effective year; `listings` keeps every contributing row.
{%- set bigdata_timing = var('bigdata_zone_timing', 'seed002') -%}
{%- set bigdata_scope = var('bigdata_zone_scope', 't10') -%}
{%- set policy_timing = var('policy_timing', {}) -%}
{%- set include_expanded = var('treatment_include_expanded', true) -%}
{%- set count_partial = var('treatment_count_partial', true) -%}
{%- set min_confidence = var('treatment_min_confidence', 'medium') -%}
{%- set confidence_rank = {'low': 1, 'medium': 2, 'high': 3} -%}

{%- if bigdata_scope not in ['t10', 'prd_focus', 'guangdong_province'] -%}
    {{ exceptions.raise_compiler_error("var bigdata_zone_scope must be t10, prd_focus or guangdong_province, got " ~ bigdata_scope) }}
{%- endif -%}
{%- if min_confidence not in confidence_rank -%}
    {{ exceptions.raise_compiler_error("var treatment_min_confidence must be low, medium or high, got " ~ min_confidence) }}
{%- endif -%}
{%- if include_expanded is mapping -%}
    {%- set expanded_map = include_expanded -%}
    {%- set expanded_default = true -%}
{%- else -%}
    {%- set expanded_map = {} -%}
    {%- set expanded_default = include_expanded -%}
{%- endif %}

with source as (
    select *
    from {{ ref('int_policies__registry') }}
    where city_code is not null
),

-- bigdata_zone_scope = guangdong_province: the PRD zone covers every 广东 prefecture, not only the 9
-- PRD cities of the T10 coding (seed spec 002 §3.2: earlier papers treat every city of a zone province).
-- The added rows copy the PRD summary row and are flagged as derived expansions.
scope_rows as (
    {% if bigdata_scope == 'guangdong_province' %}
    select
        s.policy_id, s.batch, s.announce_date, s.province, s.unit_name_cn, s.unit_level,
        d.city_cn as prefecture_city_cn, d.city_code, true as is_expanded, 'medium' as confidence,
        'full' as coverage, 'derived_scope_option' as verification_status
    from {{ ref('int_policies__registry') }} as s
    inner join {{ ref('dim_city') }} as d on d.province_code = '440000'
    where s.policy_id = 'bigdata_pilot_zone' and s.unit_name_cn = '珠江三角洲' and s.mapping_status = 'summary_row'
      and d.city_code not in (
          select city_code from source where policy_id = 'bigdata_pilot_zone' and unit_name_cn = '珠江三角洲'
      )
    {% else %}
    select
        policy_id, batch, announce_date, province, unit_name_cn, unit_level, prefecture_city_cn, city_code,
        is_expanded, confidence, coverage, verification_status
    from source
    where false
    {% endif %}
),

renamed as (
    select
        policy_id, batch, announce_date, province, unit_name_cn, unit_level, prefecture_city_cn, city_code,
        is_expanded, confidence, coverage, verification_status
    from source
    union all
    select * from scope_rows
),

filtered as (
    select *
    from renamed
    where true
        -- treatment_include_expanded
        and (not is_expanded or
            {%- if expanded_map %}
            case policy_id
                {%- for policy, flag in expanded_map.items() %}
                when '{{ policy }}' then {{ 'true' if flag else 'false' }}
                {%- endfor %}
                else true
            end
            {%- else %} {{ 'true' if expanded_default else 'false' }}
            {%- endif %})
        -- treatment_count_partial
        {%- if not count_partial %}
        and coverage <> 'partial'
        {%- endif %}
        -- treatment_min_confidence
        and case confidence when 'high' then 3 when 'medium' then 2 when 'low' then 1 end
            >= {{ confidence_rank[min_confidence] }}
        -- bigdata_zone_scope = prd_focus: 珠江三角洲 "以广州市、深圳市为重点" (发改高技〔2016〕2123号)
        {%- if bigdata_scope == 'prd_focus' %}
        and not (policy_id = 'bigdata_pilot_zone' and unit_name_cn = '珠江三角洲'
                 and prefecture_city_cn not in ('广州市', '深圳市'))
        {%- endif %}
),

-- Every timing coding of each policy; the selected one comes from the policy_timing var, else
-- bigdata_zone_timing for the big-data zones, else the catalog default.
codings as (
    select distinct
        t.policy_id,
        t.timing_coding,
        t.timing_coding = case
            {%- for policy, coding in policy_timing.items() %}
            when t.policy_id = '{{ policy }}' then '{{ coding }}'
            {%- endfor %}
            when t.policy_id = 'bigdata_pilot_zone' then '{{ bigdata_timing }}'
            else c.default_timing_coding
        end as is_selected_coding
    from {{ ref('policy_batch_timing') }} as t
    inner join {{ ref('policy_catalog') }} as c using (policy_id)
),

timed as (
    select
        f.*,
        c.timing_coding,
        c.is_selected_coding,
        tb.timing_verified,
        -- The selected coding without a row for this batch is a configuration error, never a silent
        -- "untreated"; an alternative coding without one simply has no cohort for that batch.
        case
            when c.is_selected_coding then coalesce(
                tu.effective_year, tb.effective_year,
                error('no effective year for policy ' || f.policy_id || ', batch ' || f.batch
                      || ' under timing coding ' || c.timing_coding || ' (see seed policy_batch_timing)'))
            else coalesce(tu.effective_year, tb.effective_year)
        end as effective_year
    from filtered as f
    inner join codings as c using (policy_id)
    left join {{ ref('policy_batch_timing') }} as tb
        on tb.policy_id = f.policy_id and tb.timing_coding = c.timing_coding and tb.batch = f.batch
        and tb.unit_name_cn is null
    left join {{ ref('policy_batch_timing') }} as tu
        on tu.policy_id = f.policy_id and tu.timing_coding = c.timing_coding and tu.batch = f.batch
        and tu.unit_name_cn = f.unit_name_cn
),

ranked as (
    select
        *,
        -- The listing that sets the cohort: earliest year, then full before partial coverage, listed
        -- before expanded, higher confidence.
        row_number() over (
            partition by policy_id, timing_coding, city_code
            order by effective_year, (coverage = 'partial'), is_expanded,
                     case confidence when 'high' then 1 when 'medium' then 2 else 3 end, batch, unit_name_cn
        ) as listing_rank
    from timed
    where effective_year is not null
),

aggregated as (
    select
        policy_id,
        timing_coding,
        city_code,
        count(*) as n_listings,
        count(distinct batch) as n_batches,
        string_agg(batch || ': ' || unit_name_cn || ' -> ' || effective_year, '; '
                   order by effective_year, batch, unit_name_cn) as listings
    from ranked
    group by policy_id, timing_coding, city_code
),

final as (
    select
        r.policy_id,
        r.city_code,
        r.effective_year as first_treat_year,
        r.batch as first_batch,
        r.unit_name_cn as first_unit_name_cn,
        r.unit_level as first_unit_level,
        r.coverage,
        r.is_expanded,
        r.confidence,
        r.verification_status,
        r.timing_coding,
        r.is_selected_coding,
        r.timing_verified,
        a.n_listings,
        a.n_batches,
        a.listings
    from ranked as r
    inner join aggregated as a using (policy_id, timing_coding, city_code)
    where r.listing_rank = 1
)

select * from final
