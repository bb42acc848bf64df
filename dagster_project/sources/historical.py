"""Historical city indicators of an early China City Statistical Yearbook edition (`<raw>/historical/`), optional.

Seed 000's instruments (Table 7) are 1984 city post-and-telecom business volume (邮电业务总量) and fixed
telephones per 100 people (每百人拥有电话机数), as the 1985 edition of the China City Statistical Yearbook
(中国城市统计年鉴1985, data year 1984) prints them. The files are read as that yearbook ships them through
CNKI: one `.xlsx` workbook per table (docs/designs.md, "Seed 000"):

- file: any `.xlsx` in the folder whose name carries the edition (`中国城市统计年鉴-1985-邮电.xlsx`,
  `中国城市统计年鉴1985.xlsx`); the data year is edition - 1 (the yearbook reports the previous year);
- sheet: every sheet with a header row whose first cell starts with 城市 (other sheets are skipped); a title
  row and a `单位：…` unit row may stand above it;
- header: one or more rows; merged cells are blank right of / below their text, so each column's header is
  the path of texts above it. A column is an indicator when its path names one: `邮电业务总量` (万元; 亿元 and 元
  converted) or `每百人…电话` (部 per 100 people). Its scope is `city` (地区, 全市, 包括市辖县), `district`
  (市区, 市辖区, 不包括市辖县) or `unstated`; the unit comes from brackets in the header or the `单位` row;
- rows: the first column is the Chinese city name as printed in that year (old names such as 襄樊 resolve
  through the city-name crosswalk by data year, downstream in dbt); province rows are group headers
  (remembered for name resolution); national, total and size-class rows are skipped; footnotes (`注`)
  are rejected;
- values: blank or a missing marker = no row; text or a negative number = a rejected cell with the reason;
  a second value for the same city, indicator and scope = a rejected duplicate.

An absent folder gives an empty table: the IV specifications of seed 000 are then not estimable, with
that reason. Output: one row per published cell (year, edition, city_name, province_name, indicator, scope,
value, unit, unit_raw, unit_factor, value_raw, source_file, sheet, row, column, header_raw).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from dagster_project.sources.common import LoadResult, Rejects, SourceFormatError

# The header-path and cell-cleaning rules are the urban construction yearbook's: the same CNKI table layout.
from dagster_project.sources.urban_construction import MISSING, MUNICIPALITIES, _clean, _header_paths, _provinces
from dagster_project.sources.xlsx import read_xlsx

SOURCE = "historical"
EXPECTED = ("<raw>/historical/中国城市统计年鉴-<edition>-<table>.xlsx: a sheet with a 城市 header row and columns "
            "邮电业务总量 (万元) and/or 每百人拥有电话机数 (部)")
EDITION = re.compile(r"中国城市统计年鉴\s*[-—－_]?\s*((?:19|20)\d{2})(?!\d)")
AGGREGATE = re.compile(r"^(全国|总计|合计|全国合计|城市合计|全国城市合计|续表)$"
                       r"|^(超大|特大|大城市|中等|小城市|东部|中部|西部|沿海|特区)")
# Indicator -> (header pattern, canonical unit, printed units accepted with their factor to the canonical unit).
INDICATORS: dict[str, tuple[re.Pattern[str], str, dict[str, float]]] = {
    "post_telecom_volume": (re.compile(r"邮电业务总量"), "万元", {"万元": 1.0, "亿元": 1e4, "元": 1e-4, "千元": 0.1}),
    "phones_per_100": (re.compile(r"每百人.*电话"), "部/百人", {"部": 1.0, "部/百人": 1.0, "部每百人": 1.0}),
}
UNIT_IN_HEADER = re.compile(r"[(（]\s*([^()（）]+?)\s*[)）]")
UNIT_ROW = re.compile(r"^单位[:：]\s*(.+)$")
SCOPES = (("district", re.compile(r"市区|市辖区|不包括市辖县|不包含市辖县|不含市辖县")),
          ("city", re.compile(r"地区|全市|包括市辖县|包含市辖县")))
TIDY_COLUMNS = ["year", "edition", "city_name", "province_name", "indicator", "scope", "value", "unit", "unit_raw",
                "unit_factor", "value_raw", "source_file", "sheet", "row", "column", "header_raw"]


def classify(path: str) -> str | None:
    """The indicator a column's header path names (None: a column this source does not use)."""
    for name, (pattern, _, _) in INDICATORS.items():
        if pattern.search(path):
            return name
    return None


def scope_of(path: str, title: str) -> str:
    """The column's scope from its header path, else from the table title; 'unstated' when neither says."""
    for text in (path, title):
        for scope, pattern in SCOPES:
            if pattern.search(text):
                return scope
    return "unstated"


def _unit(path: str, unit_row: str | None, indicator: str, file: Path, sheet: str, row: int,
          column: str) -> tuple[str, float]:
    """The printed unit of a column and its factor to the canonical unit, or a located error."""
    _, canonical, table = INDICATORS[indicator]
    bracketed = UNIT_IN_HEADER.findall(path)
    found = [u for u in bracketed if u in table]
    raw = found[-1] if found else (bracketed[-1] if bracketed else unit_row)
    if raw is None and indicator == "phones_per_100":
        return canonical, 1.0                 # the name says per 100 people; the unit 部 is often left out
    if raw is None or raw not in table:
        raise SourceFormatError(file, f"unit {raw!r} of {indicator} is not one this reader converts", sheet=sheet,
                                row=row, column=column, expected=f"one of {sorted(table)} in brackets or a 单位 row")
    return raw, table[raw]


