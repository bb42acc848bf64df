-- Transport energy intensities as supplied: kgce per passenger-km (passenger) or tonne-km (freight).
select
    cast(year as integer) as year,
    trim(region) as region,
    mode,
    cast(kgce_per_unit as double) as kgce_per_unit,
    cast(intensity as double) as intensity_as_supplied,
    unit as unit_as_supplied,
    fuel,
    source,
    source_file,
    cast("row" as bigint) as source_row
from {{ source('transport', 'transport_energy_intensity') }}
