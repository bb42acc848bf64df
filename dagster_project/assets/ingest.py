"""Ingestion assets: one per raw source table, each reading publisher files into schema `raw`.

Each asset calls a pure reader in `dagster_project.sources`, then replaces its raw table, its rows in
`raw.rejected_rows` and its file manifest in one transaction (`warehouse.replace_raw_table`).
A missing folder or file fails the asset with the path and the expected layout; nothing falls back
to the sample data. Optional sources (`IngestSpec.absent`: base-year employment, historical yearbooks)
build an empty table instead and log what that means. Readers are imported when an asset runs (pandas,
openpyxl and rasterio are not needed to load the definitions); each asset's code version is the hash of
its reader module. When a run ingests several sources, the first ingestion asset hands all of their
readers to worker processes (`sources.parallel.ReaderPool`) and each asset takes its own result.
"""


from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from dagster_project import dbt_runner
from dagster_project.assets.checks import CHECKED_KEYS, import_gx_in_background
from dagster_project.assets.dbt import DBT_KEYS
from dagster_project.metadata import table_metadata
from dagster_project.project import dbt_target_path
from dagster_project.resources import Warehouse
from dagster_project.sources.parallel import ReaderPool, read_source
from dagster_project.versions import SOURCE_FOLDER, code_version_of, file_sha256
from dagster_project.warehouse import replace_raw_table

if TYPE_CHECKING:
    from dagster_project.sources.common import LoadResult

SOURCES_DIR = Path(__file__).resolve().parents[1] / "sources"
YEARBOOK_DICTIONARY = SOURCES_DIR / "yearbook_dictionary.yaml"


@dataclass(frozen=True)
class IngestSpec:
    """How one raw table is produced: its source folder and the reader that parses it."""

    table: str
    source: str
    subdir: str
    reader: str          # "<module>:<function>", imported when the asset runs
    description: str
    modules: tuple[str, ...]   # the reader modules in dagster_project/sources/ its code version covers
    absent: str | None = None  # an optional source: what building without its files means (logged); None = required

    def read(self, folder: Path) -> "LoadResult":
        """Import the reader and parse the folder."""
        return read_source(self.reader, folder)

    @property
    def code_version(self) -> str:
        """The hash of the reader's modules and the shared reader code (a changed reader rebuilds its table)."""
        shared = ("common", "names", "xlsx")
        return code_version_of(*(SOURCES_DIR / f"{m}.py" for m in sorted({*self.modules, *shared})),
                               Path(__file__))


def read_nightlights_beside_boundaries(folder: Path) -> "LoadResult":
    """Zonal statistics need the polygons: read them from the sibling boundaries folder."""
    from dagster_project.sources.boundaries import read_boundaries
    from dagster_project.sources.nightlights import read_nightlights

    boundaries = read_boundaries(folder.parent / "boundaries").table
    return read_nightlights(folder, boundaries)


