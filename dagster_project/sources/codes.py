"""Administrative-code resolution shared by sources that key their rows by a GB/T 2260 code, not a name.

Publishers code the same unit differently: the 2010/2020 census and most boundary files code the four
municipalities by their 市辖区 code (110100) while the panel uses the province code (110000); province-governed
county-level units (济源 419001, the <pp>90xx codes) belong to no prefecture. `resolve_unit_code` maps a code
as published to the panel's unit and says what kind of unit it is, or why it cannot be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

SEEDS = Path(__file__).resolve().parents[2] / "dbt" / "seeds"
OUTSIDE_PANEL = {"710000": "Taiwan", "810000": "Hong Kong", "820000": "Macao"}


@dataclass(frozen=True)
class ResolvedCode:
    """A code as the panel uses it: unit code, kind ('city', 'county_level_unit', 'province') and province."""

    code: str
    kind: str
    province_code: str


@dataclass(frozen=True)
class _Tables:
    """The reference codes: cities (incl. abolished ones), municipalities, county-level units, provinces."""

    cities: dict[str, str]
    municipalities: frozenset[str]
    county_units: dict[str, str]
    provinces: frozenset[str]


@cache
def _tables() -> _Tables:
    """Load the reference seeds once (codes as strings)."""
    cities = pd.read_csv(SEEDS / "reference" / "cities.csv", dtype=str)
    historic = pd.read_csv(SEEDS / "crosswalk" / "historic_cities.csv", dtype=str)
    county = pd.read_csv(SEEDS / "crosswalk" / "county_level_units.csv", dtype=str)
    provinces = pd.read_csv(SEEDS / "reference" / "provinces.csv", dtype=str)
    city_map = dict(zip(cities["city_code"], cities["province_code"], strict=True))
    city_map.update({c: p for c, p in zip(historic["city_code"], historic["province_code"], strict=True)
                     if c not in city_map})
    return _Tables(cities=city_map,
                   municipalities=frozenset(cities.loc[cities["level"] == "municipality", "city_code"]),
                   county_units=dict(zip(county["unit_code"], county["province_code"], strict=True)),
                   provinces=frozenset(provinces["province_code"]))


def extension_cities(raw_dir: Path) -> dict[str, str]:
    """City code -> province code of the user-supplied extra units in `<raw>/cities/*.csv` (may be empty)."""
    folder = Path(raw_dir) / "cities"
    out: dict[str, str] = {}
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        df = pd.read_csv(path, dtype=str, usecols=["city_code", "province_code"])
        out.update(zip(df["city_code"], df["province_code"], strict=True))
    return out


def resolve_unit_code(code: str, *, level: str = "city", extra_cities: dict[str, str] | None = None
                      ) -> ResolvedCode | str:
    """Map a published 6-digit code to the panel's unit (`level` 'city' or 'province'), or return why not.

    `extra_cities` (code -> province) are units beyond the seeds, e.g. from `extension_cities`.
    """
    t = _tables()
    if level == "province":
        if code in t.provinces:
            return ResolvedCode(code, "province", code)
        return f"{code} is not a province code of the reference seed provinces.csv"
    if code in t.cities:
        return ResolvedCode(code, "city", t.cities[code])
    if extra_cities and code in extra_cities:
        return ResolvedCode(code, "city", extra_cities[code])
    muni = code[:2] + "0000"
    # Municipalities: the census and GIS files use the 市辖区 code <pp>0100 (or <pp>0000 itself).
    if muni in t.municipalities and code[2:] in ("0100", "0000"):
        return ResolvedCode(muni, "city", muni)
    if code in t.county_units:
        return ResolvedCode(code, "county_level_unit", t.county_units[code])
    # GB/T 2260 numbers province-governed county-level units <pp>90xx (省直辖县级行政区划).
    if code[2:4] == "90" and muni in t.provinces:
        return ResolvedCode(code, "county_level_unit", muni)
    if code[:2] + "0000" in OUTSIDE_PANEL:
        return f"{code} is in {OUTSIDE_PANEL[code[:2] + '0000']}, outside the panel"
    return (f"{code} is neither a prefecture-level unit (cities.csv, historic_cities.csv, <raw>/cities/), a "
            "municipality district code, nor a province-governed county-level unit (county_level_units.csv, <pp>90xx)")
