"""Real CCSY layouts beyond the one-table sheet: side-by-side blocks, 序号 ranking tables, Stata panels.

Files are generated here in the shapes ../shared/reference/ccsy-formats.md documents (§1(a) 7 and
§1(b) dialect A / E), with known values, and read back through `read_yearbook`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from dagster_project.sources.common import SourceFormatError
from dagster_project.sources.yearbook import read_yearbook


def _sheet(path: Path, rows: list[list], sheet: str = "5-23") -> Path:
    """Write one sheet of raw rows to an edition workbook."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _cells(res) -> dict[tuple[str, str, str], float]:
    """(city_name, variable, scope) -> value of a reader result."""
    t = res.table
    return {(r.city_name, r.variable, r.scope): r.value for r in t.itertuples()}


def test_side_by_side_blocks_are_stacked(tmp_path: Path) -> None:
    """Two city blocks next to each other (城市 twice in the header row) give one row per city, each cell
    located in its own block's column."""
    rows = [
        ["2-4 综合经济指标"],
        ["城市", "City", "地区生产总值", None, "城市", "City", "地区生产总值", None],
        [None, None, "全市", "市辖区", None, None, "全市", "市辖区"],
        ["石家庄", "Shijiazhuang", 100, 60, "太原", "Taiyuan", 300, 250],
        ["唐山", "Tangshan", 200, 90, "大同", "Datong", 120, None],
    ]
    res = read_yearbook(_sheet(tmp_path / "yb" / "中国城市统计年鉴2011.xlsx", rows).parent)
    assert res.rejected.empty
    got = _cells(res)
    assert got == {
        ("石家庄", "gdp_10k_yuan", "city"): 100, ("石家庄", "gdp_district_10k_yuan", "district"): 60,
        ("唐山", "gdp_10k_yuan", "city"): 200, ("唐山", "gdp_district_10k_yuan", "district"): 90,
        ("太原", "gdp_10k_yuan", "city"): 300, ("太原", "gdp_district_10k_yuan", "district"): 250,
        ("大同", "gdp_10k_yuan", "city"): 120,
    }
    t = res.table.set_index(["city_name", "variable"])
    assert t.loc[("大同", "gdp_10k_yuan"), "column"] == "G" and t.loc[("大同", "gdp_10k_yuan"), "row"] == 5
    assert set(res.table["year"]) == {2010}


def test_rank_tables_of_the_1998_2003_editions(tmp_path: Path) -> None:
    """`序号 | 城市 | 值 | 序号 | 城市 | 值` with the indicator and its scope in the title only
    (`1．年末总人口(不包括市辖县)` = registered population of the districts) and the unit as the value header."""
    rows = [
        ["1．年末总人口(不包括市辖县)"],
        ["序号", "城市", "万人", "序号", "城市", "万人"],
        [1, "上海市", 1262.4, 3, "天津市", 745.2],
        [2, "北京市", 1123.0, 4, "重庆市", None],
    ]
    res = read_yearbook(_sheet(tmp_path / "yb" / "中国城市统计年鉴1999.xlsx", rows, sheet="1").parent)
    assert res.rejected.empty
    assert _cells(res) == {
        ("上海市", "pop_district_10k", "district"): 1262.4, ("北京市", "pop_district_10k", "district"): 1123.0,
        ("天津市", "pop_district_10k", "district"): 745.2,
    }
    assert set(res.table["year"]) == {1998} and set(res.table["column"]) == {"C", "F"}


def test_rank_table_with_an_unknown_title_is_reported(tmp_path: Path) -> None:
    """A ranking table whose title names no dictionary variable is a rejected column, not a guess."""
    rows = [["7．人均道路面积(不包括市辖县)"], ["序号", "城市", "平方米"], [1, "上海市", 12.1]]
    res = read_yearbook(_sheet(tmp_path / "yb" / "中国城市统计年鉴1999.xlsx", rows, sheet="7").parent)
    assert res.table.empty
    bad = res.rejected[res.rejected.reason.str.contains("unmapped header")]
    assert len(bad) == 1 and bad.iloc[0]["column"] == "C" and "人均道路面积" in bad.iloc[0]["value"]


def test_stata_vendor_panel_with_chinese_names(tmp_path: Path) -> None:
    """Dialect A as Stata 14+ ships it (`1998～2022年中国城市统计年鉴地级市面板数据.dta`): Chinese variable
    names, the code stored as a number; values, years, codes and row numbers come back exactly."""
    df = pd.DataFrame({
        "年份": [2010, 2010, 2011], "省": ["河北省", "河北省", "河北省"], "市": ["石家庄市", "唐山市", "石家庄市"],
        "市代码": [130100.0, 130200.0, 130100.0],
        "地区生产总值_当年价格_亿元_全市": [3401.0, 4469.1, None],
        "年末户籍人口_万人_全市": [989.2, 747.6, 995.1],
    })
    folder = tmp_path / "yb"
    folder.mkdir()
    df.to_stata(folder / "1998～2022年中国城市统计年鉴地级市面板数据.dta", write_index=False, version=118)
    res = read_yearbook(folder)
    assert res.rejected.empty
    t = res.table.set_index(["city_code_given", "year", "variable"])
    assert t.loc[("130100", 2010, "gdp_10k_yuan"), "value"] == 34010000.0  # 亿元 -> 万元
    assert t.loc[("130200", 2010, "pop_total_10k"), "value"] == 747.6
    assert t.loc[("130100", 2011, "pop_total_10k"), "row"] == 4  # observation 3, header = row 1
    assert ("130100", 2011, "gdp_10k_yuan") not in t.index  # Stata missing: no row
    assert len(res.table) == 5


def test_stata_vendor_panel_with_ascii_names_and_chinese_labels(tmp_path: Path) -> None:
    """Older .dta files keep the Chinese header as the variable label behind an ASCII name."""
    df = pd.DataFrame({"year": [2015], "citycode": [340100], "gdp": [57000000.0], "v2": [1.0]})
    folder = tmp_path / "yb"
    folder.mkdir()
    df.to_stata(folder / "中国城市统计年鉴地级市面板数据.dta", write_index=False, version=118,
                variable_labels={"gdp": "地区生产总值_当年价格_全市_万元", "v2": "幸福指数"})
    res = read_yearbook(folder)
    assert res.table[["city_code_given", "year", "variable", "value"]].values.tolist() == [
        ["340100", 2015, "gdp_10k_yuan", 57000000.0]]
    bad = res.rejected
    assert len(bad) == 1 and "unmapped header" in bad.iloc[0]["reason"] and bad.iloc[0]["column"] == "D"


def test_broken_stata_file_is_a_located_error(tmp_path: Path) -> None:
    """A truncated or non-Stata .dta names the file and what was expected."""
    folder = tmp_path / "yb"
    folder.mkdir()
    (folder / "面板.dta").write_bytes(b"<stata_dta><header>garbage")
    with pytest.raises(SourceFormatError, match=r"面板\.dta, row 1: not a readable Stata file"):
        read_yearbook(folder)
