-- Every published number of the seed papers in one long table (the five published_seed_00N seeds), with
-- the printed text kept and numeric casts beside it. The replication report joins the design layer's
-- specifications to these rows by (paper, table, column, dependent, term).

with unioned as (
    {% for n in ['000', '001', '002', '003', '004'] %}
    select * from {{ ref('published_seed_' ~ n) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        paper,
        "table" as table_id,
        "column" as column_id,
        model_label,
        dependent,
        term,
        estimate as estimate_printed,
        try_cast(estimate as double) as estimate,
        try_cast(se as double) as se,
        stars,
        try_cast(nobs as integer) as nobs,
        try_cast(r2 as double) as r2,
        fixed_effects,
        "cluster",
        sample,
        notes,
        coalesce(notes, '') like 'QUALITATIVE%' as is_qualitative
    from unioned
)

select * from final
