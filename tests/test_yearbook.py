"""Yearbook source: dictionary, sample writer -> reader round trip, and one test per bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from openpyxl import Workbook

import dagster_project.sources.yearbook as yb
from dagster_project.sample import yearbook as writer
from dagster_project.sample.dgp import YEARBOOK_VARIABLES, simulate
from dagster_project.sources.common import MissingSourceError, SourceFormatError
from dagster_project.sources.yearbook import DICTIONARY_PATH, TIDY_COLUMNS, load_dictionary, read_yearbook

SEED = 7
N_CITIES = 12  # small but spread over provinces; every edition style 2004-2022 is rendered
YEARS = range(2003, 2022)


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def truth():
    """A small simulated world."""
    return simulate(n_cities=N_CITIES, years=YEARS, seed=SEED)


@pytest.fixture(scope="module")
def written(truth, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample yearbook files of the small world."""
    out = tmp_path_factory.mktemp("yearbook_sample")
    writer.write_yearbook(truth, out)
    return out / "yearbook"


@pytest.fixture(scope="module")
def loaded(written: Path):
    """The reader's result on the sample files."""
    return read_yearbook(written)


def _book(
    path: Path,
    header: list[list],
    rows: list[list],
    *,
    title: str = "2-4 综合经济指标",
    unit: str | None = None,
    sheet: str = "2-4",
) -> Path:
    """Write a one-table edition workbook: title (row 1), unit row (row 2), header rows, data rows."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    width = max(len(r) for r in header)
    ws.append([title])
    ws.append([None] * (width - 1) + [unit] if unit else [None])
    for r in header + rows:
        ws.append(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


GDP_HEADER = [["城市", "City", "地区生产总值", None], [None, None, "全市", "市辖区"]]


def _rejects(result, needle: str) -> pd.DataFrame:
    """Rejected rows whose reason contains `needle`."""
    return result.rejected[result.rejected["reason"].str.contains(needle, regex=False)]


# ----------------------------------------------------------------------------------- dictionary


def test_dictionary_matches_the_dgp_contract() -> None:
    d = load_dictionary()
    assert list(d.variables) == list(YEARBOOK_VARIABLES)
    assert len(d.variables) == 44
    for name, v in d.variables.items():
        assert v.unit == YEARBOOK_VARIABLES[name], name
        assert v.units[v.unit] == 1.0, name  # the canonical unit converts with factor 1
        assert set(v.scopes) <= {"city", "district"} and v.scopes, name
        assert v.kind in ("stock", "flow") and v.range[0] < v.range[1], name
    assert len({v.code for v in d.variables.values()}) == 44
    # No alias may name two variables in one scope (the reader would raise on such a header).
    assert yb.alias_collisions(d) == []
    assert d.data_year_by_edition[2020] == 2019


# ----------------------------------------------------------------------------------- round trip


def _printed_unit(var: str, edition: int) -> str:
    """The unit the writer prints a variable in, in an edition."""
    for table in writer.TABLES:
        for g in table.groups:
            for ind in g.inds:
                if var in (ind.var, ind.district):
                    return ind.unit(edition)
    raise KeyError(var)


def test_round_trip_recovers_truth(truth, loaded) -> None:
    d = load_dictionary()
    assert list(loaded.table.columns) == TIDY_COLUMNS
    table = _with_codes(loaded.table, truth)
    assert table["city_code"].notna().all()
    books = table[table["edition"].notna()]
    assert (books["year"] == books["edition"] - 1).all()
    assert not books.duplicated(["city_code", "year", "variable", "scope"]).any()

    cy = truth.city_year.melt(
        id_vars=["city_code", "year"],
        value_vars=list(YEARBOOK_VARIABLES),
        var_name="variable",
        value_name="truth",
    )
    cy["scope"] = cy["variable"].map(lambda v: d.variables[v].scopes[0])
    units = [_printed_unit(v, y + 1) for v, y in zip(cy["variable"], cy["year"], strict=True)]
    f = np.array(
        [writer._factor(u, YEARBOOK_VARIABLES[v]) for u, v in zip(units, cy["variable"], strict=True)]
    )
    dec = np.array([writer.DECIMALS[u] for u in units])
    # The writer prints truth / factor rounded to the unit's decimals; the reader multiplies back.
    cy["expected"] = [round(x / k, n) * k for x, k, n in zip(cy["truth"], f, dec, strict=True)]
    m = cy.merge(
        books[["city_code", "year", "variable", "scope", "value"]],
        how="left",
        on=["city_code", "year", "variable", "scope"],
    )
    planted = writer.planted_defects(truth)
    missing = planted[planted["kind"] == "missing"]
    lost = m[m["value"].isna()]
    assert set(zip(lost.city_code, lost.year, lost.variable, strict=True)) == set(
        zip(missing.city_code, missing.year, missing.variable, strict=True)
    )
    got = m.dropna(subset=["value"])
    # The planted 100x unit slip is read as printed (the energy models quarantine it downstream).
    slips = planted[planted["kind"] == "unit_slip_100x"]
    slip_keys = set(zip(slips.city_code, slips.year, slips.variable, strict=True))
    is_slip = pd.Series(list(zip(got.city_code, got.year, got.variable, strict=True)), index=got.index).isin(slip_keys)
    assert is_slip.sum() == len(slips) == 1
    np.testing.assert_allclose(got.loc[is_slip, "value"] * 100, got.loc[is_slip, "expected"], rtol=5e-3)
    got = got[~is_slip]
    np.testing.assert_allclose(got["value"], got["expected"], rtol=1e-9)

    # Unit conversions really happened (亿元 editions, 户 editions, 万册 edition).
    gdp17 = books[(books.variable == "gdp_10k_yuan") & (books.edition == 2017)]
    assert (gdp17["unit_raw"] == "亿元").all() and (gdp17["unit_factor"] == 1e4).all()
    net = books[(books.variable == "broadband_subscribers_10k") & (books.edition == 2008)]
    assert (net["unit_factor"] == 1e-4).all()
    # The planted thousands separators and full-width digits were read as numbers.
    texty = books[books["value_raw"].str.contains(",|０|１|２|３|４|５|６|７|８|９", regex=True)]
    assert len(texty) == planted["kind"].isin(["thousands", "fullwidth"]).sum()


def _with_codes(table: pd.DataFrame, truth) -> pd.DataFrame:
    """Attach city codes by the names the workbooks print (short or full)."""
    names = {
        **dict(zip(truth.cities.city_cn, truth.cities.city_code, strict=True)),
        **dict(zip(truth.cities.city_short, truth.cities.city_code, strict=True)),
    }
    return table.assign(city_code=table["city_name"].map(names))


def test_panel_csv_agrees_with_workbooks(truth, loaded) -> None:
    table = _with_codes(loaded.table, truth)
    panel = table[table["edition"].isna()]
    assert len(panel) > 0 and panel["city_code_given"].str.fullmatch(r"\d{6}").all()
    assert (panel["city_code_given"] == panel["city_code"]).all()
    assert set(zip(panel["variable"], panel["scope"], strict=True)) == set(writer.PANEL_COLUMNS.values())
    assert panel["source_file"].str.endswith("年中国城市统计年鉴地级市面板数据.csv").all()
    books = table[table["edition"].notna()]
    m = panel.merge(books, on=["city_code", "year", "variable", "scope"], suffixes=("_p", "_w"))
    assert len(m) == len(panel)
    assert (m["value_p"] == m["value_w"]).all()  # identical floats: no conflict for the precedence rule


def test_sample_rejects_are_only_the_documented_ones(loaded) -> None:
    reasons = loaded.rejected["reason"]
    assert reasons.str.startswith("footnote row").all()
    assert len(reasons) == sum(1 + (ed % 2 == 1) for ed in range(2004, 2023))
    assert set(loaded.rejected["sheet"]) == {"2-1", "2-6"}


def test_writer_is_deterministic(truth, written: Path, tmp_path: Path) -> None:
    again = writer.write_yearbook(truth, tmp_path)

    def digest(folder: Path) -> dict[str, str]:
        """Hash every file by name."""
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}

    assert len(again) == len(YEARS) + 1
    assert digest(written) == digest(tmp_path / "yearbook")


# ----------------------------------------------------------------------------------- bad inputs


def test_unknown_header_is_reported_not_dropped(tmp_path: Path) -> None:
    header = [["城市", "City", "地区生产总值", None, "地区幸福总值"], [None, None, "全市", "市辖区", "全市"]]
    _book(tmp_path / "中国城市统计年鉴2011.xlsx", header, [["石家庄", "Shijiazhuang", 100, 60, 5]])
    res = read_yearbook(tmp_path)
    bad = _rejects(res, "unmapped header")
    assert len(bad) == 1
    r = bad.iloc[0]
    assert (r["file"], r["sheet"], r["row"], r["column"]) == ("中国城市统计年鉴2011.xlsx", "2-4", 3, "E")
    assert "地区幸福总值" in r["value"] and "地区幸福总值" in r["reason"]
    assert set(res.table["variable"]) == {"gdp_10k_yuan", "gdp_district_10k_yuan"}


def test_duplicated_header_raises_with_location(tmp_path: Path) -> None:
    header = [["城市", "地区生产总值", "国内生产总值"], [None, "全市", "全市"]]
    _book(tmp_path / "中国城市统计年鉴2011.xlsx", header, [["石家庄", 100, 100]])
    with pytest.raises(SourceFormatError, match="duplicated header") as err:
        read_yearbook(tmp_path)
    msg = str(err.value)
    assert (
        "中国城市统计年鉴2011.xlsx" in msg and "sheet '2-4'" in msg and "row 3" in msg and "column 'C'" in msg
    )
    assert "columns B" in msg and "gdp_10k_yuan" in msg


def test_header_matching_two_variables_raises(tmp_path: Path) -> None:
    spec = yaml.safe_load(DICTIONARY_PATH.read_text(encoding="utf-8"))
    spec["variables"]["fai_10k_yuan"]["aliases"].append("社会消费品零售总额")  # now also retail sales
    dictionary = tmp_path / "dict.yaml"
    dictionary.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    header = [["城市", "社会消费品零售总额(万元)"], [None, "全市"]]
    _book(tmp_path / "yb" / "中国城市统计年鉴2011.xlsx", header, [["石家庄", 100]])
    with pytest.raises(SourceFormatError, match="matches several variables") as err:
        read_yearbook(tmp_path / "yb", dictionary=dictionary)
    msg = str(err.value)
    assert "fai_10k_yuan" in msg and "retail_sales_10k_yuan" in msg
    assert "sheet '2-4'" in msg and "row 3" in msg and "column 'B'" in msg
    assert [c[2] for c in yb.alias_collisions(load_dictionary(dictionary))] != []


def test_text_in_numeric_column_is_rejected(tmp_path: Path) -> None:
    _book(
        tmp_path / "中国城市统计年鉴2011.xlsx",
        GDP_HEADER,
        [["石家庄", "Shijiazhuang", "见附表", 60], ["唐山", "Tangshan", 200, 90]],
    )
    res = read_yearbook(tmp_path)
    bad = _rejects(res, "not a number")
    assert len(bad) == 1
    r = bad.iloc[0]
    assert (r["sheet"], r["row"], r["column"], r["value"]) == ("2-4", 5, "C", "见附表")
    assert "gdp_10k_yuan" in r["reason"]
    assert len(res.table) == 3  # the other three cells survive


def test_thousands_separators_and_fullwidth_digits(tmp_path: Path) -> None:
    _book(
        tmp_path / "中国城市统计年鉴2011.xlsx",
        GDP_HEADER,
        [
            ["石家庄", "Shijiazhuang", "12,345,678", "１２３４５．５"],
            ["唐山", "Tangshan", "１，２３４", " 7 "],
        ],
    )
    res = read_yearbook(tmp_path)
    assert res.rejected.empty
    got = res.table.set_index(["city_name", "scope"])["value"]
    assert got[("石家庄", "city")] == 12345678 and got[("石家庄", "district")] == 12345.5
    assert got[("唐山", "city")] == 1234 and got[("唐山", "district")] == 7
    assert res.table.set_index(["city_name", "scope"]).loc[("石家庄", "city"), "value_raw"] == "12,345,678"


def test_missing_markers_give_no_row(tmp_path: Path) -> None:
    rows = [
        ["石家庄", "a", "—", "…"],
        ["唐山", "b", "NA", None],
        ["秦皇岛", "c", "", "  "],
        ["邯郸", "d", "--", 5],
    ]
    _book(tmp_path / "中国城市统计年鉴2011.xlsx", GDP_HEADER, rows)
    res = read_yearbook(tmp_path)
    assert res.rejected.empty
    assert res.table[["city_name", "value"]].values.tolist() == [["邯郸", 5.0]]


def test_unit_row_in_yiyuan_is_converted_and_unknown_unit_fails(tmp_path: Path) -> None:
    header = [["城市", "地区生产总值", None], [None, "亿元", None], [None, "全市", "市辖区"]]
    _book(tmp_path / "a" / "中国城市统计年鉴2018.xlsx", header, [["石家庄市", 1234.56, 789.01]])
    res = read_yearbook(tmp_path / "a")
    t = res.table.set_index("variable")
    assert t.loc["gdp_10k_yuan", "value"] == 12345600 and t.loc["gdp_district_10k_yuan", "value"] == 7890100
    assert (res.table["unit_raw"] == "亿元").all() and (res.table["unit"] == "万元").all()
    assert (res.table["year"] == 2017).all() and (res.table["edition"] == 2018).all()

    header[1][1] = "千亿元"
    _book(tmp_path / "b" / "中国城市统计年鉴2018.xlsx", header, [["石家庄市", 1.2, 0.8]])
    with pytest.raises(SourceFormatError, match="unit '千亿元'") as err:
        read_yearbook(tmp_path / "b")
    assert "row 3" in str(err.value) and "column 'B'" in str(err.value) and "万元, 亿元, 元" in str(err.value)


def test_sheet_unit_cell_title_scope_and_subcolumns(tmp_path: Path) -> None:
    header = [
        ["城市", "地方财政一般预算内支出", None, None],
        [None, None, "其中：科学技术支出", "教育支出"],
        [None, "全市", "全市", "全市"],
    ]
    rows = [
        ["河北", None, None, None],
        ["石家庄", 500, 20, 100],
        ["注：本表为一般公共预算口径。", None, None, None],
    ]
    _book(tmp_path / "中国城市统计年鉴2011.xlsx", header, rows, title="2-6 地方财政收支", unit="单位：亿元")
    res = read_yearbook(tmp_path)
    t = res.table.set_index("variable")
    assert t.loc["fiscal_expenditure_10k_yuan", "value"] == 5_000_000
    assert t.loc["st_expenditure_10k_yuan", "value"] == 200_000
    assert t.loc["education_expenditure_10k_yuan", "value"] == 1_000_000
    assert (res.table["province_name"] == "河北").all()
    note = _rejects(res, "footnote")
    assert note[["row", "column"]].values.tolist() == [[8, "A"]]


def test_province_rows_and_the_jilin_trap(tmp_path: Path) -> None:
    header = [["城市", "年末总人口"], [None, "市辖区"]]
    rows = [["北　京", 1200], ["吉林", None], ["长春", 400], ["吉　林", 180], ["全国合计", 9999]]
    _book(tmp_path / "中国城市统计年鉴2008.xlsx", header, rows, title="2—1 年末总人口", unit="单位：万人")
    res = read_yearbook(tmp_path)
    got = res.table[["city_name", "province_name", "variable", "value"]].values.tolist()
    assert got == [
        ["北京", "北京", "pop_district_10k", 1200.0],
        ["长春", "吉林", "pop_district_10k", 400.0],
        ["吉林", "吉林", "pop_district_10k", 180.0],
    ]
    assert _rejects(res, "aggregate row")["value"].tolist() == ["全国合计"]


def test_truncated_workbook_raises(tmp_path: Path) -> None:
    good = _book(tmp_path / "src" / "中国城市统计年鉴2011.xlsx", GDP_HEADER, [["石家庄", "a", 1, 2]] * 50)
    cut = tmp_path / "yb" / good.name
    cut.parent.mkdir()
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFormatError, match="truncated or corrupt") as err:
        read_yearbook(tmp_path / "yb")
    assert "中国城市统计年鉴2011.xlsx" in str(err.value) and "complete .xlsx" in str(err.value)


def test_table_cut_after_its_header_raises(tmp_path: Path) -> None:
    _book(tmp_path / "中国城市统计年鉴2011.xlsx", GDP_HEADER, [])
    with pytest.raises(SourceFormatError, match="no data rows") as err:
        read_yearbook(tmp_path)
    assert "sheet '2-4'" in str(err.value) and "row 3" in str(err.value)


def test_gbk_panel_is_detected_not_misdecoded(tmp_path: Path) -> None:
    text = (
        "年份,省份,城市,行政区划代码,地区生产总值_当年价格_全市_万元,建成区绿化覆盖率_市辖区_百分比,插值_全社会用电量万千瓦时\n"
        "2015,河北省,石家庄市,130100,55000000,40.5,1\n2015,吉林省,吉林市,220200.0,,38,2\n"
    )
    path = tmp_path / "中国城市统计年鉴地级市面板数据.csv"
    path.write_bytes(text.encode("gbk"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # read as UTF-8 this file would be garbage
    res = read_yearbook(tmp_path)
    t = res.table
    assert t[
        ["city_name", "province_name", "city_code_given", "variable", "scope", "value", "row", "column"]
    ].values.tolist() == [
        ["石家庄市", "河北省", "130100", "gdp_10k_yuan", "city", 55000000.0, 2, "E"],
        ["石家庄市", "河北省", "130100", "green_coverage_pct", "district", 40.5, 2, "F"],
        ["吉林市", "吉林省", "220200", "green_coverage_pct", "district", 38.0, 3, "F"],
    ]
    assert t["edition"].isna().all() and (t["year"] == 2015).all() and t["sheet"].isna().all()
    assert _rejects(res, "interpolated")["column"].tolist() == ["G"]

    path.write_bytes(b"\xff\xfe\xfa" + text.encode("gbk"))  # neither UTF-8 nor GB18030
    with pytest.raises(SourceFormatError, match="neither UTF-8 nor GBK"):
        read_yearbook(tmp_path)


def test_missing_folder_and_unknown_edition(tmp_path: Path) -> None:
    with pytest.raises(MissingSourceError, match=r"中国城市统计年鉴<edition>\.xlsx"):
        read_yearbook(tmp_path / "nope")
    _book(tmp_path / "中国城市统计年鉴1994.xlsx", GDP_HEADER, [["石家庄", "a", 1, 2]])
    with pytest.raises(SourceFormatError, match="edition 1994 has no data year"):
        read_yearbook(tmp_path)


def test_vendor_dialect_headers_map(tmp_path: Path) -> None:
    d = load_dictionary()
    cases = {
        "地区生产总值_当年价格_亿元_全市": ("gdp_10k_yuan", "city", 1e4),
        "地区生产总值_当年价格-全市（亿元）": ("gdp_10k_yuan", "city", 1e4),
        "地区生产总值（万元）": ("gdp_10k_yuan", "city", 1.0),
        "地区生产总值_当年价格_市辖区_万元": ("gdp_district_10k_yuan", "district", 1.0),
        "户籍人口万人": ("pop_total_10k", "city", 1.0),
        "液化石油气供气总量吨市辖区": ("lpg_supply_ton", "district", 1.0),
        "地方一般公共预算收支状况(全市)-教（万元）育支出": ("education_expenditure_10k_yuan", "city", 1.0),
        "国际互联网用户数(户)": ("broadband_subscribers_10k", "city", 1e-4),
        "全社会用电量_亿千瓦小时": ("electricity_total_10k_kwh", "city", 1e4),
        "公共图书馆图书总藏量千册件": ("library_books_1k", "city", 1.0),
        "地区生产总值增长率 (%) GRP": None,
    }
    rejects = yb.Rejects("yearbook")
    ctx = yb._Ctx(tmp_path / "x.csv", None, 1)
    for header, want in cases.items():
        m = yb.resolve_header([header], header, 0, ctx, d, rejects)
        assert (None if m is None else (m.variable, m.scope, m.factor)) == want, header
    assert len(rejects.rows) == 1  # the growth rate is not a dictionary variable: reported


def test_generated_folder_layout(written: Path) -> None:
    names = sorted(p.name for p in written.iterdir())
    assert names[0] == "2011～2015年中国城市统计年鉴地级市面板数据.csv"
    assert names[1:] == [f"中国城市统计年鉴{y + 1}.xlsx" for y in YEARS]
