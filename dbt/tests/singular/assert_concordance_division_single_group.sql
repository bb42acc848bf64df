-- Each GB/T division belongs to one exposure group per edition, so robots and employment meet on one industry.
select gbt_version, gbt_division, count(distinct exposure_group) as n_groups
from {{ ref('ifr_gbt_concordance') }}
group by gbt_version, gbt_division
having count(distinct exposure_group) > 1
