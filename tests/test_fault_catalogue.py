"""Fault catalogue: one generated file per fault class, each giving a located error or a quarantine row.

Every case writes the smallest real-format file (an edition workbook or a vendor panel) that carries
exactly one fault, reads it with `read_yearbook` and asserts either the error (its class, text and
location: file, sheet, row, column) or the rejected row (file, sheet, row, column and reason), and that
nothing else was silently lost or kept. docs/faults.md lists the same classes with what the user sees.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from openpyxl import Workbook
from scratch_warehouse import ScratchWarehouse

from dagster_project.sources.common import MissingSourceError, SourceFormatError
from dagster_project.sources.yearbook import read_yearbook

ED = "中国城市统计年鉴2011.xlsx"  # edition 2011 = data year 2010
PANEL = "中国城市统计年鉴地级市面板数据.csv"
GDP = [["城市", "City", "地区生产总值", None], [None, None, "全市", "市辖区"]]


def book(folder: Path, header: list[list], rows: list[list], *, name: str = ED, unit: str | None = None) -> None:
    """An edition workbook: title (row 1), unit row (row 2), header rows, data rows; sheet '2-4'."""
    wb = Workbook()
    ws = wb.active
    ws.title = "2-4"
    ws.append(["2-4 综合经济指标"])
    ws.append([None] * (len(header[0]) - 1) + [unit] if unit else [None])
    for r in header + rows:
        ws.append(r)
    folder.mkdir(parents=True, exist_ok=True)
    wb.save(folder / name)


def panel(folder: Path, text: str, *, name: str = PANEL, encoding: str = "utf-8") -> None:
    """A vendor panel CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(text.encode(encoding))


@dataclass(frozen=True)
class Quarantined:
    """Expected rejected row: file, sheet, row, column and a fragment of the reason."""

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    reason: str
    n: int = 1  # how many rejected rows carry this reason
    kept: int | None = None  # cells left in the tidy table


@dataclass(frozen=True)
class Fails:
    """Expected error: its class and a regex its message must match (with the location)."""

    error: type[Exception]
    match: str


