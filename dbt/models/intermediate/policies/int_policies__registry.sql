-- The policy treatment registry: one row per (policy, batch, listed unit, prefecture row) of the shared
-- policy lists (shared/policies/*.csv, loaded as the policy_* seeds), with the prefecture `city_code`,
-- coverage, verification status and the effective year under the default timing coding.
--
-- Rules (shared/policies/README.md, Conventions; seed spec 003 §6.1 "Mapping rules that need explicit code"):
-- * Every list row is kept: summary rows of province/cluster units, unverified entries and EXPANDED rows
--   included. What a row does to the treatment panel is decided downstream (int_policies__treated_units).
-- * `prefecture_city_cn` is resolved EXACTLY through int_cities__name_lookup (spellings shared by several
--   units, n_codes > 1, are not used). Sub-prefecture units are resolved through the parent the list
--   writes in prefecture_city_cn (e.g. 长阳土家族自治县 -> 宜昌市; the 宜城市 typo of GitHub file
--   #17107080127 is only mentioned in the notes, the list's parent is 宣城市). Names that need a rule
--   are handled in `name_rules` below; any other name that does not resolve keeps a null city_code and
--   fails the not_null test on city_code (which stores and lists the rows).
-- * coverage: a district or county listing covers only part of its parent prefecture (partial).
with source as (
    {% set lists = ['bigdata_pilot_zone', 'broadband_china', 'low_carbon_city', 'smart_city',
                    'carbon_ets_pilot', 'lianghua_ronghe_zone', 'innovative_city', 'digital_green_pilot'] %}
    {% for list in lists %}
    select '{{ list }}.csv' as list_file, * from {{ ref('policy_' ~ list) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

renamed as (
    select
        policy_id,
        list_file,
        batch,
        announce_date,
        province,
        unit_name_cn,
        unit_level,
        prefecture_city_cn,
        -- README: rows whose notes start with EXPANDED are not listed in the notice; they spread a
        -- province or cluster unit over its prefectures following the cited source's coding.
        coalesce(starts_with(notes, 'EXPANDED'), false) as is_expanded,
        confidence,
        notes,
        source
    from source
),

-- Names that cannot go through the lookup as written (the README's conventions for these units):
-- * XPCC cities are written with their status in parentheses; the unit itself is resolved.
-- * 济源 is a county-level city governed by 河南 directly: it is its own unit (code 419001), not a prefecture.
-- * 琼中 (low-carbon batch 3) is a Hainan province-administered county: no prefecture parent exists.
name_rules (prefecture_city_cn, lookup_name, mapping_status, mapping_note) as (
    values
        ('阿拉尔市(自治区直辖县级市/兵团第一师)', '阿拉尔市', 'province_administered_unit',
         'XPCC county-level city governed by the region (兵团第一师); resolved as its own unit, no prefecture parent'),
        ('石河子市(自治区直辖县级市/兵团第八师)', '石河子市', 'province_administered_unit',
         'XPCC county-level city governed by the region (兵团第八师); resolved as its own unit, no prefecture parent'),
        ('五家渠市 (自治区直辖县级市)', '五家渠市', 'province_administered_unit',
         'XPCC (兵团) county-level city governed by the region; resolved as its own unit, no prefecture parent'),
        ('济源市', '济源市', 'province_administered_unit',
         'county-level city governed directly by 河南省; resolved as its own unit, not part of any prefecture'),
        ('(海南省直辖县)', null, 'no_prefecture_parent',
         'Hainan province-administered county (琼中黎族苗族自治县); GB/T 2260 has no prefecture-level parent')
),

mapped as (
    select
        r.*,
        case
            when nr.mapping_status is not null then nr.mapping_status
            -- "(all Henan prefectures; see expanded rows)" etc.: the province/cluster summary row
            when starts_with(r.prefecture_city_cn, '(') then 'summary_row'
            else 'prefecture'
        end as mapping_status,
        case
            when nr.mapping_status is not null then nr.lookup_name
            when starts_with(r.prefecture_city_cn, '(') then null
            else r.prefecture_city_cn
        end as lookup_name,
        case
            when nr.mapping_note is not null then nr.mapping_note
            when starts_with(r.prefecture_city_cn, '(')
                then 'province/cluster summary row; its prefectures are the EXPANDED rows (if any)'
        end as mapping_note
    from renamed as r
    left join name_rules as nr using (prefecture_city_cn)
),

lookup as (
    select alias, city_code
    from {{ ref('int_cities__name_lookup') }}
    where n_codes = 1
),

resolved as (
    select
        m.*,
        l.city_code
    from mapped as m
    left join lookup as l on l.alias = m.lookup_name
),

-- Effective year under each policy's default timing coding (policy_batch_timing.is_default); a
-- unit-specific row overrides the batch-level row of the same coding.
timing_batch as (
    select policy_id, batch, timing_coding, effective_year, timing_verified, batch_list_status
    from {{ ref('policy_batch_timing') }}
    where is_default and unit_name_cn is null
),

timing_unit as (
    select policy_id, batch, unit_name_cn, effective_year
    from {{ ref('policy_batch_timing') }}
    where is_default and unit_name_cn is not null
),

final as (
    select
        r.policy_id,
        r.batch,
        r.announce_date,
        coalesce(tu.effective_year, tb.effective_year) as effective_year,
        tb.timing_coding,
        tb.timing_verified,
        tb.batch_list_status,
        r.province,
        r.unit_name_cn,
        r.unit_level,
        r.prefecture_city_cn,
        r.lookup_name,
        r.mapping_status,
        r.mapping_note,
        r.city_code,
        d.city_cn,
        d.city_code is not null as in_dim_city,
        case
            when r.mapping_status not in ('prefecture', 'province_administered_unit') then 'not_mapped'
            when r.unit_level in ('district', 'county') and r.mapping_status = 'prefecture' then 'partial'
            else 'full'
        end as coverage,
        r.is_expanded,
        r.confidence,
        case
            when r.is_expanded then 'derived_expansion'
            when r.confidence = 'high' then 'verified'
            when r.confidence = 'medium' then 'single_source'
            else 'weak_source'
        end as verification_status,
        r.list_file,
        r.notes,
        r.source
    from resolved as r
    left join timing_batch as tb on tb.policy_id = r.policy_id and tb.batch = r.batch
    left join timing_unit as tu
        on tu.policy_id = r.policy_id and tu.batch = r.batch and tu.unit_name_cn = r.unit_name_cn
    left join {{ ref('dim_city') }} as d on d.city_code = r.city_code
)

select * from final
