-- One row per (policy, city_code) treated under the coding options, with the first treated year (cohort):
-- the rows of int_policies__cohorts under the selected timing coding of each policy (options documented
-- there and in _policies__models.yml).

select * exclude (is_selected_coding)
from {{ ref('int_policies__cohorts') }}
where is_selected_coding
