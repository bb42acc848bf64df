"""Reading .xlsx workbooks as openpyxl's `values_only` rows, parsed by calamine (Rust) instead of Python.

Rows run from row 1 and column A to the last used row and column (every row as wide as the sheet, None
where a cell is empty). Numbers are int when integral and below 1e16 in magnitude (how Excel and openpyxl
write them: no fraction, no exponent), float otherwise; empty text is None; formulas give their cached
values. Dates stay the serial numbers stored in the file, error cells their code (`#N/A`), ISO-date cells
their text: calamine turns the first into date objects and the other two into empty cells, so the sheets
holding them are read again in Python for those cells (publisher tables almost never have them).
A truncated or corrupt file raises `SourceFormatError` naming the file (and the sheet when known).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

from python_calamine import CalamineError, CalamineWorkbook

from dagster_project.sources.common import SourceFormatError

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_BROKEN = (zipfile.BadZipFile, KeyError, EOFError, OSError, ValueError, zlib.error, ET.ParseError, CalamineError)
# Cells calamine cannot give as stored: errors (t="e") and ISO dates (t="d"), in any attribute quoting.
# The pattern starts with a literal so the search skips ahead quickly; `_has_raw_cells` checks the `\s`.
_RAW_TYPE_RE = re.compile(rb"""t\s*=\s*["'][ed]["']""")
# What calamine makes of numbers in a date or duration format (datetime is a subclass of date).
_TEMPORAL = (dt.date, dt.time, dt.timedelta)
# Integral numbers below this are written without fraction or exponent by Excel and openpyxl (repr).
_INT_LIMIT = 1e16


def broken_workbook(path: Path, exc: Exception, sheet: str | None = None) -> SourceFormatError:
    """Return the error for a workbook that cannot be read to the end (truncated or corrupt)."""
    return SourceFormatError(
        path,
        f"cannot read the workbook, it is truncated or corrupt ({type(exc).__name__}: {exc})",
        sheet=sheet,
        expected="a complete .xlsx (Office Open XML) file",
    )


def read_xlsx(path: Path) -> list[tuple[str, list[tuple]]]:
    """Return [(sheet name, rows as value tuples from row 1)] of an .xlsx, like openpyxl's values_only.

    Worksheets come in workbook order, hidden ones included; chartsheets and dialogs hold no cells and
    are left out. See the module docstring for how values are typed.
    """
    if path.suffix.lower() == ".xls":
        raise SourceFormatError(
            path,
            "legacy .xls workbooks cannot be read",
            expected="an .xlsx workbook (unlock and re-save the CNKI download as .xlsx)",
        )
    sheet = None
    try:
        with zipfile.ZipFile(path) as z:
            # The sheet XML is only searched for the cells calamine cannot give as stored (cheap next to
            # parsing it); reading it first also names the sheet whose compressed part is damaged.
            xml = {}
            for sheet, part in _worksheet_parts(z).items():
                xml[sheet] = z.read(part)
            sheet = None
        out = []
        with CalamineWorkbook.from_path(str(path)) as book:
            for sheet, data in xml.items():
                out.append((sheet, _rows(book.get_sheet_by_name(sheet).to_python(skip_empty_area=False), data)))
    except _BROKEN as exc:
        raise broken_workbook(path, exc, sheet=sheet) from exc
    return out


def _worksheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Return {sheet name: zip part} of a workbook's worksheets, in workbook order."""
    book = ET.fromstring(z.read("xl/workbook.xml"))
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL}Relationship")}
    parts = {}
    for sh in book.iter(f"{_MAIN}sheet"):
        target = targets.get(sh.get(f"{_REL}id"), "")
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        if "worksheets/" in part:  # chartsheets and dialogs hold no cells
            parts[sh.get("name")] = part
    return parts


def _rows(grid: list[list], data: bytes) -> list[tuple]:
    """Turn calamine's rows into value tuples, taking from the XML the cells calamine changes."""
    # One pass in comprehension form: this runs for every cell of every workbook.
    rows = [
        [(int(v) if v.is_integer() and -_INT_LIMIT < v < _INT_LIMIT else v) if v.__class__ is float
         else None if v == "" else v for v in r]
        for r in grid
    ]
    temporal: set[tuple[int, int]] = set()
    if any(issubclass(k, _TEMPORAL) for k in set(map(type, chain.from_iterable(rows)))):
        temporal = {(i, j) for i, r in enumerate(rows) for j, v in enumerate(r) if isinstance(v, _TEMPORAL)}
    if temporal or _has_raw_cells(data):
        _restore_stored(rows, data, temporal)
    return [tuple(r) for r in rows]


def _has_raw_cells(data: bytes) -> bool:
    """Whether a worksheet's XML holds error or ISO-date cells (a `t` attribute of "e" or "d")."""
    return any(data[m.start() - 1: m.start()].isspace() for m in _RAW_TYPE_RE.finditer(data))


def _restore_stored(rows: list[list], data: bytes, temporal: set[tuple[int, int]]) -> None:
    """Put back the stored value of error, ISO-date and date-formatted cells (positions in `temporal`)."""
    row_tag, v_tag = f"{_MAIN}row", f"{_MAIN}v"
    i = -1
    for _, el in ET.iterparse(io.BytesIO(data), events=("end",)):
        if el.tag != row_tag:
            continue
        r = el.get("r")
        i = int(r) - 1 if r is not None else i + 1
        j = -1
        for c in el:
            ref = c.get("r")
            j = _col_index(ref.rstrip("0123456789")) if ref is not None else j + 1
            t = c.get("t")
            if t in ("e", "d") or (i, j) in temporal:
                text = c.findtext(v_tag)
                value = text if text is None or t in ("e", "d") else _number(text)
                while len(rows) <= i:  # calamine's range holds these cells; this only guards the index
                    rows.append([])
                if j >= len(rows[i]):
                    rows[i].extend([None] * (j + 1 - len(rows[i])))
                rows[i][j] = value
        el.clear()
    width = max(map(len, rows), default=0)
    for r in rows:
        r.extend([None] * (width - len(r)))


def _col_index(letters: str) -> int:
    """Return the 0-based column index of column letters such as `AB`."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _number(text: str) -> int | float:
    """Return a stored number as int when it is written without a fraction or exponent."""
    return float(text) if "." in text or "E" in text or "e" in text else int(text)


class Sheet:
    """One worksheet's rows, with the subset of openpyxl's read-only worksheet API the readers use."""

    def __init__(self, title: str, rows: list[tuple]) -> None:
        self.title = title
        self._rows = rows

    def iter_rows(self, min_row: int = 1, max_row: int | None = None, max_col: int | None = None,
                  values_only: bool = True) -> Iterator[tuple]:
        """Yield rows as value tuples (1-based `min_row`/`max_row`, like openpyxl)."""
        for row in self._rows[min_row - 1: max_row]:
            yield row[:max_col] if max_col is not None else row


class Workbook:
    """An .xlsx read eagerly with `read_xlsx`, addressed like an openpyxl workbook."""

    def __init__(self, path: Path) -> None:
        self._sheets = {name: Sheet(name, rows) for name, rows in read_xlsx(path)}
        self.sheetnames = list(self._sheets)

    def __getitem__(self, name: str) -> Sheet:
        return self._sheets[name]

    def close(self) -> None:
        """Nothing to release (the file was closed after reading)."""
