"""The .xlsx reader (calamine underneath): stored values exactly, checked against openpyxl and hand-written XML."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from dagster_project.sources.common import SourceFormatError
from dagster_project.sources.xlsx import Workbook, read_xlsx

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
# Cell formats 1-3 are a date, a date-time and a duration: the reader must still give the stored serials.
STYLES = (
    f'<styleSheet {NS}><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    '<fonts count="1"><font/></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="4">'
    '<xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="164" applyNumberFormat="1"/>'
    '<xf numFmtId="46" applyNumberFormat="1"/></cellXfs></styleSheet>'
)
# Shared strings as Chinese and Japanese workbooks store them: rich-text runs and phonetic (rPh) runs.
SHARED = (
    f'<sst {NS} count="5" uniqueCount="5"><si><t>北京</t></si><si><t></t></si>'
    '<si><t xml:space="preserve">  pad </t></si>'
    '<si><r><t>富</t></r><r><rPr><b/></rPr><t>文本</t></r><rPh sb="0" eb="1"><t>フ</t></rPh></si>'
    '<si><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh><phoneticPr fontId="0"/></si></sst>'
)
DATA = (
    '<row r="3"><c r="C3" t="s"><v>0</v></c><c r="D3" t="s"><v>1</v></c><c r="E3" t="s"><v>2</v></c>'
    '<c r="F3" t="s"><v>3</v></c><c r="G3" t="s"><v>4</v></c></row>'
    '<row r="4"><c r="B4"><v>2</v></c><c r="C4"><v>2.5</v></c><c r="D4"><v>1e+20</v></c>'
    '<c r="E4" t="n"><v>-0</v></c><c r="F4"><v>1E-3</v></c><c r="G4"><v>123456789012345</v></c></row>'
    '<row r="5"><c r="B5" s="1"><v>45000</v></c><c r="C5" s="1"><v>60</v></c><c r="D5" s="1"><v>61</v></c>'
    '<c r="E5" s="2"><v>0.5</v></c><c r="F5" s="2"><v>45000.25</v></c><c r="G5" s="3"><v>1.5</v></c>'
    '<c r="H5" s="1"><v>1</v></c><c r="I5" s="1"><v>0</v></c><c r="J5" s="2"><v>45000.123456789</v></c></row>'
    '<row r="6"><c r="B6" t="e"><v>#N/A</v></c><c r="C6" t="e"><v>#DIV/0!</v></c><c r="D6" t="b"><v>1</v></c>'
    '<c r="E6" t="b"><v>0</v></c><c r="F6" t="str"><f>A1</f><v>formula text</v></c>'
    '<c r="G6"><f>1+1</f><v>2</v></c><c r="H6"><f>1+1</f></c><c r="I6" t="d"><v>2020-01-02T00:00:00</v></c></row>'
    '<row r="7"><c r="B7" t="inlineStr"><is><t>inline &amp; &lt;x&gt;</t></is></c>'
    '<c r="D7" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is></c><c r="E7" s="1"/>'
    '<c r="F7" t="s"><v>1</v></c><c r="G7" t="inlineStr"><is><t></t></is></c></row>'
    '<row r="9" s="1" customFormat="1"/>'
    '<row r="10"><c r="A10" t="str"><f>""</f><v></v></c><c r="C10" t="e"><v>#VALUE!</v></c>'
    '<c r="E10"><v>7</v></c></row>'
    '<row r="12"><c r="D12" s="1"/></row>'
)
# What DATA stores, cell by cell (rows 1-10, columns A-J: the last row and column holding a value).
N = None
DATA_ROWS = [
    (N,) * 10,
    (N,) * 10,
    (N, N, "北京", N, "  pad ", "富文本", "東京", N, N, N),
    (N, 2, 2.5, 1e20, 0, 0.001, 123456789012345, N, N, N),
    (N, 45000, 60, 61, 0.5, 45000.25, 1.5, 1, 0, 45000.123456789),
    (N, "#N/A", "#DIV/0!", True, False, "formula text", 2, N, "2020-01-02T00:00:00", N),
    (N, "inline & <x>", N, "ab", N, N, N, N, N, N),
    (N,) * 10,
    (N,) * 10,
    (N, N, "#VALUE!", N, 7, N, N, N, N, N),
]


def _worksheet(body: str, tail: str = "") -> str:
    """A worksheet part around some sheetData rows."""
    return f"<worksheet {NS}><sheetData>{body}</sheetData>{tail}</worksheet>"


def _package(path: Path, sheets: list[tuple[str, str, str]], *, shared: str | None = None,
             date1904: bool = False, hidden: frozenset[str] = frozenset()) -> Path:
    """Write an .xlsx by hand from (name, kind "worksheet"/"chartsheet", part XML), as publishers' tools do."""
    ct = ['<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/styles.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>']
    book = [f"<workbook {NS} {REL_NS}>", '<workbookPr date1904="1"/>' if date1904 else "", "<sheets>"]
    rels = ['<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rIdS" Type="{OFFICE_REL}/styles" Target="styles.xml"/>']
    parts = {}
    for i, (name, kind, xml) in enumerate(sheets, start=1):
        part = f"{kind}s/sheet{i}.xml"
        parts[f"xl/{part}"] = xml
        ct.append(f'<Override PartName="/xl/{part}" '
                  f'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.{kind}+xml"/>')
        state = ' state="hidden"' if name in hidden else ""
        book.append(f'<sheet name="{name}" sheetId="{i}"{state} r:id="rId{i}"/>')
        rels.append(f'<Relationship Id="rId{i}" Type="{OFFICE_REL}/{kind}" Target="{part}"/>')
    if shared is not None:
        parts["xl/sharedStrings.xml"] = shared
        ct.append('<Override PartName="/xl/sharedStrings.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
        rels.append(f'<Relationship Id="rIdT" Type="{OFFICE_REL}/sharedStrings" Target="sharedStrings.xml"/>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "".join([*ct, "</Types>"]))
        z.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{OFFICE_REL}/officeDocument" Target="xl/workbook.xml"/>'
                   "</Relationships>")
        z.writestr("xl/workbook.xml", "".join([*book, "</sheets></workbook>"]))
        z.writestr("xl/_rels/workbook.xml.rels", "".join([*rels, "</Relationships>"]))
        z.writestr("xl/styles.xml", STYLES)
        for name, xml in parts.items():
            z.writestr(name, xml)
    return path


def _typed(rows: list[tuple]) -> list[tuple]:
    """Rows as (type name, value) pairs, so that 2 and 2.0 or 1 and True differ."""
    return [tuple((type(v).__name__, v) for v in r) for r in rows]


def _canonical(rows: list[tuple]) -> list[tuple]:
    """Typed rows without trailing empty cells and rows; empty text counts as an empty cell."""
    out = []
    for r in rows:
        vals = [None if v == "" else v for v in r]
        while vals and vals[-1] is None:
            vals.pop()
        out.append(tuple(vals))
    while out and not out[-1]:
        out.pop()
    return _typed(out)


def _openpyxl_rows(path: Path) -> list[tuple[str, list[tuple]]]:
    """Every worksheet's stored values as openpyxl reads them (an independent implementation)."""
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        out = []
        for ws in wb.worksheets:
            ws.reset_dimensions()  # a stale <dimension> must not cut rows short
            out.append((ws.title, [tuple(r) for r in ws.iter_rows(values_only=True)]))
        return out
    finally:
        wb.close()


def _assert_agrees_with_openpyxl(path: Path) -> int:
    """Assert read_xlsx gives openpyxl's sheets, values and types; return the number of cells compared."""
    ours, ref = read_xlsx(path), _openpyxl_rows(path)
    assert [n for n, _ in ours] == [n for n, _ in ref], path.name
    cells = 0
    for (name, rows), (_, expected) in zip(ours, ref, strict=True):
        assert len({len(r) for r in rows}) <= 1, f"{path.name} {name}: rows are not all as wide as the sheet"
        assert _canonical(rows) == _canonical(expected), f"{path.name} {name}"
        cells += sum(len(r) for r in rows)
    return cells


# ----------------------------------------------------------------------------------- independent references


def test_every_real_workbook_reads_as_openpyxl_reads_it(shared_data: Path) -> None:
    """Every .xlsx under shared/data, every sheet: the same values and Python types as openpyxl (exact).

    Achieved: identical (value and type of every cell, 4 workbooks, ~170k cells); asserted: identical, after
    dropping trailing empty cells/rows (openpyxl pads to the stored dimension, we to the used range) and
    reading empty text as an empty cell.
    """
    books = sorted(shared_data.rglob("*.xlsx"))
    assert len(books) >= 4
    assert sum(_assert_agrees_with_openpyxl(p) for p in books) > 100_000


def test_every_sample_workbook_kind_reads_as_openpyxl_reads_it(sample_dir: Path) -> None:
    """The first and last workbook of every sample folder (every sheet): the same values and types as openpyxl.

    Achieved: identical; asserted: identical (same normalisation as for the real files).
    """
    folders = sorted({p.parent for p in sample_dir.rglob("*.xlsx")})
    assert len(folders) >= 6  # yearbook, CEADs city/provincial/county, IFR, historical, urban construction
    for folder in folders:
        books = sorted(folder.glob("*.xlsx"))
        for path in {books[0], books[-1]}:
            assert _assert_agrees_with_openpyxl(path) > 0, path


def test_stored_values_are_read_exactly(tmp_path: Path) -> None:
    """A hand-written workbook with every cell kind reads as its XML stores it (exact values and types).

    Covers leading empty rows/columns, int vs float, date/time/duration formats (serials kept, 1900 leap
    day 60 included), errors, booleans, formula cached values, ISO-date cells, inline and rich/phonetic
    shared strings, empty text, merged cells, a hidden sheet, a chartsheet (left out), namespace prefixes
    with single quotes, cells without references and an empty sheet.
    """
    prefixed = ("<x:worksheet xmlns:x='http://schemas.openxmlformats.org/spreadsheetml/2006/main'><x:sheetData>"
                "<x:row r='2'><x:c r='B2' t='s'><x:v>4</x:v></x:c><x:c r='C2'><x:v>3</x:v></x:c>"
                "<x:c r='D2' t='e'><x:v>#REF!</x:v></x:c></x:row></x:sheetData></x:worksheet>")
    chart = ('<chartsheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetViews>'
             '<sheetView workbookViewId="0"/></sheetViews></chartsheet>')
    path = _package(tmp_path / "edge.xlsx", [
        ("数据", "worksheet", _worksheet(DATA, '<mergeCells count="1"><mergeCell ref="B7:C7"/></mergeCells>')),
        ("Hidden", "worksheet", _worksheet('<row r="2"><c r="B2"><v>5</v></c></row>')),
        ("Chart1", "chartsheet", chart),
        ("Prefixed", "worksheet", prefixed),
        ("NoRefs", "worksheet", _worksheet('<row><c><v>1</v></c><c t="s"><v>0</v></c></row>'
                                           '<row><c/><c s="1"><v>2</v></c></row>')),
        ("Empty", "worksheet", _worksheet("")),
    ], shared=SHARED, hidden=frozenset({"Hidden"}))
    got = read_xlsx(path)
    assert [n for n, _ in got] == ["数据", "Hidden", "Prefixed", "NoRefs", "Empty"]
    sheets = dict(got)
    assert _typed(sheets["数据"]) == _typed(DATA_ROWS)
    assert _typed(sheets["Hidden"]) == _typed([(N, N), (N, 5)])
    assert _typed(sheets["Prefixed"]) == _typed([(N, N, N, N), (N, "東京", 3, "#REF!")])
    assert _typed(sheets["NoRefs"]) == _typed([(1, "北京"), (N, 2)])
    assert sheets["Empty"] == []
    # The openpyxl-like wrapper the CEADs readers use gives the same rows.
    wb = Workbook(path)
    assert wb.sheetnames == [n for n, _ in got]
    assert list(wb["数据"].iter_rows(min_row=4, max_row=5, max_col=3)) == [(N, 2, 2.5), (N, 45000, 60)]


def test_1904_date_system_keeps_serials(tmp_path: Path) -> None:
    """Date cells of a Mac (1904) workbook read as their stored serials, not shifted by 1,462 days (exact)."""
    cells = ('<row r="1"><c r="A1" s="1"><v>0</v></c><c r="B1" s="1"><v>1</v></c><c r="C1" s="1"><v>43000</v></c>'
             '<c r="D1" s="2"><v>43000.5</v></c></row>')
    path = _package(tmp_path / "mac.xlsx", [("S", "worksheet", _worksheet(cells))], date1904=True)
    assert _typed(read_xlsx(path)[0][1]) == _typed([(0, 1, 43000, 43000.5)])


# ----------------------------------------------------------------------------------- damaged files


def test_truncated_workbook_names_the_file(shared_data: Path, tmp_path: Path) -> None:
    data = (shared_data / "ceads" / "County_CO2_emissions_1997_2017.xlsx").read_bytes()
    cut = tmp_path / "County_CO2_emissions_1997_2017.xlsx"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFormatError, match="truncated or corrupt") as err:
        read_xlsx(cut)
    assert err.value.file == str(cut) and "complete .xlsx" in str(err.value)


