"""Ingestion assets: one per raw source table, each reading publisher files into schema `raw`.

Each asset calls a pure reader in `dagster_project.sources`, then replaces its raw table, its rows in
`raw.rejected_rows` and its file manifest in one transaction (`warehouse.replace_raw_table`).
A missing folder or file fails the asset with the path and the expected layout; nothing falls back
to the sample data.
"""


import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd

from dagster_project.resources import Warehouse
from dagster_project.sources.boundaries import read_boundaries
from dagster_project.sources.ceads import read_city_inventory, read_county_emissions, read_provincial_inventories
from dagster_project.sources.common import LoadResult, SourceFormatError
from dagster_project.sources.employment import read_base_employment
from dagster_project.sources.ifr import read_ifr
from dagster_project.sources.nightlights import read_nightlights
from dagster_project.sources.transport_intensity import read_transport_intensity
from dagster_project.sources.urban_construction import read_urban_construction
from dagster_project.sources.yearbook import DICTIONARY_PATH as YEARBOOK_DICTIONARY
from dagster_project.sources.yearbook import load_dictionary, read_yearbook
from dagster_project.warehouse import replace_raw_table


def _sha256(path: Path) -> str:
    """Hash a source file for the provenance manifest."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class IngestSpec:
    """How one raw table is produced: its source folder and the reader that parses it."""

    table: str
    source: str
    subdir: str
    reader: Callable[[Path], LoadResult]
    description: str


def _read_nightlights(folder: Path) -> LoadResult:
    """Zonal statistics need the polygons: read them from the sibling boundaries folder."""
    boundaries = read_boundaries(folder.parent / "boundaries").table
    return read_nightlights(folder, boundaries)


SPECS: list[IngestSpec] = [
    IngestSpec("yearbook_indicators", "yearbook", "yearbook", read_yearbook,
               "China City Statistical Yearbook indicators (all editions and vendor panels), long format, "
               "values in canonical units with the raw cell kept."),
    IngestSpec("ceads_city_emissions", "ceads", "ceads/city", read_city_inventory,
               "CEADs city CO2 inventory (sheet `emission vector`), names as published."),
    IngestSpec("ceads_provincial_emissions", "ceads", "ceads/provincial", read_provincial_inventories,
               "CEADs provincial sectoral inventories (all years, both label layouts), sector x fuel."),
    IngestSpec("ceads_county_emissions", "ceads", "ceads/county", read_county_emissions,
               "County-level CO2 (Chen et al. 2020), long format."),
    IngestSpec("ifr_robots", "ifr", "ifr", read_ifr,
               "IFR World Robotics installations and operational stock, country x industry x year."),
    IngestSpec("city_boundaries", "boundaries", "boundaries", read_boundaries,
               "City polygons (WKT) with area and centroid."),
    IngestSpec("nightlights", "nightlights", "nightlights", _read_nightlights,
               "Zonal night-light statistics per city, year and sensor (DMSP, VIIRS)."),
    IngestSpec("urban_construction_heating", "urban_construction", "urban_construction", read_urban_construction,
               "China Urban Construction Statistical Yearbook central-heating table (heat supplied: steam, hot "
               "water total / CHP / boiler houses), long format, names as printed."),
    IngestSpec("transport_energy_intensity", "transport", "transport", read_transport_intensity,
               "User-supplied transport energy intensities (kgce per passenger-km / tonne-km) with their source."),
]


def make_ingest_asset(spec: IngestSpec) -> dg.AssetsDefinition:
    """Build the ingestion asset for one raw table."""
    deps = [dg.AssetKey(["raw", "city_boundaries"])] if spec.table == "nightlights" else []

    @dg.asset(
        key=["raw", spec.table],
        group_name=f"ingest_{spec.source}",
        kinds={"python", "duckdb"},
        description=spec.description,
        deps=deps,
        metadata={"source": spec.source, "folder": f"<CARBONPANEL_RAW_DIR>/{spec.subdir}/"},
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        folder = Path(warehouse.raw_dir) / spec.subdir
        result = spec.reader(folder)
        files = [(str(p), p.stat().st_size, _sha256(p)) for p in result.files]
        with warehouse.connection() as conn:
            replace_raw_table(conn, spec.table, result.table, asset=spec.table, rejected=result.rejected,
                              files=files)
        context.log.info(f"raw.{spec.table}: {len(result.table)} rows, {len(result.rejected)} rejected")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": len(result.table),
            "rejected_rows": len(result.rejected),
            "files": dg.MetadataValue.json([{"file": f, "bytes": b, "sha256": h} for f, b, h in files]),
            "folder": str(folder),
        })

    return _asset


@dg.asset(key=["raw", "yearbook_dictionary"], group_name="ingest_yearbook", kinds={"python", "duckdb"},
          description="The yearbook data dictionary (sources/yearbook_dictionary.yaml) as a table.")
def yearbook_dictionary(warehouse: Warehouse) -> dg.MaterializeResult:
    """Load the YAML data dictionary so dbt can document every yearbook column of the panel."""
    # The reader's own parser: one way of reading the dictionary.
    dictionary = load_dictionary(YEARBOOK_DICTIONARY)
    rows = [{"variable": v.name, "code": v.code, "label_cn": v.label_zh, "label_en": v.label_en, "unit": v.unit,
             "kind": v.kind, "canonical_scope": v.scopes[0] if v.scopes else None, "scopes": ",".join(v.scopes),
             "source": "China City Statistical Yearbook (中国城市统计年鉴)"} for v in dictionary.variables.values()]
    df = pd.DataFrame(rows)
    with warehouse.connection() as conn:
        replace_raw_table(conn, "yearbook_dictionary", df, asset="yearbook_dictionary",
                          files=[(str(YEARBOOK_DICTIONARY), YEARBOOK_DICTIONARY.stat().st_size,
                                  _sha256(YEARBOOK_DICTIONARY))])
    return dg.MaterializeResult(metadata={"dagster/row_count": len(df)})


EXTENSION_COLUMNS = ["city_code", "city_cn", "city_short", "city_en", "province_code", "level", "seat_lon",
                     "seat_lat", "source"]


@dg.asset(key=["raw", "city_extensions"], group_name="ingest_cities", kinds={"python", "duckdb"},
          description="Optional extra prefecture-level units from <raw>/cities/*.csv (empty if the folder is absent).")
def city_extensions(warehouse: Warehouse) -> dg.MaterializeResult:
    """Load user-supplied units beyond the reference seed; this source is optional by design."""
    folder = Path(warehouse.raw_dir) / "cities"
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    frames = []
    for f in files:
        df = pd.read_csv(f, dtype={"city_code": str, "province_code": str})
        missing = [c for c in EXTENSION_COLUMNS if c not in df.columns]
        if missing:
            raise SourceFormatError(f, f"missing columns {missing}", row=1, expected=", ".join(EXTENSION_COLUMNS))
        frames.append(df[EXTENSION_COLUMNS])
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {c: pd.Series(dtype="float64" if c.startswith("seat_") else "string") for c in EXTENSION_COLUMNS})
    with warehouse.connection() as conn:
        replace_raw_table(conn, "city_extensions", table, asset="city_extensions",
                          files=[(str(f), f.stat().st_size, _sha256(f)) for f in files])
    return dg.MaterializeResult(metadata={"dagster/row_count": len(table), "files": len(files)})


@dg.asset(key=["raw", "base_employment"], group_name="ingest_employment", kinds={"python", "duckdb"},
          description="Base-year employment by city x GB/T 4754 two-digit industry from <raw>/employment/ "
                      "(optional: without it robot exposure falls back to yearbook sections).")
def base_employment(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Load the robot-exposure base shares; an absent folder is allowed and logged, not an error."""
    folder = Path(warehouse.raw_dir) / "employment"
    result = read_base_employment(folder)
    if not result.files:
        context.log.warning(f"no base-employment files in {folder}: robot exposure uses yearbook sections")
    files = [(str(p), p.stat().st_size, _sha256(p)) for p in result.files]
    with warehouse.connection() as conn:
        replace_raw_table(conn, "base_employment", result.table, asset="base_employment",
                          rejected=result.rejected, files=files)
    return dg.MaterializeResult(metadata={"dagster/row_count": len(result.table),
                                          "rejected_rows": len(result.rejected), "files": len(files)})


ingest_assets = [make_ingest_asset(s) for s in SPECS] + [yearbook_dictionary, city_extensions, base_employment]
