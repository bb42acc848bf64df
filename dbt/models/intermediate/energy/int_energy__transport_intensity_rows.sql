-- The supplied intensity rows with the province their region names: a region that is neither 全国 nor a
-- known province keeps a null province and fails the test on this model, which lists it.
select
    s.*,
    p.province_code as region_province_code,
    s.region in ('全国', 'national', 'China') as is_national
from {{ ref('stg_transport__energy_intensity') }} as s
left join {{ ref('provinces') }} as p on s.region in (p.province_code, p.province_cn, p.province_short)
