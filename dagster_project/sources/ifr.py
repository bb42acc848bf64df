"""IFR World Robotics country x industry x year tables (`<raw>/ifr/*.xlsx`, `<raw>/ifr/*.csv`).

IFR data are licensed, so researchers hold them in whatever shape their export took. The reader accepts
the two long layouts seen in public code (shared/reference/ifr.md, section b), on any sheet of an .xlsx
workbook or in a .csv file:

- AML98/AutoEmp `IFR_data_new.xlsx`: `country | countrycode | Year | industrycode | [industry] | delivered |
  op_stock` (delivered = installations, op_stock = operational stock);
- Bogusz `ifr.csv` (R `read.csv2`: `;`-separated, decimal comma): `Year | industry | Industry | country |
  [Installations] | Operational stock`, where lower-case `industry` is the code and `Industry` the name.

Codes are checked against the seed `dbt/seeds/ifr/ifr_industries.csv` (the newer ISIC Rev.4-based
classification; "ind10_12"/"A_B"-style spellings are normalised). Rejected rows: unknown codes (the older
vintage's 24-28, 29a and M are named as such, as are 90/91 labels that show the swapped numbering),
non-numeric, negative or fractional counts, bad years, unknown countries, duplicates. Blank counts are
missing (NA), not rejected. Subtotals (All = its level-1 codes, D = manufacturing codes, 19-22 = 19 +
20-21 + 22) are compared wherever the parent and all its children are present; a gap larger than rounding
(0.5 per summand) is reported in `rejected` with a reason starting "subtotal mismatch", and the rows are
kept, because a published subtotal is still what the publisher says.

Output columns: country (ISO-2), industry_code, industry_label (the seed's label), year, installations,
operational_stock (nullable integers), source_file, sheet (null for CSV), row (1-based row/line number).
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
from datetime import date, datetime
from functools import cache
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from dagster_project.sources.common import (
    LoadResult,
    MissingSourceError,
    Rejects,
    SourceFormatError,
    require_dir,
)

SOURCE = "ifr"
SEED = Path(__file__).resolve().parents[2] / "dbt" / "seeds" / "ifr" / "ifr_industries.csv"
EXPECTED = (
    "<raw>/ifr/*.xlsx or *.csv, long layout with columns country/countrycode, Year, industrycode (or "
    "industry + Industry), delivered/Installations and/or op_stock/Operational stock"
)
COLUMNS = ["country", "industry_code", "industry_label", "year", "installations", "operational_stock",
           "source_file", "sheet", "row"]
MEASURES = ("installations", "operational_stock")
# Header spellings seen in public code, compared after dropping case, spaces, dots and underscores.
HEADER_ALIASES = {
    "year": {"year"},
    "code": {"industrycode", "isic", "ifrcode", "industryid"},
    "label": {"industryname", "isicdecr", "industrylabel"},
    "countrycode": {"countrycode", "iso2", "iso"},
    "country": {"country", "countryname"},
    "installations": {"delivered", "installations", "installation", "robotinstallations"},
    "operational_stock": {"opstock", "operationalstock", "robotstock"},
}
COUNTRY_NAMES = {"china": "CN", "chn": "CN", "unitedstates": "US", "usa": "US", "unitedstatesofamerica": "US"}
OLD_VINTAGE_CODES = {"24-28", "29a", "M"}
_ISO2 = re.compile(r"^[A-Za-z]{2}$")


@cache
def load_ifr_industries() -> pd.DataFrame:
    """Return the IFR industry seed (codes, labels, parents, levels, GB/T concordance) as strings."""
    df = pd.read_csv(SEED, dtype=str, keep_default_na=False)
    df["level"] = df["level"].astype(int)
    return df


def _norm(header: object) -> str:
    """Header key without case, spaces, dots or underscores ("Operational.stock" -> "operationalstock")."""
    return re.sub(r"[\s._]+", "", str(header or "")).lower()


def map_header(cells: list[object]) -> dict[str, int] | None:
    """Return {field: column index} if `cells` look like an IFR long-layout header row, else None."""
    raw = [str(c).strip() if c is not None else "" for c in cells]
    found: dict[str, int] = {}
    for i, h in enumerate(raw):
        key = _norm(h)
        for field, names in HEADER_ALIASES.items():
            if key in names and field not in found:
                found[field] = i
    # Bogusz layout: lower-case "industry" holds the code, capitalised "Industry" the name.
    if "industry" in raw and "Industry" in raw:
        found.setdefault("code", raw.index("industry"))
        found.setdefault("label", raw.index("Industry"))
    elif "industry" in (k := [_norm(h) for h in raw]):
        found.setdefault("label" if "code" in found else "code", k.index("industry"))
    if "countrycode" in found:
        found["country"] = found.pop("countrycode")
    has_measure = any(m in found for m in MEASURES)
    return found if {"year", "code", "country"} <= found.keys() and has_measure else None


def normalise_code(value: object) -> str:
    """Spell an IFR code as the seed does: 16.0 -> "16", "ind10_12" -> "10-12", "AB"/"A_B" -> "A-B"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    code = str(value).strip()
    code = re.sub(r"^ind", "", code, flags=re.IGNORECASE).replace("_", "-")
    return "A-B" if code.upper() in ("AB", "A-B") else code


