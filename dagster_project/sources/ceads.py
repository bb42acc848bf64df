"""Readers for the CEADs emission inventories as their publishers ship them (city, provincial, county).

Three products, three layouts (inspected on the real files in `../shared/data/ceads/`):

- City inventory: one workbook, sheets `NOTE`, `emission vector` (ID, city, year, emission) and
  `emission matrix` (city × year, years as text, incl. a 1995 column). Names are "province+city"
  (`安徽安庆`), municipalities bare (`北京`). Empty cells are years CEADs did not estimate.
- Provincial inventories: one workbook per year, one sheet per province (`Shanghai2012`) plus `NOTE`.
  47 IPCC sectors + Urban/Rural × 17 fossil fuels, then Scope 2 heat/electricity, Other Energy,
  Process (cement) and Scope 1 Total, in Mt CO2. Two label layouts: 1997–2017 (`Total Consumption`,
  `Raw Coal`, space-padded sector names, empty A1/A2) and 2018+ (`TotalEmissions`, `Raw_Coal`,
  `CleanedCoal`, A1 `Emission_Inventory`, A2 `unit`). Labels are mapped to canonical codes through
  the seeds `dbt/seeds/ceads/ceads_sectors.csv` and `ceads_fuels.csv` (one source of truth).
- County CO2 (Chen et al. 2020): one sheet `Unit (Million tons)`, `DISTCODE地区代码`, Chinese and English
  county/city/province names, `C1997`…`C2017`; a blank row and a "Note: …" row at the bottom.

Every reader returns a `LoadResult` (tidy table + rejected rows + files read); layout problems raise
`SourceFormatError` naming file, sheet, row and column; missing inputs raise `MissingSourceError`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from dagster_project.sources.common import (
    LoadResult,
    Rejects,
    SourceFormatError,
    require_files,
)
from dagster_project.sources.frames import StringPool
from dagster_project.sources.xlsx import Workbook

SOURCE = "ceads"
REPO_ROOT = Path(__file__).resolve().parents[2]
CEADS_SEEDS = REPO_ROOT / "dbt" / "seeds" / "ceads"
SECTORS_SEED = "dbt/seeds/ceads/ceads_sectors.csv"
FUELS_SEED = "dbt/seeds/ceads/ceads_fuels.csv"
PROVINCES_CSV = REPO_ROOT / "dbt" / "seeds" / "reference" / "provinces.csv"

CITY_FILE_NAME = "The_Emission_Inventories_for_290_Chinese_Cities_from_1997_to_2019.xlsx"
CITY_EXPECTED = (
    "<raw>/ceads/city/ holding exactly one CEADs city inventory workbook (e.g. "
    f"{CITY_FILE_NAME}) with sheets 'NOTE', 'emission vector' (ID, city, year, emission) and "
    "'emission matrix' (city × year)"
)
PROVINCIAL_FILE_RE = re.compile(r"^Emission_Inventories_for_(\d+)_Provinces_(\d{4})\.xlsx$")
PROVINCIAL_EXPECTED = (
    "<raw>/ceads/provincial/ holding one workbook per year named "
    "Emission_Inventories_for_30_Provinces_<year>.xlsx, each with a 'NOTE' sheet and one sheet per "
    "province named <Province><year> (e.g. 'Shanghai2012')"
)
COUNTY_FILE_NAME = "County_CO2_emissions_1997_2017.xlsx"
COUNTY_EXPECTED = (
    f"<raw>/ceads/county/ holding exactly one county CO2 workbook (e.g. {COUNTY_FILE_NAME}) with the "
    "sheet 'Unit (Million tons)': DISTCODE地区代码, county/city/province names (Chinese, English), C1997…"
)

VECTOR_SHEET = "emission vector"
MATRIX_SHEET = "emission matrix"
NOTE_SHEET = "NOTE"
VECTOR_HEADER = ("ID", "city", "year", "emission")
COUNTY_SHEET = "Unit (Million tons)"
COUNTY_HEADER = ("DISTCODE地区代码", "County Name", "County Name", "City Name", "City Name",
                 "Province Name", "Province Name")

# The city file's vector and matrix sheets hold the same numbers; anything beyond float noise is an edit.
CITY_CROSSCHECK_RTOL = 1e-9
# Stated totals of the provincial inventories vs. the sum of their parts. The real 2012 and 2019 files
# agree to 2.3e-13 Mt, so 1 t absolute plus 1 ppm relative only absorbs float noise and still catches
# any edited cell. Older vintages, if ever shipped rounded, may need a wider tolerance.
TOTAL_ATOL_MT = 1e-6
TOTAL_RTOL = 1e-6

LAYOUT_OLD = "1997-2017"
LAYOUT_NEW = "2018-"
# Kinds of fuel columns that add up to the Scope 1 total (verified on the real files: 17 fossil fuels
# + Process; Other Energy is zero everywhere there, counted in because it is scope-1 energy use).
SCOPE1_PART_KINDS = frozenset({"fossil", "other", "process"})

# County codes the publisher suffixes with "（2）" for zones carved out of a county after 2010. Mapped
# to their own codes (GB/T 2260 for 新吴区; NBS 统计用区划代码 for the two functional zones) so that
# county_code stays a unique 6-digit key; any other suffixed code is rejected.
SUFFIXED_DISTCODES = {
    "320211（2）": "320214",  # 新吴区 (Wuxi), GB/T 2260 code since 2015
    "320506（2）": "320571",  # 苏州工业园区, NBS statistical division code
    "321112（2）": "321171",  # 镇江新区, NBS statistical division code
}
# Surrounding whitespace the publishers leave in names (incl. no-break and ideographic spaces).
_WS = " \t\r\n\u00a0\u3000"
_CJK = re.compile(r"[\u4e00-\u9fff]")

CITY_COLUMNS = ["ceads_name", "year", "co2_mt", "source_file", "sheet", "row"]
PROVINCIAL_COLUMNS = ["province_en", "year", "sector_raw", "sector", "fuel_raw", "fuel", "kind",
                      "is_total_row", "is_total_col", "co2_mt", "layout", "source_file", "sheet", "row",
                      "column"]
COUNTY_COLUMNS = ["county_code", "distcode_raw", "county_cn", "county_en", "city_cn", "city_en",
                  "province_cn", "province_en", "year", "co2_mt", "source_file", "sheet", "row", "column"]


# ------------------------------------------------------------------ shared helpers
def _open(path: Path) -> Workbook:
    """Read a whole workbook (sheet XML parsed directly; the provincial set is 19 files x 30 sheets)."""
    # Workbook itself turns a file that is not a readable .xlsx into a SourceFormatError naming it.
    return Workbook(path)


def _sheet(path: Path, wb: Workbook, name: str, expected: str) -> object:
    """Return the sheet called `name` or raise naming the file, the sheet and the sheets that exist."""
    if name not in wb.sheetnames:
        raise SourceFormatError(path, f"sheet {name!r} not found (the workbook has {wb.sheetnames})",
                                sheet=name, expected=expected)
    return wb[name]


def _text(value: object) -> str | None:
    """Return a cell as text without surrounding whitespace, or None when it is empty."""
    if value is None:
        return None
    text = str(value).strip(_WS)
    return text or None


def _number(value: object) -> float | None:
    """Parse a numeric cell (numbers, or numbers stored as text); None when it is not a finite number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value.strip(_WS).replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return out if math.isfinite(out) else None


