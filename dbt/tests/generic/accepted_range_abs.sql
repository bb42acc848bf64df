{#- Column values lie within [-max_abs, max_abs] (nulls pass). -#}
{% test accepted_range_abs(model, column_name, max_abs) %}
select {{ column_name }} from {{ model }}
where abs({{ column_name }}) > {{ max_abs }}
{% endtest %}