def parse_count(value: object, decimal_comma: bool) -> tuple[int | None, str | None]:
    """Parse a robot count cell: (value or None if blank, None) or (None, reason it is unusable)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool):
        return None, "not a number"
    if isinstance(value, int | float):
        num = float(value)
    else:
        text = re.sub(r"[\s\u00a0\u202f']", "", str(value))
        if decimal_comma:
            # read.csv2 style: '.' groups thousands, ',' marks decimals.
            text = text.replace(".", "").replace(",", ".")
        elif re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d*)?", text):
            text = text.replace(",", "")
        try:
            num = float(text)
        except ValueError:
            return None, "not a number"
    if not math.isfinite(num):
        return None, "not a finite number"
    if num < 0:
        return None, "negative robot count"
    if not num.is_integer():
        return None, "robot counts are whole units; got a fraction"
    return int(num), None


def _iter_xlsx(path: Path):
    """Yield (sheet, header map, decimal_comma, [(row number, cells)]) for each sheet with an IFR header."""
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:  # openpyxl's kinds
        raise SourceFormatError(path, f"cannot be opened as an .xlsx workbook: {exc}",
                                expected=EXPECTED) from exc
    try:
        for ws in wb.worksheets:
            rows = list(ws.iter_rows(values_only=True))
            for h in range(min(10, len(rows))):
                header = map_header(list(rows[h]))
                if header:
                    yield ws.title, header, False, [(h + 2 + k, list(r)) for k, r in enumerate(rows[h + 1:])]
                    break
    finally:
        wb.close()


def _iter_csv(path: Path):
    """Yield the single (None, header map, decimal_comma, rows) block of a `,` or `;` separated export."""
    raw = path.read_bytes()
    # R on Windows writes the native code page; latin-1 never fails, so `text` is always set.
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    lines = text.splitlines()
    if not lines:
        raise SourceFormatError(path, "empty file", expected=EXPECTED)
    # read.csv2 exports use ';' with a decimal comma; plain CSV uses ',' with a decimal point.
    sep = ";" if lines[0].count(";") > lines[0].count(",") else ","
    rows = list(csv.reader(lines, delimiter=sep))
    header = map_header(rows[0])
    if header is None:
        raise SourceFormatError(path, f"header {rows[0]!r} is not an IFR long layout", row=1,
                                expected=EXPECTED)
    yield None, header, sep == ";", [(k + 2, r) for k, r in enumerate(rows[1:])]


def _vintage_problem(code: str, label: str) -> str | None:
    """Name the older-vintage numbering when a 90/91 label contradicts the newer classification."""
    low = label.lower()
    manuf = "manufactur" in low and "non-manufactur" not in low and "non manufactur" not in low
    if code == "90" and manuf:
        return "older IFR vintage: 90 labelled as other manufacturing (the newer tables call that 91)"
    if code == "91" and ("non-manufactur" in low or "non manufactur" in low):
        return "older IFR vintage: 91 labelled as other non-manufacturing (the newer tables call that 90)"
    return None


def _parse_row(cells: list, hdr: dict[str, int], decimal_comma: bool,
               labels: dict[str, str]) -> tuple[dict | None, tuple[str, str, object] | None]:
    """Turn one data row into a record, or return (None, (reason, column, value)) saying why not."""
    def cell(field: str) -> object:
        """The row's value for a mapped field, or None when the column is absent or the row is short."""
        i = hdr.get(field)
        return cells[i] if i is not None and i < len(cells) else None

    country_raw = str(cell("country") or "").strip()
    country = country_raw.upper() if _ISO2.match(country_raw) else COUNTRY_NAMES.get(_norm(country_raw))
    if not country:
        return None, ("country is not an ISO-2 code or a known country name", "country", country_raw)
    if isinstance(cell("code"), datetime | date):
        return None, ("industry code became a date (a spreadsheet program read e.g. 10-12 as 12 Oct)",
                      "industry_code", cell("code"))
    code = normalise_code(cell("code"))
    if not code:
        return None, ("missing IFR industry code", "industry_code", None)
    if code not in labels:
        why = ("older IFR classification code (not in the newer ISIC Rev.4-based tables)"
               if code in OLD_VINTAGE_CODES else "unknown IFR industry code")
        return None, (why, "industry_code", code)
    vintage = _vintage_problem(code, str(cell("label") or ""))
    if vintage:
        return None, (vintage, "industry_label", cell("label"))
    year, why = parse_count(cell("year"), decimal_comma)
    if why or year is None or not 1950 <= year <= 2100:
        return None, ("year is not a whole number between 1950 and 2100", "year", cell("year"))
    record = {"country": country, "industry_code": code, "industry_label": labels[code], "year": year}
    for m in MEASURES:
        record[m], why = parse_count(cell(m), decimal_comma)
        if why:
            return None, (f"{why} in {m}", m, cell(m))
    return record, None