def _year(value: object) -> int | None:
    """Parse a year cell written as int, integral float or text; None when it is not a plausible year."""
    num = _number(value)
    if num is None or num != int(num) or not 1900 <= num <= 2100:
        return None
    return int(num)


def _is_blank(value: object) -> bool:
    """True for an empty cell or one holding only whitespace."""
    return value is None or (isinstance(value, str) and not value.strip(_WS))


def _bad_value(co2: float | None) -> str | None:
    """Reason to reject a parsed emission value, or None when it is usable."""
    if co2 is None:
        return "emission is not a number"
    return "emission is negative" if co2 < 0 else None


def _close(a: float, b: float, *, rtol: float, atol: float) -> bool:
    """Symmetric closeness test used for every cross-check."""
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def _frame(records: list[dict], columns: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    """Build a tidy frame with a fixed column order and explicit dtypes (also when empty)."""
    df = pd.DataFrame(records, columns=columns)
    return df.astype(dtypes)


def _only_one(path: Path, files: list[Path], expected: str) -> Path:
    """Return the single workbook of a folder; several versions side by side are ambiguous."""
    if len(files) > 1:
        raise SourceFormatError(path, f"found {len(files)} workbooks ({[f.name for f in files]})",
                                expected=expected)
    return files[0]


# ------------------------------------------------------------------ city inventory
def read_city_inventory(folder: Path) -> LoadResult:
    """Read the CEADs city inventory (vector sheet, cross-checked against the matrix) into a long table."""
    path = _only_one(folder, require_files(folder, "*.xlsx", CITY_EXPECTED), CITY_EXPECTED)
    rejects = Rejects(SOURCE)
    wb = _open(path)
    try:
        _check_city_unit(path, _sheet(path, wb, NOTE_SHEET, "a NOTE sheet stating the unit"))
        vector = _sheet(path, wb, VECTOR_SHEET, "the long table ID, city, year, emission")
        matrix = _sheet(path, wb, MATRIX_SHEET, "the wide table city × year")
        records, seen = _read_city_vector(path, vector, rejects)
        cells = _read_city_matrix(path, matrix, rejects)
    finally:
        wb.close()
    records = _cross_check_city(path, records, seen, cells, rejects)
    table = _frame(records, CITY_COLUMNS, {"ceads_name": "string", "year": "int64", "co2_mt": "float64",
                                           "source_file": "string", "sheet": "string", "row": "int64"})
    return LoadResult(table=table, rejected=rejects.frame(), files=[path])


def _check_city_unit(path: Path, note: object) -> None:
    """Require the NOTE sheet to state million tonnes: the data sheets carry no unit of their own."""
    for i, row in enumerate(note.iter_rows(max_col=2, values_only=True), start=1):
        label = _text(row[0]) if row else None
        if label and label.lower().startswith("unit"):
            unit = (_text(row[1]) or "").lower() if len(row) > 1 else ""
            if "million ton" not in unit:
                raise SourceFormatError(path, f"unit is {unit!r}", sheet=NOTE_SHEET, row=i, column="B",
                                        expected="'million tones' (Mt CO2)")
            return
    raise SourceFormatError(path, "no 'Unit/单位' row", sheet=NOTE_SHEET, column="A",
                            expected="a row labelled 'Unit/单位' stating million tonnes")


def _read_city_vector(path: Path, ws: object, rejects: Rejects) -> tuple[list[dict], set]:
    """Parse the vector sheet: validate the header, reject bad cells and duplicates, keep the rest."""
    rows = ws.iter_rows(values_only=True)
    header = next(rows, ())
    for j, expected in enumerate(VECTOR_HEADER):
        found = header[j] if j < len(header) else None
        if _text(found) != expected:
            raise SourceFormatError(path, f"header cell is {found!r}", sheet=VECTOR_SHEET, row=1,
                                    column=get_column_letter(j + 1), expected=repr(expected))
    records: list[dict] = []
    first_row: dict[tuple[str, int], int] = {}
    seen: set[tuple[str, int]] = set()  # every (name, year) with a value, rejected or not (cross-check)
    for i, row in enumerate(rows, start=2):
        cid, name, year_cell, value = (tuple(row) + (None,) * 4)[:4]
        if all(_is_blank(v) for v in (cid, name, year_cell, value)):
            continue

        def reject(column: str, cell: object, reason: str, _i: int = i) -> None:
            """Record this vector row as rejected, located at `column`."""
            rejects.add(path.name, reason, sheet=VECTOR_SHEET, row=_i, column=column, value=cell)

        if not isinstance(name, str) or _is_blank(name):
            reject("B", name, "city name is empty or not text")
            continue
        year = _year(year_cell)
        if year is None:
            reject("C", year_cell, "year is not an integer year")
            continue
        if _is_blank(value):
            continue  # CEADs did not estimate this city-year: not a row (the panel is unbalanced)
        seen.add((name, year))
        co2 = _number(value)
        if (reason := _bad_value(co2)) is not None:
            reject("D", value, reason)
            continue
        if _text(cid) != f"{name}{year}":
            reject("A", cid, f"ID does not equal city+year ({name}{year!s}); the row may be shifted")
            continue
        key = (name, year)
        if key in first_row:
            reject("B", name, f"duplicate city-year: same city and year as row {first_row[key]} (kept)")
            continue
        first_row[key] = i
        records.append({"ceads_name": name, "year": year, "co2_mt": co2, "source_file": path.name,
                        "sheet": VECTOR_SHEET, "row": i})
    return records, seen


MatrixCells = dict[tuple[str, int], tuple[float, int, str]]


def _read_city_matrix(path: Path, ws: object, rejects: Rejects) -> MatrixCells:
    """Parse the matrix sheet into {(name, year): (value, row, column)} for the cross-check."""
    rows = ws.iter_rows(values_only=True)
    header = next(rows, ())
    if not header or _text(header[0]) != "city":
        raise SourceFormatError(path, f"header cell is {header[0] if header else None!r}", sheet=MATRIX_SHEET,
                                row=1, column="A", expected="'city'")
    years: dict[int, int] = {}
    for j, cell in enumerate(header[1:], start=1):
        if _is_blank(cell):
            continue
        year = _year(cell)
        if year is None:
            raise SourceFormatError(path, f"header cell is {cell!r}", sheet=MATRIX_SHEET, row=1,
                                    column=get_column_letter(j + 1), expected="a year such as '2012'")
        years[j] = year
    cells: MatrixCells = {}
    for i, row in enumerate(rows, start=2):
        if not row or all(_is_blank(v) for v in row):
            continue
        name = row[0]
        if not isinstance(name, str) or _is_blank(name):
            rejects.add(path.name, "city name is empty or not text", sheet=MATRIX_SHEET, row=i, column="A",
                        value=name)
            continue
        for j, year in years.items():
            value = row[j] if j < len(row) else None
            if _is_blank(value):
                continue
            col = get_column_letter(j + 1)
            co2 = _number(value)
            if co2 is None:
                rejects.add(path.name, "emission is not a number", sheet=MATRIX_SHEET, row=i, column=col,
                            value=value)
                continue
            cells.setdefault((name, year), (co2, i, col))
    return cells


def _cross_check_city(path: Path, records: list[dict], seen: set, cells: MatrixCells,
                      rejects: Rejects) -> list[dict]:
    """Quarantine vector rows the matrix contradicts or lacks; report matrix values with no vector row."""
    kept: list[dict] = []
    for rec in records:
        key = (rec["ceads_name"], rec["year"])
        where = cells.get(key)
        if where is None:
            rejects.add(path.name, f"no value for this city and year in sheet {MATRIX_SHEET!r}",
                        sheet=VECTOR_SHEET, row=rec["row"], column="D", value=rec["co2_mt"])
            continue
        value, mrow, mcol = where
        if not _close(rec["co2_mt"], value, rtol=CITY_CROSSCHECK_RTOL, atol=0.0):
            rejects.add(path.name, f"disagrees with sheet {MATRIX_SHEET!r} cell {mcol}{mrow} ({value!r}) "
                        f"beyond {CITY_CROSSCHECK_RTOL:g} relative", sheet=VECTOR_SHEET, row=rec["row"],
                        column="D", value=rec["co2_mt"])
            continue
        kept.append(rec)
    for key, (value, mrow, mcol) in cells.items():
        if key not in seen:
            rejects.add(path.name, f"value has no row in sheet {VECTOR_SHEET!r}", sheet=MATRIX_SHEET,
                        row=mrow, column=mcol, value=value)
    return kept


# ------------------------------------------------------------------ provincial inventories
@dataclass(frozen=True)
class _Label:
    """One row of a vocabulary seed: canonical code, its kind/group, and the layouts using the label."""

    code: str
    kind: str
    layouts: str


@lru_cache(maxsize=1)
def _vocabularies() -> tuple[dict[str, _Label], dict[str, _Label]]:
    """Load the sector and fuel vocabularies from the dbt seeds, keyed by the label as written (stripped)."""
    sectors = pd.read_csv(CEADS_SEEDS / "ceads_sectors.csv", dtype=str, keep_default_na=False)
    fuels = pd.read_csv(CEADS_SEEDS / "ceads_fuels.csv", dtype=str, keep_default_na=False)
    sec = {r.sector_raw: _Label(r.sector, "total" if r.sector == "total" else r.sector_group, r.layouts)
           for r in sectors.itertuples(index=False)}
    fuel = {r.fuel_raw: _Label(r.fuel, r.kind, r.layouts) for r in fuels.itertuples(index=False)}
    return sec, fuel


@lru_cache(maxsize=1)
def _province_names() -> dict[str, str]:
    """English province names as CEADs writes them in sheet names, keyed without spaces in lower case."""
    names = pd.read_csv(PROVINCES_CSV, dtype=str)["province_en"]
    return {n.replace(" ", "").lower(): n for n in names}


def _sheet_layout(fuel_labels: list[str | None], sector_labels: list[str | None], fuels: dict[str, _Label],
                  sectors: dict[str, _Label], *, corner_new: bool) -> str:
    """Decide one sheet's label layout by majority of its layout-specific labels (corner cells break ties).

    Labels shared by both layouts do not vote; a label of the other layout inside a sheet is still read
    (each spelling maps to one code), so a sheet with one re-issued label loads instead of failing.
    """
    votes = {LAYOUT_OLD: 0, LAYOUT_NEW: 0}
    for label, voc in [(x, fuels) for x in fuel_labels] + [(x, sectors) for x in sector_labels]:
        hit = voc.get(label) if label is not None else None
        if hit is not None and hit.layouts in votes:
            votes[hit.layouts] += 1
    if votes[LAYOUT_OLD] != votes[LAYOUT_NEW]:
        return max(votes, key=lambda k: votes[k])
    return LAYOUT_NEW if corner_new else LAYOUT_OLD


def read_provincial_inventories(folder: Path, *, strict: bool = False) -> LoadResult:
    """Read every yearly provincial inventory (both label layouts) into one long sector × fuel table.

    Stated totals (the total row and the Scope 1 Total column) are checked against their parts; a
    disagreement quarantines the stated cell as a rejected row, or raises when `strict` is true.
    """
    files = require_files(folder, "*.xlsx", PROVINCIAL_EXPECTED)
    rejects = Rejects(SOURCE)
    pool = StringPool()
    sheets: list[_SheetCells] = []
    years_seen: dict[int, Path] = {}
    for path in files:
        match = PROVINCIAL_FILE_RE.match(path.name)
        if match is None:
            raise SourceFormatError(path, "file name does not give the inventory year",
                                    expected="Emission_Inventories_for_30_Provinces_<year>.xlsx")
        year = int(match.group(2))
        if year in years_seen:
            raise SourceFormatError(path, f"second workbook for {year} (also {years_seen[year].name})")
        years_seen[year] = path
        sheets += _read_provincial_file(path, year, rejects, strict, pool)
    return LoadResult(table=_provincial_table(sheets, pool), rejected=rejects.frame(), files=files)


@dataclass(frozen=True)
class _SheetCells:
    """The kept cells of one province sheet, row-major, as positions into its row and column labels."""

    year: int
    strings: dict[str, int]  # province_en, layout, source_file, sheet codes (one per sheet)
    row_no: np.ndarray  # per sheet row: its 1-based row number
    row_codes: dict[str, np.ndarray]  # sector_raw, sector codes per sheet row
    row_total: np.ndarray  # per sheet row: the total row?
    col_codes: dict[str, np.ndarray]  # fuel_raw, fuel, kind, column codes per fuel column
    col_total: np.ndarray  # per fuel column: the Scope 1 Total column?
    ri: np.ndarray  # per cell: index of its row
    ci: np.ndarray  # per cell: index of its column
    co2: np.ndarray  # per cell: Mt CO2


def _provincial_table(sheets: list[_SheetCells], pool: StringPool) -> pd.DataFrame:
    """Assemble the sheets' cells into the provincial table (column order and dtypes of PROVINCIAL_COLUMNS)."""

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        """Concatenate per-sheet arrays (an empty typed array when there are none)."""
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)

    n = [len(s.co2) for s in sheets]
    codes: dict[str, np.ndarray] = {}
    for key in ("province_en", "layout", "source_file", "sheet"):
        codes[key] = np.repeat(np.asarray([s.strings[key] for s in sheets], dtype=np.int32), n)
    for key in ("sector_raw", "sector"):
        codes[key] = cat([s.row_codes[key][s.ri] for s in sheets], np.int32)
    for key in ("fuel_raw", "fuel", "kind", "column"):
        codes[key] = cat([s.col_codes[key][s.ci] for s in sheets], np.int32)
    out = {
        "year": np.repeat(np.asarray([s.year for s in sheets], dtype=np.int64), n),
        "is_total_row": cat([s.row_total[s.ri] for s in sheets], np.bool_),
        "is_total_col": cat([s.col_total[s.ci] for s in sheets], np.bool_),
        "co2_mt": cat([s.co2 for s in sheets], np.float64),
        "row": cat([s.row_no[s.ri] for s in sheets], np.int64),
    }
    return pd.DataFrame({c: pool.column(codes[c]) if c in codes else out[c] for c in PROVINCIAL_COLUMNS})