def _read_sheet(path: Path, edition: int, sheet: str, rows: list[tuple], provinces: frozenset[str],
                rejects: Rejects) -> list[dict]:
    """Parse one table sheet into tidy rows (an empty list when the sheet has no indicator column)."""
    start = next((i for i, r in enumerate(rows)
                  if r and _clean(r[0]).startswith("城市") and sum(bool(_clean(c)) for c in r) > 1), None)
    if start is None:
        return []
    above = [_clean(c) for r in rows[:start] for c in (r or ()) if _clean(c)]
    title = " ".join(above)
    unit_row = next((m.group(1) for t in above if (m := UNIT_ROW.match(t))), None)
    end = start
    while end + 1 < len(rows) and not _clean(rows[end + 1][0] if rows[end + 1] else ""):
        end += 1
    paths = _header_paths(rows, start, end)
    columns: dict[int, tuple[str, str, str, float, str]] = {}
    for j, p in enumerate(paths):
        if j == 0 or not (indicator := classify(p)):
            continue
        col = _letter(j)
        raw, factor = _unit(p, unit_row, indicator, path, sheet, end + 1, col)
        columns[j] = (indicator, scope_of(p, title), raw, factor, p)
    if not columns:
        return []
    out: list[dict] = []
    province = None
    for i in range(end + 1, len(rows)):
        r = rows[i]
        name = _clean(r[0] if r else "")
        excel_row = i + 1
        if not name or name.startswith("城市"):          # blank line or the header repeated on a continued page
            continue
        if name.startswith(("注", "说明", "资料来源")):
            rejects.add(path, "footnote row", sheet=sheet, row=excel_row, column="A", value=r[0])
            continue
        if AGGREGATE.search(name):
            continue
        if name in provinces and name not in MUNICIPALITIES:
            province = name
            continue
        for j, (indicator, scope, raw, factor, p) in columns.items():
            text = _clean(r[j] if j < len(r) else "")
            if text in MISSING:
                continue
            col = _letter(j)
            try:
                value = float(text.replace(",", ""))
            except ValueError:
                rejects.add(path, f"not a number in {indicator} (expected a number >= 0)", sheet=sheet,
                            row=excel_row, column=col, value=text)
                continue
            if value < 0:
                rejects.add(path, f"negative value in {indicator} (expected a number >= 0)", sheet=sheet,
                            row=excel_row, column=col, value=text)
                continue
            out.append({"year": edition - 1, "edition": edition, "city_name": name,
                        "province_name": name if name in MUNICIPALITIES else province, "indicator": indicator,
                        "scope": scope, "value": value * factor, "unit": INDICATORS[indicator][1], "unit_raw": raw,
                        "unit_factor": factor, "value_raw": text, "source_file": str(path), "sheet": sheet,
                        "row": excel_row, "column": col, "header_raw": p})
    return out


def _letter(j: int) -> str:
    """The spreadsheet column letter of a 0-based column index."""
    s = ""
    j += 1
    while j:
        j, rem = divmod(j - 1, 26)
        s = chr(65 + rem) + s
    return s


def read_historical(folder: Path) -> LoadResult:
    """Read every historical-yearbook workbook in `folder`; an absent folder gives an empty table (optional)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".xlsx", ".xls")
                   and not p.name.startswith(("~$", "."))) if folder.is_dir() else []
    rejects = Rejects(SOURCE)
    provinces = _provinces()
    records: list[dict] = []
    for path in files:
        m = EDITION.search(path.stem)
        if not m:
            raise SourceFormatError(path, "no yearbook edition in the file name", expected=EXPECTED)
        found = []
        for sheet, rows in read_xlsx(path):
            found += _read_sheet(path, int(m.group(1)), sheet, rows, provinces, rejects)
        if not found:
            raise SourceFormatError(path, "no sheet with a 城市 header row and a 邮电业务总量 or 每百人…电话 column",
                                    expected=EXPECTED)
        records += found
    table = pd.DataFrame(records, columns=TIDY_COLUMNS)
    dup = table.duplicated(["year", "city_name", "province_name", "indicator", "scope"], keep="first")
    for r in table[dup].itertuples(index=False):
        rejects.add(r.source_file, f"duplicate {r.indicator} ({r.scope}) for {r.city_name} in {r.year}; the first "
                    "printed value is kept", sheet=r.sheet, row=r.row, column=r.column, value=r.value_raw)
    # Fixed types, so an absent folder still gives a typed (empty) raw table for the staging model.
    types = {c: "string" for c in TIDY_COLUMNS} | {"year": "int64", "edition": "int64", "value": "float64",
                                                  "unit_factor": "float64", "row": "int64"}
    table = table[~dup].reset_index(drop=True).astype(types)
    return LoadResult(table=table, rejected=rejects.frame(), files=files)