SPECS: list[IngestSpec] = [
    IngestSpec("yearbook_indicators", "yearbook", "yearbook", "dagster_project.sources.yearbook:read_yearbook",
               "China City Statistical Yearbook indicators (all editions and vendor panels), long format, "
               "values in canonical units with the raw cell kept.",
               ("yearbook",)),
    IngestSpec("ceads_city_emissions", "ceads", "ceads/city", "dagster_project.sources.ceads:read_city_inventory",
               "CEADs city CO2 inventory (sheet `emission vector`), names as published.",
               ("ceads",)),
    IngestSpec("ceads_provincial_emissions", "ceads", "ceads/provincial",
               "dagster_project.sources.ceads:read_provincial_inventories",
               "CEADs provincial sectoral inventories (all years, both label layouts), sector x fuel.",
               ("ceads",)),
    IngestSpec("ceads_county_emissions", "ceads", "ceads/county", "dagster_project.sources.ceads:read_county_emissions",
               "County-level CO2 (Chen et al. 2020), long format.",
               ("ceads",)),
    IngestSpec("ifr_robots", "ifr", "ifr", "dagster_project.sources.ifr:read_ifr",
               "IFR World Robotics installations and operational stock, country x industry x year.",
               ("ifr",)),
    IngestSpec("city_boundaries", "boundaries", "boundaries", "dagster_project.sources.boundaries:read_boundaries",
               "City polygons (WKT) with area and centroid.",
               ("boundaries", "codes")),
    IngestSpec("nightlights", "nightlights", "nightlights",
               "dagster_project.assets.ingest:read_nightlights_beside_boundaries",
               "Zonal night-light statistics per city, year and sensor (DMSP, VIIRS).",
               ("nightlights", "boundaries", "codes")),
    IngestSpec("urban_construction_heating", "urban_construction", "urban_construction",
               "dagster_project.sources.urban_construction:read_urban_construction",
               "China Urban Construction Statistical Yearbook central-heating table (heat supplied: steam, hot "
               "water total / CHP / boiler houses), long format, names as printed.",
               ("urban_construction",)),
    IngestSpec("transport_energy_intensity", "transport", "transport",
               "dagster_project.sources.transport_intensity:read_transport_intensity",
               "User-supplied transport energy intensities (kgce per passenger-km / tonne-km) with their source.",
               ("transport_intensity",)),
    IngestSpec("base_employment", "ifr", "employment", "dagster_project.sources.employment:read_base_employment",
               "Base-year employment by city x GB/T 4754 two-digit industry from <raw>/employment/ "
               "(optional: without it robot exposure falls back to yearbook sections).",
               ("employment", "codes"), absent="robot exposure uses yearbook sections"),
    IngestSpec("historical_city_indicators", "historical", "historical",
               "dagster_project.sources.historical:read_historical",
               "1984 city post-and-telecom volume and telephones per 100 people (China City Statistical Yearbook "
               "1985) from <raw>/historical/ (optional: without it seed 000's IV specifications are not estimable).",
               ("historical", "urban_construction"),
               absent="seed 000's 2SLS specifications will be recorded as not estimable"),
]


# Zonal statistics need the city polygons: these assets run after raw/city_boundaries.
AFTER_BOUNDARIES = frozenset({"nightlights"})

# The reader pool of the run in progress (one run at a time per process: the CLI, a UI run worker, a test).
_POOLS: dict[str, ReaderPool | None] = {}
# Runs whose dbt child starts once a first source is written.
_DBT_AHEAD: set[str] = set()


def _run_started(context: dg.AssetExecutionContext, warehouse: Warehouse) -> ReaderPool | None:
    """At the run's first ingestion asset, start what later steps will need; return the run's reader pool.

    The readers go to a pool of workers when the run ingests two or more sources. While they read, the
    build process would mostly wait: it imports Great Expectations for the checks (~1.7 s on the critical
    path otherwise) and, once a first source is written (`_source_written`), starts the dbt child.
    """
    run_id = context.run_id
    if run_id in _POOLS:
        return _POOLS[run_id]
    for stale in [r for r in _POOLS if r != run_id]:
        pool = _POOLS.pop(stale)
        if pool is not None:
            pool.close()
        _DBT_AHEAD.discard(stale)   # a run that wrote no source
    # A run launched on the whole asset job names its subset in the run; a job built for a selection
    # (the CLI's) leaves that empty and holds only the selected assets.
    selection = set(context.dagster_run.asset_selection or context.job_def.asset_layer.selected_asset_keys)
    raw_dir = Path(warehouse.raw_dir)
    # In the order the steps will take them: the in-process executor runs the steps that are ready by step
    # key (night lights waits for the boundaries step). Largest folder first kept the first step waiting
    # for small sources queued behind the big ones, with the build process idle; in this order it writes
    # each table and runs its check while the workers read the next sources.
    specs = sorted((s for s in SPECS if dg.AssetKey(["raw", s.table]) in selection),
                   key=lambda s: (s.table in AFTER_BOUNDARIES, s.table))
    jobs = {s.table: (s.reader, raw_dir / s.subdir) for s in specs}
    _POOLS[run_id] = ReaderPool(jobs) if len(jobs) >= 2 else None
    if selection & DBT_KEYS:
        _DBT_AHEAD.add(run_id)
    if selection & CHECKED_KEYS:
        import_gx_in_background()
    return _POOLS[run_id]


def _source_written(run_id: str, warehouse: Warehouse) -> None:
    """After the run's first source is written, start its dbt child (import and parse, ~2.3 s of a core).

    Not at the first step: a build whose first source fails (bad input) would have parsed for nothing.
    Ingestion after the first source still lasts seconds, time enough for the child to be ready.
    """
    if run_id in _DBT_AHEAD:
        _DBT_AHEAD.discard(run_id)
        dbt_runner.prewarm(run_id, warehouse=warehouse.active_path, target=dbt_target_path(Path(warehouse.path)))


