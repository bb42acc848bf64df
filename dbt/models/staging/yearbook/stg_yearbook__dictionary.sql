with source as (
    select * from {{ source('yearbook', 'yearbook_dictionary') }}
)

select variable, code, label_cn, label_en, unit, kind, canonical_scope, scopes, source
from source
