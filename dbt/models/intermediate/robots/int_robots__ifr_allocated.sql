-- IFR robots per concordance code after the pro-rata allocation of the unspecified codes, by country x year:
-- the published value of a concordance code, else the sum of its sub-codes (19-22 from 19, 20-21, 22); each code
-- of var('robot_unspecified_codes') (default 99 and 91) spread over the specified concordance codes under the same
-- IFR parent (99: all codes; 91: the manufacturing codes), pro rata to their own counts. [] keeps them out.
{%- set unspecified = var('robot_unspecified_codes', ['99', '91']) %}
{%- set unspecified_sql %}({% for c in unspecified %}'{{ c }}'{% if not loop.last %}, {% endif %}{% else %}''{% endfor %}){% endset %}

with industries as (
    select ifr_code, parent_code, try_cast(level as integer) as level, gbt4754_2002_section as gbt_section
    from {{ ref('ifr_industries') }}
),

robots as (
    select country, industry_code as ifr_code, year, installations, operational_stock as stock
    from {{ ref('stg_ifr__robots') }}
),

concordance as (
    select * from {{ ref('ifr_gbt_concordance') }}
),

leaf_codes as (
    select distinct ifr_code from concordance
),

---------- robots per concordance code: the published value, else the sum of its sub-codes
published as (
    select r.* from robots as r semi join leaf_codes as l using (ifr_code)
),

sub_sums as (
    select r.country, r.year, i.parent_code as ifr_code, sum(r.installations) as installations,
           sum(r.stock) as stock
    from robots as r
    inner join industries as i using (ifr_code)
    where i.parent_code in (select ifr_code from leaf_codes)
    group by all
),

leaf as (
    select
        coalesce(p.country, s.country) as country,
        coalesce(p.year, s.year) as year,
        coalesce(p.ifr_code, s.ifr_code) as ifr_code,
        coalesce(p.installations, s.installations) as installations,
        coalesce(p.stock, s.stock) as stock
    from published as p
    full outer join sub_sums as s using (country, year, ifr_code)
),

specified as (
    select l.*, i.parent_code
    from leaf as l
    inner join industries as i using (ifr_code)
    where l.ifr_code not in {{ unspecified_sql }}
),

---------- pro-rata allocation of the unspecified codes over the specified codes under the same parent
unspecified as (
    select r.country, r.year, r.ifr_code as u_code, i.parent_code as u_parent, r.installations as u_inst,
           r.stock as u_stock
    from robots as r
    inner join industries as i using (ifr_code)
    where r.ifr_code in {{ unspecified_sql }}
),

pairs as (
    select s.country, s.year, s.ifr_code, s.installations, s.stock, u.u_code, u.u_inst, u.u_stock,
           sum(s.installations) over (partition by s.country, s.year, u.u_code) as under_inst,
           sum(s.stock) over (partition by s.country, s.year, u.u_code) as under_stock
    from specified as s
    inner join unspecified as u
        on s.country = u.country and s.year = u.year and (u.u_parent = 'All' or s.parent_code = u.u_parent)
),

allocated as (
    select country, year, ifr_code,
           sum(u_inst * installations / nullif(under_inst, 0)) as add_inst,
           sum(u_stock * stock / nullif(under_stock, 0)) as add_stock
    from pairs
    group by all
),

leaf_final as (
    select s.country, s.year, s.ifr_code,
           s.installations + coalesce(a.add_inst, 0) as installations,
           s.stock + coalesce(a.add_stock, 0) as stock
    from specified as s
    left join allocated as a using (country, year, ifr_code)
)

select country, year, ifr_code, installations, stock from leaf_final
