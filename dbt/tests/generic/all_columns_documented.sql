{#- Every column of the model has a row in marts.variable_dictionary. -#}
{% test all_columns_documented(model) %}
select column_name
from information_schema.columns
where table_schema = '{{ model.schema }}' and table_name = '{{ model.identifier }}'
  and column_name not in (select variable from {{ ref('variable_dictionary') }})
{% endtest %}
