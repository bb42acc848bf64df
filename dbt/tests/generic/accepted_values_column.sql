{#- Model-level accepted_values, for columns of dynamically shaped models. -#}
{% test accepted_values_column(model, column, values) %}
select {{ column }} from {{ model }}
where {{ column }} not in ({% for v in values %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
{% endtest %}