def check_subtotals(table: pd.DataFrame, industries: pd.DataFrame) -> list[dict]:
    """Compare each present parent code with the sum of its children (all present); return the mismatches."""
    children = industries[industries["parent_code"] != ""].groupby("parent_code")["ifr_code"].apply(list)
    out = []
    for (country, year), grp in table.groupby(["country", "year"], sort=True):
        by_code = grp.set_index("industry_code")
        for parent, kids in children.items():
            if parent not in by_code.index or not set(kids) <= set(by_code.index):
                continue
            for measure in MEASURES:
                top = by_code.at[parent, measure]
                parts = by_code.loc[kids, measure]
                if pd.isna(top) or parts.isna().any():
                    continue
                gap = int(top) - int(parts.sum())
                if abs(gap) > 0.5 * len(kids):
                    out.append({"country": country, "year": int(year), "parent": parent, "measure": measure,
                                "value": int(top), "sum": int(parts.sum()), "n": len(kids),
                                "file": by_code.at[parent, "source_file"],
                                "sheet": by_code.at[parent, "sheet"], "row": int(by_code.at[parent, "row"])})
    return out


def read_ifr(folder: Path) -> LoadResult:
    """Read every IFR export in `folder` into one long table of robot installations and stock."""
    folder = require_dir(Path(folder), EXPECTED)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".xlsx", ".csv")
                   and not p.name.startswith(("~$", ".")))
    if not files:
        raise MissingSourceError(folder / "*.xlsx", EXPECTED)
    industries = load_ifr_industries()
    labels = dict(zip(industries["ifr_code"], industries["ifr_label"], strict=True))
    rejects = Rejects(SOURCE)
    rows: list[dict] = []
    seen: dict[tuple, str] = {}
    for path in files:
        blocks = list(_iter_xlsx(path) if path.suffix.lower() == ".xlsx" else _iter_csv(path))
        if not blocks:
            raise SourceFormatError(path, "no sheet has an IFR long-layout header in its first 10 rows",
                                    expected=EXPECTED)
        for sheet, hdr, decimal_comma, data in blocks:
            for rownum, cells in data:
                if all(c is None or str(c).strip() == "" for c in cells):
                    continue
                record, problem = _parse_row(cells, hdr, decimal_comma, labels)
                if record is not None:
                    key = (record["country"], record["industry_code"], record["year"])
                    if key in seen:
                        problem = (f"duplicate {' '.join(map(str, key))}; first at {seen[key]}",
                                   "industry_code", record["industry_code"])
                    else:
                        seen[key] = f"{path.name}{f' sheet {sheet!r}' if sheet else ''} row {rownum}"
                        rows.append({**record, "source_file": str(path), "sheet": sheet, "row": rownum})
                        continue
                reason, field, value = problem
                rejects.add(path, reason, sheet=sheet, row=rownum, column=field, value=value)
    table = pd.DataFrame(rows, columns=COLUMNS).astype({
        "country": "string", "industry_code": "string", "industry_label": "string", "year": "int64",
        "installations": "Int64", "operational_stock": "Int64", "source_file": "string", "sheet": "string",
        "row": "int64"})
    for m in check_subtotals(table, industries):
        rejects.add(m["file"], f"subtotal mismatch (row kept): {m['country']} {m['year']} {m['parent']} "
                    f"{m['measure']} = {m['value']} but its {m['n']} sub-codes sum to {m['sum']}",
                    sheet=None if pd.isna(m["sheet"]) else m["sheet"], row=m["row"], column=m["measure"],
                    value=m["value"])
    return LoadResult(table=table, rejected=rejects.frame(), files=files)
