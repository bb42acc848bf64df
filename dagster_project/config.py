"""Runtime configuration from environment variables, resolved to absolute paths.

- `CARBONPANEL_RAW_DIR`: folder with the raw source files (default: the generated sample, `data/sample/`).
- `CARBONPANEL_WAREHOUSE`: DuckDB file (default: `warehouse/panel.duckdb`).

Relative values are taken relative to the project root, never to the current directory, because
dbt runs with `cwd=dbt/` and a relative DuckDB path would otherwise open a second file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_DIR = PROJECT_ROOT / "dbt"
DEFAULT_RAW_DIR = PROJECT_ROOT / "data" / "sample"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "warehouse" / "panel.duckdb"
DEFAULT_REPORTS_DIR = PROJECT_ROOT / "reports"

RAW_LAYOUT = """\
<CARBONPANEL_RAW_DIR>/
  yearbook/               China City Statistical Yearbook workbooks (中国城市统计年鉴<edition>.xlsx) and vendor panels
  ceads/city/             CEADs city inventory workbook (The_Emission_Inventories_for_290_Chinese_Cities_*.xlsx)
  ceads/provincial/       CEADs provincial inventories, one workbook per year
                          (Emission_Inventories_for_30_Provinces_<year>.xlsx)
  ceads/county/           County CO2 workbook (County_CO2_emissions_1997_2017.xlsx)
  ifr/                    IFR World Robotics export (country x industry x year)
  nightlights/dmsp/       DMSP-OLS stable-light GeoTIFFs, one per year
  nightlights/viirs/      VIIRS annual radiance GeoTIFFs, one per year
  boundaries/             city polygons (cities.geojson)
  urban_construction/     China Urban Construction Statistical Yearbook heating tables (<year>年城市建设统计年鉴.xlsx)
  transport/              transport energy intensities (CSV: year,region,mode,intensity,unit,fuel,source)
  historical/             optional: 1985 yearbook post-and-telecom table (中国城市统计年鉴-1985-<table>.xlsx)"""


def _resolve(value: str | None, default: Path) -> Path:
    """Turn an environment value into an absolute path, relative to the project root."""
    if not value:
        return default
    path = Path(value).expanduser()
    return path if path.is_absolute() else (PROJECT_ROOT / path)


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one process."""

    raw_dir: Path
    warehouse: Path
    reports_dir: Path

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from the environment (call at use time, not import time)."""
        return cls(
            raw_dir=_resolve(os.environ.get("CARBONPANEL_RAW_DIR"), DEFAULT_RAW_DIR).resolve(),
            warehouse=_resolve(os.environ.get("CARBONPANEL_WAREHOUSE"), DEFAULT_WAREHOUSE).resolve(),
            reports_dir=_resolve(os.environ.get("CARBONPANEL_REPORTS_DIR"), DEFAULT_REPORTS_DIR).resolve(),
        )


def settings() -> Settings:
    """Return the current settings."""
    return Settings.from_env()
