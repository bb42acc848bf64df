{#- Fail a model whose rows still lack a city_code, listing every unresolved name with the file, sheet
    and row it was read from (the not_null test alone only counts them, and its dbt_test__audit table
    vanishes with the failed staging copy of the warehouse). Used as a post-hook, so the message is the
    dbt error the build prints. The model needs year, source_file, sheet and source_row columns.
    `name_columns`: the name as written, then qualifiers shown when not null
    (province, printed code); at most `limit` names are listed, with their cell count and first location. -#}
{% macro fail_on_unresolved_names(name_columns, limit=200) %}
    {%- if execute %}
        {%- set sql -%}
            select
                coalesce({{ name_columns[0] }}, '(blank)')
                {%- for c in name_columns[1:] %} || coalesce(', {{ c }} ' || {{ c }}, ''){% endfor %} as name,
                year,
                count(*) as n_cells,
                arg_min('file ' || source_file || ', sheet ' || coalesce('''' || sheet || '''', '-') || ', row '
                        || coalesce(cast(source_row as varchar), '-'),
                        source_file || '|' || coalesce(sheet, '') || '|' || lpad(coalesce(cast(source_row as varchar), ''), 12, '0'))
                    as first_seen
            from {{ this }}
            where city_code is null
            group by all
            order by name, year
        {%- endset %}
        {%- set rows = run_query(sql).rows %}
        {%- if rows | length > 0 %}
            {%- set lines = [] %}
            {%- for r in rows[:limit] %}
                {%- do lines.append("  " ~ r[0] ~ " (data year " ~ r[1] ~ ", " ~ r[2] ~ " cells; first at " ~ r[3] ~ ")") %}
            {%- endfor %}
            {%- if rows | length > limit %}{% do lines.append("  ... and " ~ (rows | length - limit) ~ " more") %}{% endif %}
            {{ exceptions.raise_compiler_error(
                (rows | length) ~ " city name(s) in " ~ this.identifier ~ " did not resolve to a city code "
                ~ "(exact match on dbt/seeds/crosswalk/city_name_aliases.csv, valid in the data year; "
                ~ "add the spelling there, or fix the file):\n" ~ (lines | join("\n"))) }}
        {%- endif %}
    {%- endif %}
{% endmacro %}
