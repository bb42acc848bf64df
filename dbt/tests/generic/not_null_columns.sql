{#- The table's required columns hold no nulls. One test per table rather than dbt's `not_null` per column:
    each dbt test is a node costing ~20 ms of dbt's Python and a check result in Dagster (docs/builds.md).
    Fails with one row per column that has nulls: the column's name and its number of null rows. -#}
{% test not_null_columns(model, column_names) %}
select column_name, null_rows
from (
    select
    {%- for name in column_names %}
        count(*) filter (where {{ adapter.quote(name) }} is null) as {{ adapter.quote(name) }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
) unpivot (null_rows for column_name in ({% for name in column_names %}{{ adapter.quote(name) }}{{ ", " if not loop.last }}{% endfor %}))
where null_rows > 0
{% endtest %}
