"""Reader of the China Urban Construction Statistical Yearbook (中国城市建设统计年鉴, MOHURD): central heating.

Reads the city table of central heating (`城市集中供热`) of every workbook in the folder into a long table,
one row per published cell of heat supplied (供热总量): steam (万吨) and hot water (万吉焦) in total, from
CHP plants (热电厂) and from boiler houses (锅炉房). Layout, units and edge cases: docs/urban-construction.md.

- file: any `.xlsx` whose name carries the data year (`2020年城市建设统计年鉴.xlsx`,
  `中国城市建设统计年鉴2020.xlsx`); the yearbook is named by data year, so nothing is subtracted;
- sheet: the one whose first rows contain `集中供热` (other sheets are other tables and are skipped);
- header: the rows above the first data row; merged cells are blank below/right of their text, so each
  column's header is the path of texts above it (forward-filled to the right within a row);
- rows: `全国` / aggregate rows and province subtotal rows are not cities and are skipped (the province is
  remembered for name resolution); municipalities are city rows; footnotes (`注`) are rejected;
- values: blank or a missing marker = no row; text or a negative number = a rejected cell with the reason.

City names are resolved downstream (dbt, int_energy__heat_resolved) through the city-name crosswalk.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pandas as pd

from dagster_project.sources.common import LoadResult, Rejects, SourceFormatError, require_files
from dagster_project.sources.xlsx import read_xlsx

SOURCE = "urban_construction"
EXPECTED = "<raw>/urban_construction/<year>年城市建设统计年鉴.xlsx (one workbook per data year)"
FILE_YEAR = re.compile(r"((?:19|20)\d{2})\s*年?\s*(?:中国)?城市建设统计年鉴|城市建设统计年鉴\s*((?:19|20)\d{2})")
TABLE_KEYWORD = "集中供热"
# Canonical unit per quantity and the printed units accepted (factor to the canonical unit). 百万千焦 is the
# older spelling of GJ (10^6 kJ = 1 GJ), as in the standard-coal table's `热力 0.0341 t/百万千焦`.
UNITS = {
    "steam": ("万吨", {"万吨": 1.0, "吨": 1e-4}),
    "hot_water": ("万吉焦", {"万吉焦": 1.0, "吉焦": 1e-4, "万百万千焦": 1.0, "百万千焦": 1e-4}),
}
UNIT_RE = re.compile(r"[(（]\s*(万吨|吨|万吉焦|吉焦|万百万千焦|百万千焦)\s*[)）]")
AGGREGATE = re.compile(r"^(全国|总计|合计|全国合计|城市合计)$")
MUNICIPALITIES = frozenset({"北京", "北京市", "天津", "天津市", "上海", "上海市", "重庆", "重庆市"})
MISSING = frozenset({"", "—", "——", "-", "--", "…", "……", "...", "NA", "N/A", "nan", "*", "***"})
ITEMS = ("heat_steam_total", "heat_hot_water_total", "heat_hot_water_chp", "heat_hot_water_boiler")
TIDY_COLUMNS = ["year", "city_name", "province_name", "item", "value", "unit", "unit_raw", "unit_factor",
                "value_raw", "source_file", "sheet", "row", "column", "header_raw"]


def _clean(v: object) -> str:
    """Return cell text normalised (NFKC, no whitespace), '' for empty cells."""
    if v is None:
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v)))


def _provinces() -> frozenset[str]:
    """Province names in short and full form (the yearbook dictionary's list)."""
    from dagster_project.sources.yearbook import load_dictionary

    return load_dictionary().provinces


def classify_column(path: str) -> str | None:
    """Map a column's header path to an item of ITEMS (None: a column this source does not use)."""
    if "供热总量" not in path:
        return None
    if "蒸汽" in path:
        # Sub-columns of steam (其中 热电厂) are not used: the total is.
        return None if ("热电厂" in path or "锅炉房" in path) else "heat_steam_total"
    if "热水" in path:
        if "热电厂" in path:
            return "heat_hot_water_chp"
        if "锅炉房" in path:
            return "heat_hot_water_boiler"
        return "heat_hot_water_total"
    return None


def _header_paths(rows: list[tuple], first: int, last: int) -> list[str]:
    """Return each column's header path: texts of rows first..last, merged cells filled right and down."""
    width = max(len(r) for r in rows[first:last + 1])
    paths = [[] for _ in range(width)]
    above: list[str] = [""] * width
    for r in rows[first:last + 1]:
        cells = [_clean(c) for c in r] + [""] * (width - len(r))
        # A merged cell's text sits in its first column: fill it right over blanks under the same parent
        # path (a blank under a different parent is a cell merged from above, not from the left).
        filled = list(cells)
        for j in range(1, width):
            if not filled[j] and filled[j - 1] and above[j] == above[j - 1]:
                filled[j] = filled[j - 1]
        for j in range(width):
            if filled[j]:
                paths[j].append(filled[j])
        above = ["/".join(p) for p in paths]
    return ["/".join(p) for p in paths]


def _number(text: str) -> float | None:
    """Parse a printed number (thousands separators allowed); None if it is not one."""
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _read_sheet(path: Path, year: int, sheet: str, rows: list[tuple], provinces: frozenset[str],
                rejects: Rejects) -> list[dict]:
    """Parse the heating table of one workbook into tidy rows."""
    # The header block starts at the row naming the city column and ends above the first data row.
    # (The title `城市集中供热` also starts with 城市 but has no second cell.)
    start = next((i for i, r in enumerate(rows)
                  if r and _clean(r[0]).startswith("城市") and sum(bool(_clean(c)) for c in r) > 1), None)
    if start is None:
        raise SourceFormatError(path, "no header row with the city column (城市名称)", sheet=sheet,
                                expected="a header row whose first cell starts with 城市")
    end = start
    while end + 1 < len(rows) and not _clean(rows[end + 1][0] if rows[end + 1] else ""):
        end += 1
    paths = _header_paths(rows, start, end)
    columns = {j: (item, p) for j, p in enumerate(paths) if (item := classify_column(p))}
    found = {item for item, _ in columns.values()}
    if "heat_hot_water_total" not in found and not {"heat_hot_water_chp", "heat_hot_water_boiler"} <= found:
        raise SourceFormatError(path, f"no hot-water heat-supplied column among headers {paths}", sheet=sheet,
                                expected="供热总量 / 热水 (万吉焦) [合计 / 热电厂 / 锅炉房]")
    units: dict[int, tuple[str, float, str]] = {}
    for j, (item, p) in columns.items():
        kind = "steam" if item.startswith("heat_steam") else "hot_water"
        canonical, table = UNITS[kind]
        m = UNIT_RE.findall(p)
        if not m:
            raise SourceFormatError(path, "no unit in the header", sheet=sheet, row=end + 1, column=j + 1,
                                    expected=f"one of {sorted(table)} in brackets")
        raw = m[-1]
        if raw not in table:
            raise SourceFormatError(path, f"unit {raw!r} does not fit {kind}", sheet=sheet, row=end + 1,
                                    column=j + 1, expected=f"one of {sorted(table)}")
        units[j] = (canonical, table[raw], raw)
    out: list[dict] = []
    province = None
    for i in range(end + 1, len(rows)):
        r = rows[i]
        name = _clean(r[0] if r else "")
        excel_row = i + 1
        if not name:
            continue
        if name.startswith(("注", "说明", "资料来源")):
            rejects.add(path, "footnote row", sheet=sheet, row=excel_row, column="A", value=r[0])
            continue
        if AGGREGATE.match(name):
            continue
        if name in provinces and name not in MUNICIPALITIES:
            province = name
            continue
        for j, (item, p) in columns.items():
            text = _clean(r[j] if j < len(r) else "")
            if text in MISSING:
                continue
            value = _number(text)
            col = f"{chr(65 + j)}"
            if value is None:
                rejects.add(path, f"not a number in {item}", sheet=sheet, row=excel_row, column=col, value=text)
                continue
            if value < 0:
                rejects.add(path, f"negative energy figure in {item} (expected >= 0)", sheet=sheet,
                            row=excel_row, column=col, value=text)
                continue
            canonical, factor, raw = units[j]
            out.append({"year": year, "city_name": name,
                        "province_name": province if name not in MUNICIPALITIES else name,
                        "item": item, "value": value * factor, "unit": canonical, "unit_raw": raw,
                        "unit_factor": factor, "value_raw": text, "source_file": str(path), "sheet": sheet,
                        "row": excel_row, "column": col, "header_raw": p})
    return out


def read_urban_construction(folder: Path) -> LoadResult:
    """Read every central-heating table in `folder` into a tidy long table plus rejected cells."""
    files = require_files(Path(folder), "*.xlsx", EXPECTED)
    rejects = Rejects(SOURCE)
    provinces = _provinces()
    records: list[dict] = []
    used: list[Path] = []
    for path in files:
        m = FILE_YEAR.search(path.stem)
        if not m:
            raise SourceFormatError(path, "no data year in the file name", expected=EXPECTED)
        year = int(m.group(1) or m.group(2))
        sheets = [(name, rows) for name, rows in read_xlsx(path)
                  if any(TABLE_KEYWORD in _clean(c) for r in rows[:3] for c in (r or ()))
                  or TABLE_KEYWORD in name]
        if not sheets:
            raise SourceFormatError(path, f"no sheet with the central-heating table ({TABLE_KEYWORD})",
                                    expected="a sheet titled 城市集中供热")
        for name, rows in sheets:
            records += _read_sheet(path, year, name, rows, provinces, rejects)
        used.append(path)
    table = pd.DataFrame(records, columns=TIDY_COLUMNS)
    dup = table.duplicated(["year", "city_name", "province_name", "item"], keep=False)
    if dup.any():
        first = table[dup].iloc[0]
        raise SourceFormatError(first["source_file"], f"city {first['city_name']!r} printed twice for "
                                f"{first['item']} in {first['year']}", sheet=first["sheet"], row=int(first["row"]))
    table["row"] = table["row"].astype("int64")
    return LoadResult(table=table, rejected=rejects.frame(), files=used)