def _read_provincial_file(path: Path, year: int, rejects: Rejects, strict: bool,
                          pool: StringPool) -> list[_SheetCells]:
    """Read one yearly workbook: check NOTE's year and unit, then every province sheet."""
    wb = _open(path)
    try:
        note = _sheet(path, wb, NOTE_SHEET, "a NOTE sheet with the year and unit")
        _check_provincial_note(path, note, year)
        sheets = [name for name in wb.sheetnames if name != NOTE_SHEET]
        if not sheets:
            raise SourceFormatError(path, "no province sheets", expected="sheets named <Province><year>")
        out: list[_SheetCells] = []
        provinces: dict[str, str] = {}
        for name in sheets:
            # Re-issued files vary the spelling (`InnerMongolia2019`, `Inner mongolia2015`): letters and
            # spaces, then the year; the province is matched without spaces or case.
            match = re.fullmatch(r"\s*([A-Za-z][A-Za-z ]*?)\s*(\d{4})\s*", name)
            if match is None:
                raise SourceFormatError(path, "sheet name is not <Province><year>", sheet=name,
                                        expected=f"e.g. 'Shanghai{year}'")
            spelled, sheet_year = match.group(1), int(match.group(2))
            province = _province_names().get(spelled.replace(" ", "").lower(), spelled)
            if sheet_year != year:
                raise SourceFormatError(path, f"sheet year {sheet_year} differs from the file year {year}",
                                        sheet=name, expected=f"'{province}{year}'")
            if province not in _province_names().values():
                raise SourceFormatError(path, f"unknown province {province!r}", sheet=name,
                                        expected=f"one of {sorted(_province_names().values())}")
            if province in provinces:
                raise SourceFormatError(path, f"province {province} appears twice", sheet=name)
            provinces[province] = name
            ws = _sheet(path, wb, name, "a province sheet")
            out.append(_read_province_sheet(path, ws, province, year, rejects, strict, pool))
        return out
    finally:
        wb.close()


