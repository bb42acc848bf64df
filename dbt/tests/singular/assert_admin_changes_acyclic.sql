-- The administrative-change crosswalk has no cycles: following old_code → new_code (ignoring renames
-- that keep the code) never returns to the starting code.
with recursive edges as (
    select distinct old_code, new_code from {{ ref('admin_changes') }}
    where old_code is not null and new_code is not null and old_code <> new_code
),

walk(start_code, current_code, depth) as (
    select old_code, new_code, 1 from edges
    union all
    select w.start_code, e.new_code, w.depth + 1
    from walk as w
    inner join edges as e on e.old_code = w.current_code
    where w.depth < 50
)

select start_code from walk where current_code = start_code