def _truncated(folder: Path) -> None:
    """An edition workbook cut in half (an interrupted download)."""
    book(folder / "src", GDP, [["石家庄", "a", 1, 2]] * 50)
    data = (folder / "src" / ED).read_bytes()
    (folder / ED).write_bytes(data[: len(data) // 2])
    shutil.rmtree(folder / "src")


CASES: dict[str, tuple[Callable[[Path], None], Quarantined | Fails]] = {
    # ---- layout faults: the file cannot be read as published -> located error
    "duplicated_header": (
        lambda f: book(f, [["城市", "地区生产总值", "国内生产总值"], [None, "全市", "全市"]], [["石家庄", 1, 1]]),
        Fails(SourceFormatError, rf"{ED}, sheet '2-4', row 3, column 'C': duplicated header")),
    "header_matches_no_scope": (
        lambda f: book(f, [["城市", "建成区面积"], [None, "全市"]], [["石家庄", 200]]),
        Quarantined(ED, "2-4", 3, "B", "does not publish for scope 'city'", kept=0)),
    "unknown_unit": (
        lambda f: book(f, [["城市", "地区生产总值", None], [None, "千亿元", None], [None, "全市", "市辖区"]],
                       [["石家庄", 1.2, 0.8]]),
        Fails(SourceFormatError, rf"{ED}, sheet '2-4', row 3, column 'B': unit '千亿元'")),
    "truncated_workbook": (_truncated, Fails(SourceFormatError, rf"{ED}.*truncated or corrupt")),
    "table_without_rows": (lambda f: book(f, GDP, []),
                           Fails(SourceFormatError, rf"{ED}, sheet '2-4', row 3, column 'A': .*no data rows")),
    "unknown_edition": (lambda f: book(f, GDP, [["石家庄", "a", 1, 2]], name="中国城市统计年鉴1994.xlsx"),
                        Fails(SourceFormatError, r"中国城市统计年鉴1994\.xlsx: edition 1994 has no data year")),
    "undecodable_csv": (lambda f: (f.mkdir(parents=True), (f / PANEL).write_bytes(b"\xff\xfe\xfa\x81\x30")),
                        Fails(SourceFormatError, rf"{PANEL}, row 1: text is neither UTF-8 nor GBK")),
    "panel_without_id_columns": (lambda f: panel(f, "城市名,地区生产总值_当年价格_全市_万元\n石家庄市,1\n"),
                                 Fails(SourceFormatError, rf"{PANEL}, row 1: vendor panel header .* lacks the ID")),
    "broken_stata_file": (lambda f: panel(f, "<stata_dta>garbage", name="面板.dta"),
                          Fails(SourceFormatError, r"面板\.dta, row 1: not a readable Stata file")),
    "empty_folder": (lambda f: f.mkdir(parents=True),
                     Fails(MissingSourceError, r"missing source input: .*中国城市统计年鉴<edition>\.xlsx")),
    # ---- cell and row faults: the rest of the file is usable -> quarantine row, the rest loads
    "unmapped_header": (
        lambda f: book(f, [["城市", "地区幸福总值"], [None, "全市"]], [["石家庄", 5]]),
        Quarantined(ED, "2-4", 3, "B", "unmapped header", kept=0)),
    "text_in_numeric_cell": (
        lambda f: book(f, GDP, [["石家庄", "a", "见附表", 60]]),
        Quarantined(ED, "2-4", 5, "C", "not a number in numeric column gdp_10k_yuan", kept=1)),
    "value_out_of_range": (
        lambda f: book(f, GDP, [["石家庄", "a", -5, 60]]),
        Quarantined(ED, "2-4", 5, "C", "outside the valid range", kept=1)),
    "interpolated_vendor_column": (
        lambda f: panel(f, "年份,城市,插值_全社会用电量万千瓦时,地区生产总值_当年价格_全市_万元\n2015,石家庄市,1,2\n"),
        Quarantined(PANEL, None, 1, "C", "interpolated vendor column", kept=1)),
    "values_without_city_name": (
        lambda f: book(f, GDP, [["石家庄", "a", 1, 2], [None, None, 3, 4]]),
        Quarantined(ED, "2-4", 6, "A", "values in a row without a city name", kept=2)),
    "aggregate_row": (
        lambda f: book(f, GDP, [["石家庄", "a", 1, 2], ["全国合计", "China", 9, 9]]),
        Quarantined(ED, "2-4", 6, "A", "aggregate row", kept=2)),
    "bad_year_in_panel": (
        lambda f: panel(f, "年份,城市,地区生产总值_当年价格_全市_万元\n二〇一五,石家庄市,5\n2015,唐山市,6\n"),
        Quarantined(PANEL, None, 2, "A", "年份 is not a year", kept=1)),
    # ---- faults that used to be absorbed silently (issue 14)
    "contradiction_within_one_file": (
        lambda f: panel(f, "年份,城市,行政区划代码,地区生产总值_当年价格_全市_万元\n"
                           "2015,石家庄市,130100,61002000\n2015,唐山市,130200,100\n2015,石家庄市,130100,61002999\n"),
        Quarantined(PANEL, None, 2, "D", "the same file gives 130100 2015 gdp_10k_yuan [city] different values",
                    n=2, kept=1)),
    "unit_ended_by_code": (
        lambda f: panel(f, "年份,城市,行政区划代码,年末户籍人口_万人_全市\n"
                           "2018,莱芜市,371200,137\n2019,莱芜市,371200,138\n"),
        Quarantined(PANEL, None, 3, "D", "city 371200 莱芜市 did not exist in 2019: merge into 370100 济南市",
                    kept=1)),
    "unit_ended_by_name": (
        lambda f: book(f, GDP, [["巢湖", "Chaohu", 5, 2]], name="中国城市统计年鉴2013.xlsx"),
        Quarantined("中国城市统计年鉴2013.xlsx", "2-4", 5, "C", "city 341400 巢湖市 did not exist in 2012",
                    n=2, kept=0)),
    "vendor_zero_gdp": (
        lambda f: panel(f, "年份,城市,地区生产总值_当年价格_全市_万元,年末户籍人口_万人_全市\n2015,石家庄市,0,1000\n"),
        Quarantined(PANEL, None, 2, "C", "zero 地区生产总值（全市） (gdp_10k_yuan) stands for a missing value",
                    kept=1)),
    "vendor_zero_population": (
        lambda f: panel(f, "年份,城市,地区生产总值_当年价格_全市_万元,年末户籍人口_万人_全市\n2015,石家庄市,500,0\n"),
        Quarantined(PANEL, None, 2, "D", "stands for a missing value", kept=1)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fault_is_located_or_quarantined(case: str, tmp_path: Path) -> None:
    """The fault gives its located error, or exactly its quarantine rows with the rest of the file kept."""
    build, want = CASES[case]
    folder = tmp_path / "yearbook"
    build(folder)
    if isinstance(want, Fails):
        with pytest.raises(want.error, match=want.match):
            read_yearbook(folder)
        return
    res = read_yearbook(folder)
    hits = res.rejected[res.rejected["reason"].str.contains(want.reason, regex=False)]
    assert len(hits) == want.n, res.rejected.to_dict("records")
    first = hits.sort_values("row").iloc[0]
    got = tuple(None if pd.isna(v) else v for v in (first["file"], first["sheet"], first["row"], first["column"]))
    assert got == (want.file, want.sheet, want.row, want.column), got
    assert len(res.rejected) == want.n, "no other rejection hides in the case"
    if want.kept is not None:
        assert len(res.table) == want.kept


def test_agreeing_duplicates_within_a_file_are_kept(tmp_path: Path) -> None:
    """The same number printed twice in one file is not a contradiction: both cells stay (the precedence
    rule keeps one), nothing is quarantined."""
    panel(tmp_path, "年份,城市,地区生产总值_当年价格_全市_万元\n2015,石家庄市,5\n2015,石家庄市,5\n")
    res = read_yearbook(tmp_path)
    assert res.rejected.empty and len(res.table) == 2


def test_unresolved_names_are_listed_with_their_location(scratch: ScratchWarehouse) -> None:
    """Names that resolve to no code fail the yearbook model with every name, its data year, cell count
    and first file/sheet/row in the dbt error itself (issue 14: the audit table vanishes with the failed
    staging copy). 襄樊市 in 2012 (renamed at the end of 2010) and an invented name are planted in the
    yearbook cells, an invented label in the CEADs city inventory."""
    wh = scratch.path
    conn = duckdb.connect(str(wh))
    try:
        row = conn.execute("select * from raw.yearbook_indicators limit 1").df()
        bad = pd.concat([row] * 3, ignore_index=True)
        bad["city_name"] = ["襄樊市", "不存在市", "不存在市"]
        bad["city_code_given"] = None
        bad["province_name"] = ["湖北省", None, None]
        bad["year"] = [2012, 2012, 2013]
        bad["source_file"] = "my_panel.csv"
        bad["sheet"] = None
        bad["row"] = [2, 3, 4]
        conn.register("bad", bad)
        conn.execute("insert into raw.yearbook_indicators select * from bad")
        ceads = conn.execute("select * from raw.ceads_city_emissions limit 1").df()
        ceads["ceads_name"], ceads["row"] = "火星北京", 999
        conn.register("ceads", ceads)
        conn.execute("insert into raw.ceads_city_emissions select * from ceads")
    finally:
        conn.close()
    run = scratch.dbt("run", "--select", "stg_yearbook__indicators", "int_yearbook__cells_resolved",
                      "stg_ceads__city_emissions", "int_emissions__ceads_city_resolved")
    assert run.returncode != 0
    out = run.stdout
    assert "3 city name(s) in int_yearbook__cells_resolved did not resolve" in out, out[-3000:]
    assert "襄樊市, province_name 湖北省 (data year 2012, 1 cells; first at file my_panel.csv, sheet -, row 2)" in out
    assert "不存在市 (data year 2012, 1 cells; first at file my_panel.csv, sheet -, row 3)" in out
    assert "不存在市 (data year 2013, 1 cells; first at file my_panel.csv, sheet -, row 4)" in out
    # The CEADs city inventory's labels go through the same hook.
    assert "1 city name(s) in int_emissions__ceads_city_resolved did not resolve" in out
    assert "火星北京 (data year" in out and ", row 999)" in out