def _check_provincial_note(path: Path, note: object, year: int) -> None:
    """Cross-check the NOTE sheet's time series against the file-name year and require Mt as the unit."""
    found_year = found_unit = False
    for i, row in enumerate(note.iter_rows(max_col=2, values_only=True), start=1):
        label = (_text(row[0]) or "").lower() if row else ""
        value = row[1] if row and len(row) > 1 else None
        if label.startswith("timeseries"):
            found_year = True
            if _year(value) != year:
                raise SourceFormatError(path, f"NOTE time series is {value!r}, file name says {year}",
                                        sheet=NOTE_SHEET, row=i, column="B", expected=str(year))
        elif label.startswith("unit"):
            found_unit = True
            if not (_text(value) or "").startswith("Mt"):
                raise SourceFormatError(path, f"unit is {value!r}", sheet=NOTE_SHEET, row=i, column="B",
                                        expected="'Mt' (million tonnes CO2)")
    if not (found_year and found_unit):
        raise SourceFormatError(path, "NOTE lacks the 'Timeseries' or 'Unit' row", sheet=NOTE_SHEET,
                                column="A", expected="rows 'Timeseries/时间序列' and 'Unit/单位'")


def _read_province_sheet(path: Path, ws: object, province: str, year: int, rejects: Rejects,
                         strict: bool, pool: StringPool) -> _SheetCells:
    """Parse one province sheet into long records and check its stated totals."""
    sectors, fuels = _vocabularies()
    sheet = ws.title
    rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
    header = rows[0] if rows else ()
    units = rows[1] if len(rows) > 1 else ()
    if all(_is_blank(v) for v in header):
        found = next((k for k, r in enumerate(rows, start=1) if any(not _is_blank(v) for v in r)), None)
        raise SourceFormatError(path, f"row 1 is empty (first filled row: {found}); the header is shifted",
                                sheet=sheet, row=1, column="B",
                                expected="fuel labels such as 'Raw Coal' or 'Raw_Coal' in row 1")
    a1, a2 = (_text(header[0]) if header else None), (_text(units[0]) if units else None)
    # The corner cells are one of the two layouts' forms; which layout the sheet uses is decided by its
    # own labels, per sheet: the publisher re-issues files, and one workbook can mix sheets of both
    # layouts (the real 2017 inventory has a sheet with `Cleaned Coal` among sheets with 2018+ labels).
    if (a1, a2) not in ((None, None), ("Emission_Inventory", "unit")):
        if a1 not in (None, "Emission_Inventory"):
            bad_row, bad = 1, header[0]
        else:
            bad_row, bad = 2, (units[0] if units else None)
        raise SourceFormatError(path, f"corner cell is {bad!r}", sheet=sheet, row=bad_row, column="A",
                                expected="empty A1/A2 (1997–2017 layout) or 'Emission_Inventory'/'unit' "
                                         "(2018+ layout) above the fuel labels")
    layout = _sheet_layout([_text(v) for v in header[1:]], [_text(r[0]) if r else None for r in rows[2:]],
                           fuels, sectors, corner_new=a1 is not None)
    columns: dict[int, tuple[str, _Label]] = {}
    for j in range(1, len(header)):
        raw = header[j]
        col = get_column_letter(j + 1)
        label = _text(raw)
        if label is None:
            if any(not _is_blank(r[j]) for r in rows[2:] if j < len(r)):
                raise SourceFormatError(path, "column has values but no fuel label", sheet=sheet, row=1,
                                        column=col, expected="a CEADs fuel label")
            continue
        voc = fuels.get(label)
        if voc is None:
            raise SourceFormatError(path, f"header cell is {raw!r}, not a CEADs fuel label", sheet=sheet,
                                    row=1, column=col, expected=f"a {layout} label of {FUELS_SEED}")
        if any(v[1].code == voc.code for v in columns.values()):
            raise SourceFormatError(path, f"fuel {label!r} appears twice", sheet=sheet, row=1, column=col)
        unit = _text(units[j]) if j < len(units) else None
        if unit != "Mt CO2":
            raise SourceFormatError(path, f"unit cell is {unit!r}", sheet=sheet, row=2, column=col,
                                    expected="'Mt CO2'")
        columns[j] = (str(raw), voc)
    if not columns:
        raise SourceFormatError(path, "header row holds no fuel labels", sheet=sheet, row=1, column="B",
                                expected="fuel labels such as 'Raw Coal' or 'Raw_Coal' in row 1")
    total_cols = [j for j, (_, v) in columns.items() if v.kind == "total"]
    if len(total_cols) != 1:
        raise SourceFormatError(path, "no single Scope 1 Total column", sheet=sheet, row=1,
                                expected="exactly one 'Scope 1 Total' / 'Scope_1_Total' column")

    # Sector labels first: the cells below never raise, so this finds the same first error as a
    # row-by-row pass would.
    sector_rows: dict[str, int] = {}
    body: list[int] = []  # indices into `rows` of the labelled rows
    row_raw: list[str] = []
    row_sector: list[str] = []
    for i, row in enumerate(rows[2:], start=3):
        raw_label = row[0] if row else None
        label = _text(raw_label)
        if label is None:
            if any(not _is_blank(v) for v in row[1:]):
                raise SourceFormatError(path, "row has values but no sector label", sheet=sheet, row=i,
                                        column="A", expected="a CEADs sector label")
            continue
        voc = sectors.get(label)
        if voc is None:
            raise SourceFormatError(path, f"sector label is {raw_label!r}, not a CEADs sector label",
                                    sheet=sheet, row=i, column="A", expected=f"a {layout} label of {SECTORS_SEED}")
        if voc.code in sector_rows:
            first = sector_rows[voc.code]
            raise SourceFormatError(path, f"sector {label!r} appears twice (first in row {first})",
                                    sheet=sheet, row=i, column="A")
        sector_rows[voc.code] = i
        body.append(i - 1)
        row_raw.append(str(raw_label))
        row_sector.append(voc.code)
    if "total" not in sector_rows:
        raise SourceFormatError(path, "no total row", sheet=sheet, column="A",
                                expected="a 'Total Consumption' / 'TotalEmissions' row")

    # The cells of labelled rows x fuel columns, row-major (the order the table keeps).
    col_js = list(columns)
    letters = [get_column_letter(j + 1) for j in col_js]
    width = max(col_js) + 1
    grid = np.empty((len(body), width), dtype=object)
    for k, i in enumerate(body):
        r = rows[i]
        grid[k, : min(len(r), width)] = r[:width]
    cells = grid[:, col_js].ravel()
    blank, co2 = _parse_cells(cells)
    n_cols = len(col_js)
    bad = ~blank & (np.isnan(co2) | (co2 < 0))
    for k in np.flatnonzero(bad).tolist():
        reason = _bad_value(None if math.isnan(co2[k]) else float(co2[k]))
        rejects.add(path.name, reason, sheet=sheet, row=body[k // n_cols] + 1, column=letters[k % n_cols],
                    value=cells[k])
    kept = np.flatnonzero(~blank & ~bad)
    ri, ci = kept // n_cols, kept % n_cols
    row_total = np.asarray([s == "total" for s in row_sector], dtype=bool)
    col_total = np.asarray([columns[j][1].kind == "total" for j in col_js], dtype=bool)
    col_part = np.asarray([columns[j][1].kind in SCOPE1_PART_KINDS for j in col_js], dtype=bool)
    row_no = np.asarray(body, dtype=np.int64) + 1
    keep = _check_province_totals(path, sheet, row_no, letters, row_total, col_total, col_part, ri, ci,
                                  co2[kept], rejects, strict)
    return _SheetCells(
        year=year,
        strings={"province_en": pool.code(province), "layout": pool.code(layout),
                 "source_file": pool.code(path.name), "sheet": pool.code(sheet)},
        row_no=row_no,
        row_codes={"sector_raw": pool.codes(row_raw), "sector": pool.codes(row_sector)},
        row_total=row_total,
        col_codes={"fuel_raw": pool.codes(columns[j][0] for j in col_js),
                   "fuel": pool.codes(columns[j][1].code for j in col_js),
                   "kind": pool.codes(columns[j][1].kind for j in col_js),
                   "column": pool.codes(letters)},
        col_total=col_total,
        ri=ri[keep],
        ci=ci[keep],
        co2=co2[kept][keep],
    )


def _parse_cells(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (blank, Mt CO2) of emission cells, as `_is_blank` and `_number` (NaN where it gives None)."""
    values = cells.tolist()
    blank = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    if set(map(type, values)) <= {float, int, type(None)}:
        # Plain numbers and empty cells (nearly every sheet): numpy converts them as float() does.
        co2 = cells.astype(np.float64)
        co2[~np.isfinite(co2)] = np.nan
        return blank, co2
    blank = np.fromiter(map(_is_blank, values), dtype=bool, count=len(values))
    co2 = np.fromiter((math.nan if (x := _number(v)) is None else x for v in values), dtype=np.float64,
                      count=len(values))
    return blank, co2


def _check_province_totals(path: Path, sheet: str, row_no: np.ndarray, letters: list[str],
                           row_total: np.ndarray, col_total: np.ndarray, col_part: np.ndarray,
                           ri: np.ndarray, ci: np.ndarray, co2: np.ndarray, rejects: Rejects,
                           strict: bool) -> np.ndarray:
    """Compare each stated total with its parts (row: Scope 1 = fossil+other+process; column: Σ sectors).

    Cells are given by row index `ri` and column index `ci` (row-major); returns which cells to keep.
    """
    # bincount adds the weights one by one in cell order, as a running Python sum would (same float).
    m = ~col_total[ci] & col_part[ci]
    row_parts = np.bincount(ri[m], weights=co2[m], minlength=len(row_no))
    m = ~row_total[ri]
    col_parts = np.bincount(ci[m], weights=co2[m], minlength=len(letters))
    keep = np.ones(len(co2), dtype=bool)
    for k in np.flatnonzero(col_total[ci] | row_total[ri]).tolist():
        value, row, column = float(co2[k]), int(row_no[ri[k]]), letters[ci[k]]
        checks = []
        if col_total[ci[k]]:
            checks.append(("the Scope 1 parts of its row", float(row_parts[ri[k]])))
        if row_total[ri[k]]:
            checks.append(("the sectors of its column", float(col_parts[ci[k]])))
        for what, parts in checks:
            if _close(value, parts, rtol=TOTAL_RTOL, atol=TOTAL_ATOL_MT):
                continue
            problem = (f"stated total {value!r} differs from the sum of {what} ({parts!r}) by "
                       f"{value - parts:.6g} Mt")
            if strict:
                tol = f"agreement within {TOTAL_ATOL_MT:g} Mt + {TOTAL_RTOL:g} relative"
                raise SourceFormatError(path, problem, sheet=sheet, row=row, column=column, expected=tol)
            rejects.add(path.name, problem, sheet=sheet, row=row, column=column, value=value)
            keep[k] = False
    return keep


# ------------------------------------------------------------------ county CO2
def read_county_emissions(folder: Path) -> LoadResult:
    """Read the county CO2 workbook (Chen et al. 2020) into a long county × year table in Mt CO2."""
    path = _only_one(folder, require_files(folder, "*.xlsx", COUNTY_EXPECTED), COUNTY_EXPECTED)
    rejects = Rejects(SOURCE)
    wb = _open(path)
    try:
        # The unit lives only in the sheet name, so a renamed sheet leaves the unit unknown.
        ws = _sheet(path, wb, COUNTY_SHEET, "the county table, its name stating the unit (million tons)")
        records = _read_county_sheet(path, ws, rejects)
    finally:
        wb.close()
    table = _frame(records, COUNTY_COLUMNS, {
        "county_code": "string", "distcode_raw": "string", "county_cn": "string", "county_en": "string",
        "city_cn": "string", "city_en": "string", "province_cn": "string", "province_en": "string",
        "year": "int64", "co2_mt": "float64", "source_file": "string", "sheet": "string", "row": "int64",
        "column": "string"})
    return LoadResult(table=table, rejected=rejects.frame(), files=[path])


def _county_code(raw: object) -> str | None:
    """Return the 6-digit county code of a DISTCODE cell, mapping the publisher's suffixed codes."""
    if isinstance(raw, int) and not isinstance(raw, bool) and 100000 <= raw <= 999999:
        return f"{raw:06d}"
    if isinstance(raw, float) and raw.is_integer() and 100000 <= raw <= 999999:
        return f"{int(raw):06d}"
    text = _text(raw)
    if text is None:
        return None
    if re.fullmatch(r"\d{6}", text):
        return text
    return SUFFIXED_DISTCODES.get(text)


def _read_county_sheet(path: Path, ws: object, rejects: Rejects) -> list[dict]:
    """Validate the county header, then emit one record per county and year with a value."""
    rows = ws.iter_rows(values_only=True)
    header = next(rows, ())
    for j, expected in enumerate(COUNTY_HEADER):
        found = header[j] if j < len(header) else None
        if _text(found) != expected:
            raise SourceFormatError(path, f"header cell is {found!r}", sheet=COUNTY_SHEET, row=1,
                                    column=get_column_letter(j + 1), expected=repr(expected))
    years: dict[int, int] = {}
    for j in range(len(COUNTY_HEADER), len(header)):
        label = _text(header[j])
        if label is None:
            continue
        match = re.fullmatch(r"C(\d{4})", label)
        if match is None:
            raise SourceFormatError(path, f"header cell is {header[j]!r}", sheet=COUNTY_SHEET, row=1,
                                    column=get_column_letter(j + 1), expected="a year column such as 'C1997'")
        years[j] = int(match.group(1))
    if not years:
        raise SourceFormatError(path, "no year columns", sheet=COUNTY_SHEET, row=1, column="H",
                                expected="'C1997' … 'C2017'")
    records: list[dict] = []
    first_row: dict[str, int] = {}
    checked_languages = False
    for i, row in enumerate(rows, start=2):
        row = tuple(row) + (None,) * max(0, len(header) - len(row))
        if all(_is_blank(v) for v in row):
            continue
        # The publisher's footnote ("Note: County name is based on the division of China's counties in 2010").
        if isinstance(row[0], str) and row[0].strip(_WS).lower().startswith("note") and all(
                _is_blank(v) for v in row[1:]):
            continue
        code = _county_code(row[0])
        if code is None:
            rejects.add(path.name, "DISTCODE is not a 6-digit county code", sheet=COUNTY_SHEET, row=i,
                        column="A", value=row[0])
            continue
        names = [_text(v) for v in row[1:7]]
        if any(n is None for n in names):
            col = get_column_letter(2 + next(k for k, n in enumerate(names) if n is None))
            rejects.add(path.name, "county, city or province name is empty", sheet=COUNTY_SHEET, row=i,
                        column=col, value=None)
            continue
        if not checked_languages:
            # Both name columns share one header, so check the first row that Chinese comes first.
            for k, name in enumerate(names):
                if bool(_CJK.search(name)) != (k % 2 == 0):
                    raise SourceFormatError(path, f"name {name!r} is in the wrong language for its column",
                                            sheet=COUNTY_SHEET, row=i, column=get_column_letter(k + 2),
                                            expected="Chinese in B, D, F and English in C, E, G")
            checked_languages = True
        if code in first_row:
            rejects.add(path.name, f"duplicate county code {code}: same as row {first_row[code]} (kept)",
                        sheet=COUNTY_SHEET, row=i, column="A", value=row[0])
            continue
        first_row[code] = i
        county_cn, county_en, city_cn, city_en, province_cn, province_en = names
        for j, year in years.items():
            value = row[j]
            if _is_blank(value):
                continue
            col = get_column_letter(j + 1)
            co2 = _number(value)
            if (reason := _bad_value(co2)) is not None:
                rejects.add(path.name, reason, sheet=COUNTY_SHEET, row=i, column=col, value=value)
                continue
            records.append({
                "county_code": code, "distcode_raw": str(row[0]), "county_cn": county_cn,
                "county_en": county_en, "city_cn": city_cn, "city_en": city_en, "province_cn": province_cn,
                "province_en": province_en, "year": year, "co2_mt": co2, "source_file": path.name,
                "sheet": COUNTY_SHEET, "row": i, "column": col})
    return records
