"""Base-year employment by city x GB/T 4754 two-digit industry (the robot-exposure base shares).

Written as `employment/base_employment_<year>.csv` (UTF-8, one row per city x division, employment in persons),
in the layout documented in docs/robot-exposure.md, the shape a tabulation of the 2004 economic census
(第一次全国经济普查) or of firm-level data takes: `year, city_code, city_name, industry_code, industry_name,
classification, employment`. National totals are rows with city_code 000000 (全国). Numbers come from the
planted truth (`Truth.base_employment`, sample/dgp.py), rounded to whole persons.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dagster_project.sample.dgp import (
    BASE_GBT_VERSION,
    CONCORDANCE_CSV,
    ROBOT_BASE_YEAR,
    Truth,
)
from dagster_project.sample.files import write_text

UNMAPPED_NAMES = {"63": "批发业", "65": "零售业"}
NATIONAL_CODE, NATIONAL_NAME = "000000", "全国"


def write_base_employment(truth: Truth, out_dir: Path) -> list[Path]:
    """Write the base-year city x division employment CSV under `out_dir/employment/` and return its path."""
    if truth.base_employment is None:
        return []
    conc = pd.read_csv(CONCORDANCE_CSV, dtype=str)
    names = dict(zip(conc.loc[conc["gbt_version"] == BASE_GBT_VERSION, "gbt_division"],
                     conc.loc[conc["gbt_version"] == BASE_GBT_VERSION, "gbt_division_cn"], strict=False))
    names.update(UNMAPPED_NAMES)
    city_names = dict(zip(truth.cities["city_code"], truth.cities["city_cn"], strict=True))
    city_names[NATIONAL_CODE] = NATIONAL_NAME
    df = truth.base_employment
    out = pd.DataFrame({
        "year": ROBOT_BASE_YEAR,
        "city_code": df["city_code"],
        "city_name": df["city_code"].map(city_names),
        "industry_code": df["gbt_division"],
        "industry_name": df["gbt_division"].map(names),
        "classification": f"GB/T 4754-{BASE_GBT_VERSION}",
        "employment": (df["employment_10k"] * 1e4).round().astype("int64"),
    })
    path = Path(out_dir) / "employment" / f"base_employment_{ROBOT_BASE_YEAR}.csv"
    return [write_text(path, out.to_csv(index=False, lineterminator="\n"))]