def make_ingest_asset(spec: IngestSpec) -> dg.AssetsDefinition:
    """Build the ingestion asset for one raw table."""
    deps = [dg.AssetKey(["raw", "city_boundaries"])] if spec.table in AFTER_BOUNDARIES else []

    @dg.asset(
        key=["raw", spec.table],
        group_name=spec.source,
        kinds={"python", "duckdb"},
        description=spec.description,
        deps=deps,
        code_version=spec.code_version,
        metadata={"source": spec.source, "folder": f"<CARBONPANEL_RAW_DIR>/{spec.subdir}/",
                  SOURCE_FOLDER: spec.subdir},
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        folder = Path(warehouse.raw_dir) / spec.subdir
        pool = _run_started(context, warehouse)
        if pool is not None and spec.table in pool:
            result = pool.take(spec.table, lambda: spec.read(folder))
        else:
            result = spec.read(folder)
        if spec.absent and not result.files:
            context.log.warning(f"no files in {folder} (optional source): {spec.absent}")
        files = [(str(p), p.stat().st_size, file_sha256(p)) for p in result.files]
        with warehouse.connection() as conn:
            replace_raw_table(conn, spec.table, result.table, asset=spec.table, rejected=result.rejected,
                              files=files)
            meta = table_metadata(conn, "raw", spec.table, rejected_asset=spec.table)
        context.log.info(f"raw.{spec.table}: {len(result.table)} rows, {len(result.rejected)} rejected")
        _source_written(context.run_id, warehouse)
        return dg.MaterializeResult(metadata={
            **meta,
            "files": dg.MetadataValue.json([{"file": f, "bytes": b, "sha256": h} for f, b, h in files]),
            "folder": str(folder),
        })

    return _asset


@dg.asset(key=["raw", "yearbook_dictionary"], group_name="yearbook", kinds={"python", "duckdb"},
          code_version=code_version_of(YEARBOOK_DICTIONARY, SOURCES_DIR / "yearbook.py", Path(__file__)),
          description="The yearbook data dictionary (sources/yearbook_dictionary.yaml) as a table.")
def yearbook_dictionary(warehouse: Warehouse) -> dg.MaterializeResult:
    """Load the YAML data dictionary so dbt can document every yearbook column of the panel."""
    import pandas as pd

    from dagster_project.sources.yearbook import load_dictionary

    # The reader's own parser: one way of reading the dictionary.
    dictionary = load_dictionary(YEARBOOK_DICTIONARY)
    rows = [{"variable": v.name, "code": v.code, "label_cn": v.label_zh, "label_en": v.label_en, "unit": v.unit,
             "kind": v.kind, "canonical_scope": v.scopes[0] if v.scopes else None, "scopes": ",".join(v.scopes),
             "source": "China City Statistical Yearbook (中国城市统计年鉴)"} for v in dictionary.variables.values()]
    df = pd.DataFrame(rows)
    with warehouse.connection() as conn:
        replace_raw_table(conn, "yearbook_dictionary", df, asset="yearbook_dictionary",
                          files=[(str(YEARBOOK_DICTIONARY), YEARBOOK_DICTIONARY.stat().st_size,
                                  file_sha256(YEARBOOK_DICTIONARY))])
        meta = table_metadata(conn, "raw", "yearbook_dictionary")
    return dg.MaterializeResult(metadata=meta)


EXTENSION_COLUMNS = ["city_code", "city_cn", "city_short", "city_en", "province_code", "level", "seat_lon",
                     "seat_lat", "source"]


@dg.asset(key=["raw", "city_extensions"], group_name="cities", kinds={"python", "duckdb"},
          code_version=code_version_of(Path(__file__)), metadata={SOURCE_FOLDER: "cities"},
          description="Optional extra prefecture-level units from <raw>/cities/*.csv (empty if the folder is absent).")
def city_extensions(warehouse: Warehouse) -> dg.MaterializeResult:
    """Load user-supplied units beyond the reference seed; this source is optional by design."""
    import pandas as pd

    from dagster_project.sources.common import SourceFormatError

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
                          files=[(str(f), f.stat().st_size, file_sha256(f)) for f in files])
        meta = table_metadata(conn, "raw", "city_extensions", rejected_asset="city_extensions")
    return dg.MaterializeResult(metadata={**meta, "files": len(files)})


ingest_assets = [make_ingest_asset(s) for s in SPECS] + [yearbook_dictionary, city_extensions]