@pytest.mark.parametrize("end", ["</sheetData>", '<c r="A2">'])
def test_sheet_xml_ending_early_names_the_sheet(tmp_path: Path, end: str) -> None:
    """A sheet part cut short inside an intact zip (a writer that died mid-sheet) is refused, naming the sheet."""
    full = _worksheet('<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>')
    path = _package(tmp_path / "bad.xlsx", [
        ("ok", "worksheet", full),
        ("2-4", "worksheet", full[: full.index(end) + 3]),
    ])
    with pytest.raises(SourceFormatError, match="truncated or corrupt") as err:
        read_xlsx(path)
    assert err.value.file == str(path) and err.value.sheet == "2-4"


def test_damaged_compressed_sheet_names_the_sheet(tmp_path: Path) -> None:
    body = "".join(f'<row r="{i}"><c r="A{i}"><v>{i * 7919 % 1000}</v></c></row>' for i in range(1, 3000))
    path = _package(tmp_path / "crc.xlsx", [("只有一张", "worksheet", _worksheet(body))])
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF  # one flipped byte inside the deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(SourceFormatError, match="truncated or corrupt") as err:
        read_xlsx(path)
    assert err.value.sheet == "只有一张"


def test_html_saved_as_xlsx_and_legacy_xls_are_refused(tmp_path: Path) -> None:
    page = tmp_path / "中国城市统计年鉴2011.xlsx"  # what a CNKI download gives without a login
    page.write_text("<html><body>请登录</body></html>", encoding="utf-8")
    with pytest.raises(SourceFormatError, match="truncated or corrupt") as err:
        read_xlsx(page)
    assert err.value.file == str(page)
    xls = tmp_path / "中国城市统计年鉴2011.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    with pytest.raises(SourceFormatError, match=r"legacy \.xls workbooks cannot be read") as err:
        read_xlsx(xls)
    assert "re-save the CNKI download as .xlsx" in str(err.value)
