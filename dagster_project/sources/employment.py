"""Base-year employment by city x GB/T 4754 two-digit industry (`<raw>/employment/*.csv|*.xlsx`), optional.

The Bartik robot exposure (seed 004 eq. 21) weights industries by each city's base-year employment mix and
divides robots by national industry employment. Yearbooks publish employment by section only (manufacturing as
one number), so the fine mix comes from a tabulation of the 2004 economic census or of firm-level data. Layout
(docs/robot-exposure.md), one row per city x division, header names as below (case-insensitive; Chinese
headers 年份/城市代码/城市/行业代码/行业名称/分类标准/从业人员 also accepted):

    year, city_code, city_name, industry_code, industry_name, classification, employment

- `industry_code`: GB/T 4754 two-digit division (大类), "7" and "07" both mean 07;
- `classification`: "GB/T 4754-2002" or "GB/T 4754-2011" (or just 2002/2011);
- `employment`: persons (从业人员, whole or fractional numbers >= 0);
- `city_code`: GB/T 2260, resolved like every source (sources/codes.py: 110100 -> 110000, county-level
  units kept as their own rows); 000000 (全国) rows are the national industry totals.

Rejected rows: malformed or unknown codes, non-numeric or negative employment, unknown classification,
duplicates (city, year, classification, division). The folder is optional: without it the exposure falls back
to yearbook sections (the variable dictionary says which basis the panel used).

Output columns: year, city_code, unit_kind ('city' | 'county_level_unit' | 'national'), industry_code,
classification ('2002' | '2011'), employment (persons), source_file, row.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from dagster_project.sources.codes import ResolvedCode, extension_cities, resolve_unit_code
from dagster_project.sources.common import LoadResult, Rejects, SourceFormatError

SOURCE = "employment"
NATIONAL_CODE = "000000"
EXPECTED = ("<raw>/employment/*.csv or *.xlsx with columns year, city_code, city_name, industry_code, "
            "industry_name, classification, employment (persons); national totals as city_code 000000")
HEADERS = {
    "year": {"year", "年份"},
    "city_code": {"city_code", "城市代码", "code"},
    "city_name": {"city_name", "城市", "city"},
    "industry_code": {"industry_code", "行业代码", "gbt_division"},
    "industry_name": {"industry_name", "行业名称"},
    "classification": {"classification", "分类标准", "gbt_version"},
    "employment": {"employment", "从业人员", "employment_persons"},
}
REQUIRED = ("year", "city_code", "industry_code", "classification", "employment")
COLUMNS = ["year", "city_code", "unit_kind", "industry_code", "classification", "employment", "source_file", "row"]
_VERSION = re.compile(r"(2002|2011|2017)")


def _frame(path: Path) -> pd.DataFrame:
    """Read one file as strings with its header mapped to the canonical names."""
    if path.suffix.lower() == ".xlsx":
        df = pd.read_excel(path, dtype=str, keep_default_na=False)
    else:
        raw = path.read_bytes()
        text = None
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        if text is None:
            raise SourceFormatError(path, "neither UTF-8 nor GBK text", expected=EXPECTED)
        from io import StringIO
        df = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    rename = {}
    for col in df.columns:
        key = str(col).strip().lower()
        for canon, names in HEADERS.items():
            if key in names:
                rename[col] = canon
    df = df.rename(columns=rename)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise SourceFormatError(path, f"missing columns {missing} (header {list(df.columns)})", row=1,
                                expected=EXPECTED)
    return df


def read_base_employment(folder: Path) -> LoadResult:
    """Read every base-employment file in `folder`; an absent folder gives an empty table (optional source)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".xlsx")
                   and not p.name.startswith(("~$", "."))) if folder.is_dir() else []
    rejects = Rejects(SOURCE)
    rows: list[dict] = []
    seen: dict[tuple, str] = {}
    extra = extension_cities(folder.parent)
    for path in files:
        df = _frame(path)
        for k, rec in enumerate(df.to_dict("records")):
            line = k + 2
            def bad(reason: str, column: str, value: object, _path: Path = path, _line: int = line) -> None:
                """Quarantine this row with its location."""
                rejects.add(_path, reason, row=_line, column=column, value=value)
            year = str(rec["year"]).strip()
            if not re.fullmatch(r"(19|20)\d\d", year):
                bad("year is not a four-digit year", "year", rec["year"])
                continue
            code = str(rec["city_code"]).strip().removesuffix(".0")
            if code == NATIONAL_CODE:
                unit = ResolvedCode(NATIONAL_CODE, "national", NATIONAL_CODE)
            elif re.fullmatch(r"\d{6}", code):
                unit = resolve_unit_code(code, extra_cities=extra)
                if not isinstance(unit, ResolvedCode):
                    bad(unit, "city_code", code)
                    continue
            else:
                bad("city_code is not 6 digits", "city_code", code)
                continue
            division = str(rec["industry_code"]).strip().removesuffix(".0")
            if not re.fullmatch(r"\d{1,2}", division):
                bad("industry_code is not a GB/T 4754 two-digit division", "industry_code", division)
                continue
            division = division.zfill(2)
            version = _VERSION.search(str(rec["classification"]))
            if version is None or version[1] == "2017":
                bad("classification is not GB/T 4754-2002 or GB/T 4754-2011 (the concordance covers those two)",
                    "classification", rec["classification"])
                continue
            text = re.sub(r"[\s,\u00a0]", "", str(rec["employment"]))
            try:
                employment = float(text)
            except ValueError:
                bad("employment is not a number", "employment", rec["employment"])
                continue
            if not employment >= 0:
                bad("employment must be a non-negative number of persons", "employment", rec["employment"])
                continue
            key = (int(year), unit.code, version[1], division)
            if key in seen:
                bad(f"duplicate {key}; first at {seen[key]}", "industry_code", division)
                continue
            seen[key] = f"{path.name} row {line}"
            rows.append({"year": int(year), "city_code": unit.code, "unit_kind": unit.kind,
                         "industry_code": division, "classification": version[1], "employment": employment,
                         "source_file": str(path), "row": line})
    table = pd.DataFrame(rows, columns=COLUMNS).astype({
        "year": "int64", "city_code": "string", "unit_kind": "string", "industry_code": "string",
        "classification": "string", "employment": "float64", "source_file": "string", "row": "int64"})
    return LoadResult(table=table, rejected=rejects.frame(), files=files)
