"""Deterministic writer of CCSY-style yearbook files (中国城市统计年鉴) from the sample truth.

Output under `<out>/yearbook/`:

- `中国城市统计年鉴<edition>.xlsx`, one per edition = data year + 1, ten table sheets (`2-1` … `2-10`)
  laid out as ../shared/reference/ccsy-formats.md §1(a) describes: a title row with the table number
  (`2—4` em dash up to the 2010 edition, `2-4` after), a `单位：…` cell top-right where one unit
  covers the table, a merged header block (indicator / [其中 sub-column] / [unit row] / 全市·市辖区),
  an English city-name column (absent in the 2011 edition), bilingual header cells from the 2013
  edition, province group rows, short city names (2-character names padded `北　京` up to 2010, full
  names with `市` from 2017), blank cells for values the truth lacks;
- `<first>～<last>年中国城市统计年鉴地级市面板数据.csv`, ONE vendor panel in GBK (dialect B headers such
  as `地区生产总值_当年价格_全市_万元`, ID columns 年份, 省份, 城市, 行政区划代码) for up to five data years.
  Its values are the workbook values of the same city-year-variable-scope converted to the canonical
  unit, so the two sources never conflict.

Format variation across editions (all from the catalogue; eras are illustrative where it marks (?)):
GDP, value added and industrial VA in 亿元 from the 2017 edition (万元 before); retail sales in 亿元 up
to 2006; library holdings in 万册 in the 2005 edition; 国际互联网用户数 (户) up to 2008, then
互联网宽带接入用户数 (万户); 地区/市区 scope words up to 2006; renamed headers (年末总人口 → 户籍人口,
地方财政一般预算内收入 → 地方一般公共预算收入, 信息传输、计算机服务和软件业 →
信息传输、软件和信息技术服务业, …);
units inside the header `(万元)` up to 2008, in a separate unit row 2009-2014, `（万元）` from 2015.

Scopes: a 市辖区 column is printed from the truth where it has one (GDP, population and the
district-only variables); for the other variables published for both scopes it is DERIVED (city value
x the city's district share of GDP or population, per capita from the district GDP and population).
Derived cells are realistic filler, not part of the truth.

Planted defects (`planted_defects()` lists them; none breaks the build):
1. `—` instead of a value: FDI of one city per edition (the reader drops the cell);
2. thousands separators: GDP (全市) of the first five cities in the 2008 edition, as text `12,345,678`;
3. full-width digits: per-capita GDP (全市) of the fourth city in the 2010 edition (`３４５６７`);
4. a footnote row `注：…` under table 2-1 of every edition and table 2-6 of odd editions;
5. a `续表` line with the header repeated halfway down table 2-1, editions up to 2012;
6. a 100x unit slip: road passenger traffic of Lhasa (or the last city) in the 2010 edition printed / 100,
   as ccsy-formats.md §4.3 documents for Lhasa 2009 (the reader accepts it; the energy models quarantine it).

Energy and transport (issue 11): table 2-9 prints electricity in 亿千瓦时 for editions up to 1992 (万千瓦时
after), table 2-11 road passenger and freight traffic and passenger and freight turnover (全市 only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from dagster_project.sample.files import save_workbook, write_text
from dagster_project.sources.names import ended_units
from dagster_project.sources.yearbook import round_significant

# Printed unit -> factor to the canonical unit, and printed decimals (the yearbook's own precision).
UNIT_FACTOR = {("亿元", "万元"): 1e4, ("户", "万户"): 1e-4, ("万册", "千册"): 10.0, ("亿千瓦时", "万千瓦时"): 1e4}
DECIMALS = {
    "万元": 0,
    "亿元": 2,
    "元": 0,
    "万人": 2,
    "人": 0,
    "万户": 2,
    "户": 0,
    "万千瓦时": 0,
    "亿千瓦时": 4,
    "万吨": 0,
    "万人公里": 0,
    "万吨公里": 0,
    "万立方米": 0,
    "吨": 0,
    "万美元": 0,
    "平方公里": 0,
    "%": 2,
    "千册": 0,
    "万册": 1,
}
FULLWIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")
FOOTNOTE_SCOPE = (
    "注：本表“全市”为城市的全部行政区域，包括城区、辖县、辖市；“市辖区”包括所有城区，不包括辖县和辖市。"
)
FOOTNOTE_FISCAL = "注：本表地方财政收支为一般公共预算口径。"  # illustrative wording
PANEL_YEARS = range(2011, 2016)
SLIP_CITY = "540100"  # 拉萨


def _era(*steps: tuple[int, str]) -> Callable[[int], str]:
    """Return edition -> text: the text of the first step whose last edition is >= the edition."""

    def pick(ed: int) -> str:
        """Pick the text valid in edition `ed`."""
        return next(text for last, text in steps if ed <= last)

    return pick


ALWAYS = 9999
GDP_UNIT = _era((2016, "万元"), (ALWAYS, "亿元"))
# Electricity in 亿千瓦时 in the 1985-1992 editions, 万千瓦时 after (ccsy-formats.md §3).
KWH_UNIT = _era((1992, "亿千瓦时"), (ALWAYS, "万千瓦时"))


@dataclass(frozen=True)
class Ind:
    """One printed indicator: canonical variable, per-edition label and unit, which scopes are printed."""

    var: str
    zh: Callable[[int], str] | None  # None: the total column of a parent group (no own label)
    en: str
    unit: Callable[[int], str]
    district: str | None = None  # truth column, "gdp_share", "pop_share", "per_capita", "self" or None
    city: bool = True


@dataclass(frozen=True)
class Group:
    """Indicators under one parent header (`地方一般公共预算支出` → 合计 / 其中 科学技术支出 / 教育支出)."""

    parent: Callable[[int], str] | None
    parent_en: str
    inds: tuple[Ind, ...]


@dataclass(frozen=True)
class Table:
    """One yearbook table (one sheet)."""

    no: int
    title: Callable[[int], str]
    groups: tuple[Group, ...]
    sheet_unit: str | None = None  # one unit for the whole table, printed top-right as `单位：…`


def _c(text: str) -> Callable[[int], str]:
    """Return a constant per-edition text."""
    return _era((ALWAYS, text))


def _solo(*inds: Ind) -> tuple[Group, ...]:
    """Wrap parentless indicators as one-indicator groups."""
    return tuple(Group(None, "", (i,)) for i in inds)


WAN = _c("万元")
TABLES: tuple[Table, ...] = (
    Table(
        1,
        _era((2016, "年末总人口"), (ALWAYS, "户籍人口")),
        _solo(
            Ind(
                "pop_total_10k",
                _era((2016, "年末总人口"), (ALWAYS, "户籍人口")),
                "Registered Population at Year-end",
                _c("万人"),
                district="pop_district_10k",
            ),
        ),
        sheet_unit="万人",
    ),
    Table(
        2,
        _c("行政区域土地面积及建成区面积"),
        _solo(
            Ind(
                "land_area_km2",
                _c("行政区域土地面积"),
                "Total Land Area of Administrative Region",
                _c("平方公里"),
            ),
            Ind(
                "built_up_area_km2",
                _c("建成区面积"),
                "Area of Built Districts",
                _c("平方公里"),
                district="self",
                city=False,
            ),
        ),
    ),
    Table(
        3,
        _c("年末单位从业人员数"),
        _solo(
            Ind(
                "emp_total_10k",
                _c("年末单位从业人员数"),
                "Employed Persons in Units at Year-end",
                _c("万人"),
                district="pop_share",
            ),
            Ind(
                "emp_agriculture_10k",
                _c("农林牧渔业从业人员数"),
                "Farming, Forestry, Animal Husbandry and Fishery",
                _c("万人"),
                district="pop_share",
            ),
            Ind(
                "emp_mining_10k",
                _era((2012, "采掘业从业人员数"), (ALWAYS, "采矿业从业人员数")),
                "Mining",
                _c("万人"),
                district="pop_share",
            ),
            Ind(
                "emp_manufacturing_10k",
                _c("制造业从业人员数"),
                "Manufacturing",
                _c("万人"),
                district="pop_share",
            ),
            Ind(
                "emp_utilities_10k",
                _c("电力煤气及水生产供应业从业人员数"),
                "Electricity, Gas and Water Supply",
                _c("万人"),
                district="pop_share",
            ),
            Ind(
                "emp_construction_10k",
                _c("建筑业从业人员数"),
                "Construction",
                _c("万人"),
                district="pop_share",
            ),
            Ind(
                "emp_it_10k",
                _era(
                    (2012, "信息传输、计算机服务和软件业从业人员数"),
                    (ALWAYS, "信息传输、软件和信息技术服务业从业人员数"),
                ),
                "Information Transmission, Software and IT Services",
                _c("万人"),
                district="pop_share",
            ),
            Ind("emp_education_10k", _c("教育业从业人员数"), "Education", _c("万人"), district="pop_share"),
            Ind("emp_other_10k", _c("其他行业从业人员数"), "Other Sectors", _c("万人"), district="pop_share"),
        ),
    ),
    Table(
        4,
        _c("地区生产总值"),
        _solo(
            Ind(
                "gdp_10k_yuan",
                _era((2010, "地区生产总值"), (ALWAYS, "地区生产总值(当年价格)")),
                "Gross Regional Product",
                GDP_UNIT,
                district="gdp_district_10k_yuan",
            ),
            Ind("gdp_primary_10k_yuan", _c("第一产业增加值"), "Primary Industry", GDP_UNIT),
            Ind("gdp_secondary_10k_yuan", _c("第二产业增加值"), "Secondary Industry", GDP_UNIT),
            Ind("gdp_tertiary_10k_yuan", _c("第三产业增加值"), "Tertiary Industry", GDP_UNIT),
            Ind(
                "gdp_per_capita_yuan",
                _c("人均地区生产总值"),
                "Regional GDP Per Capita",
                _c("元"),
                district="per_capita",
            ),
            Ind("industrial_va_10k_yuan", _c("工业增加值"), "Industrial Value Added", GDP_UNIT),
        ),
    ),
    Table(
        5,
        _c("固定资产投资和利用外资"),
        _solo(
            Ind(
                "fai_10k_yuan",
                _c("固定资产投资总额"),
                "Total Investment in Fixed Assets",
                WAN,
                district="gdp_share",
            ),
            Ind(
                "fdi_usd_10k",
                _era((2010, "外商直接投资中实际利用外资"), (ALWAYS, "当年实际使用外资金额")),
                "Foreign Capital Actually Utilized",
                _c("万美元"),
            ),
        ),
    ),
    Table(
        6,
        _c("地方财政收支"),
        (
            Group(
                None,
                "",
                (
                    Ind(
                        "fiscal_revenue_10k_yuan",
                        _era((2014, "地方财政一般预算内收入"), (ALWAYS, "地方一般公共预算收入")),
                        "Local General Public Budget Revenue",
                        WAN,
                        district="gdp_share",
                    ),
                ),
            ),
            Group(
                _era((2014, "地方财政一般预算内支出"), (ALWAYS, "地方一般公共预算支出")),
                "Local General Public Budget Expenditure",
                (
                    Ind("fiscal_expenditure_10k_yuan", None, "", WAN, district="gdp_share"),
                    Ind("st_expenditure_10k_yuan", _c("其中：科学技术支出"), "Science and Technology", WAN),
                    Ind(
                        "education_expenditure_10k_yuan",
                        _c("教育支出"),
                        "Education",
                        WAN,
                        district="gdp_share",
                    ),
                ),
            ),
        ),
    ),
    Table(
        7,
        _c("金融机构贷款和商业"),
        _solo(
            Ind(
                "loans_10k_yuan",
                _era((2012, "年末金融机构各项贷款余额"), (ALWAYS, "年末金融机构人民币各项贷款余额")),
                "Loans of National Banking System at Year-end",
                WAN,
                district="gdp_share",
            ),
            Ind(
                "retail_sales_10k_yuan",
                _c("社会消费品零售总额"),
                "Total Retail Sales of Consumer Goods",
                _era((2006, "亿元"), (ALWAYS, "万元")),
                district="gdp_share",
            ),
        ),
    ),
    Table(
        8,
        _c("邮电通信"),
        _solo(
            Ind(
                "postal_revenue_10k_yuan",
                _era((2012, "邮政业务总量"), (ALWAYS, "邮政业务收入")),
                "Postal Services",
                WAN,
            ),
            Ind("telecom_revenue_10k_yuan", _c("电信业务收入"), "Telecommunication Services", WAN),
            Ind(
                "mobile_subscribers_10k", _c("移动电话年末用户数"), "Mobile Telephone Subscribers", _c("万户")
            ),
            Ind(
                "broadband_subscribers_10k",
                _era((2008, "国际互联网用户数"), (ALWAYS, "互联网宽带接入用户数")),
                "Internet Broadband Subscribers",
                _era((2008, "户"), (ALWAYS, "万户")),
            ),
        ),
    ),
    Table(
        9,
        _c("能源供应和消费"),
        _solo(
            Ind(
                "electricity_total_10k_kwh",
                _era((2012, "全年用电总量"), (ALWAYS, "全社会用电量")),
                "Total Electricity Consumption",
                KWH_UNIT,
                district="gdp_share",
            ),
            Ind(
                "electricity_industrial_10k_kwh",
                _c("工业用电量"),
                "Industrial Use",
                KWH_UNIT,
                district="gdp_share",
            ),
            Ind(
                "electricity_residential_10k_kwh",
                _c("城乡居民生活用电量"),
                "Residential Use",
                KWH_UNIT,
                district="pop_share",
            ),
            Ind(
                "gas_supply_10k_m3",
                _c("供气总量(煤气、天然气)"),
                "Total Gas Supply",
                _c("万立方米"),
                district="self",
                city=False,
            ),
            Ind(
                "lpg_supply_ton",
                _c("液化石油气供气总量"),
                "Total LPG Supply",
                _c("吨"),
                district="self",
                city=False,
            ),
        ),
    ),
    Table(
        10,
        _c("教育、文化和城市绿化"),
        _solo(
            Ind(
                "college_students",
                _era((2012, "普通高等学校在校学生数"), (ALWAYS, "普通本专科在校学生数")),
                "Students Enrolled in Regular Institutions of Higher Education",
                _c("人"),
                district="pop_share",
            ),
            Ind(
                "library_books_1k",
                _c("公共图书馆图书总藏量"),
                "Collection of Public Libraries",
                _era((2004, "千册"), (2005, "万册"), (ALWAYS, "千册")),
            ),
            Ind(
                "green_coverage_pct",
                _c("建成区绿化覆盖率"),
                "Green Covered Area as % of Completed Area",
                _c("%"),
                district="self",
                city=False,
            ),
        ),
    ),
    Table(
        11,
        _c("交通运输"),
        _solo(
            Ind("road_passengers_10k", _c("公路客运量"), "Passenger Traffic by Highways", _c("万人")),
            Ind("road_freight_10k_ton", _c("公路货运量"), "Freight Traffic by Highways", _c("万吨")),
            Ind("passenger_turnover_10k_pkm", _c("旅客周转量"), "Passenger-kilometers", _c("万人公里")),
            Ind("freight_turnover_10k_tkm", _c("货物周转量"), "Freight Ton-kilometers", _c("万吨公里")),
        ),
    ),
)


# ----------------------------------------------------------------------------------- edition styles


def _scope_labels(ed: int) -> dict[str, str]:
    """Return the printed 全市/市辖区 words of an edition (地区/市区 in older ones, bilingual from 2013)."""
    if ed <= 2006:
        return {"city": "地区", "district": "市区"}
    if ed >= 2013:
        return {"city": "全市\nTotal City", "district": "市辖区\nDistricts under City"}
    return {"city": "全市", "district": "市辖区"}


def _unit_mode(ed: int) -> str:
    """Where units are printed: inside the header `(万元)`, a separate unit row, or `（万元）`."""
    return "inline" if ed <= 2008 else ("row" if ed <= 2014 else "inline_fw")


def _city_label(row: dict, ed: int) -> str:
    """Return a city name as the edition prints it."""
    if ed >= 2017:
        return row["city_cn"]
    name = row["city_short"]
    if ed <= 2010 and len(name) == 2:
        return name[0] + "\u3000" + name[1]  # print alignment of 2-character names
    return name


def _province_label(row: dict, ed: int) -> str:
    """Return a province group row's name as the edition prints it."""
    return row["province_short"] if ed <= 2010 else row["province_cn"]


# ----------------------------------------------------------------------------------- values


def _factor(printed: str, canonical: str) -> float:
    """Return the factor from a printed unit to the canonical unit."""
    return 1.0 if printed == canonical else UNIT_FACTOR[(printed, canonical)]


def _canonical_units() -> dict[str, str]:
    """Return variable -> canonical unit from the DGP contract."""
    from dagster_project.sample.dgp import YEARBOOK_VARIABLES

    return YEARBOOK_VARIABLES


@dataclass
class _Edition:
    """One data year's rows in yearbook order, with the arrays the tables are rendered from."""

    ed: int
    df: pd.DataFrame
    arrays: dict[str, np.ndarray]
    records: list[dict]
    codes: list[str]


def _edition(truth: object, year: int) -> _Edition:
    """Prepare one edition: ordered rows, canonical value arrays and the district shares."""
    df = _edition_frame(truth, year)
    arrays = {v: df[v].to_numpy(dtype=float) for v in _canonical_units()}
    with np.errstate(divide="ignore", invalid="ignore"):
        arrays["gdp_share"] = np.clip(arrays["gdp_district_10k_yuan"] / arrays["gdp_10k_yuan"], 0, 1)
        arrays["pop_share"] = np.clip(arrays["pop_district_10k"] / arrays["pop_total_10k"], 0, 1)
        arrays["per_capita"] = arrays["gdp_district_10k_yuan"] / arrays["pop_district_10k"]
    records = df[
        [
            "province_code",
            "level",
            "province_short",
            "province_cn",
            "province_en",
            "city_short",
            "city_cn",
            "city_en",
        ]
    ].to_dict("records")
    return _Edition(year + 1, df, arrays, records, df["city_code"].tolist())


def _scope_values(e: _Edition, ind: Ind) -> dict[str, np.ndarray]:
    """Return the canonical-unit values per printed scope for one indicator (derived district filler)."""
    out: dict[str, np.ndarray] = {}
    base = e.arrays[ind.var]
    if ind.city:
        out["city"] = base
    if ind.district == "self":
        out["district"] = base
    elif ind.district in ("gdp_share", "pop_share"):
        out["district"] = base * e.arrays[ind.district]
    elif ind.district is not None:  # "per_capita" or a truth column
        out["district"] = e.arrays[ind.district]
    return out


def _edition_frame(truth: object, year: int) -> pd.DataFrame:
    """Return the data year's city rows in yearbook order (province, then code) with city attributes."""
    cy = truth.city_year[truth.city_year["year"] == year]  # type: ignore[attr-defined]
    # As the real yearbook: a unit abolished or merged (莱芜 into 济南 in 2019) is not printed from the
    # data year of its end on, although the latent truth keeps it (admin_changes.csv via ended_units).
    ended = {code for code, u in ended_units().items() if code.isdigit() and year >= u.change_year}
    cy = cy[~cy["city_code"].isin(ended)]
    cities = truth.cities  # type: ignore[attr-defined]
    df = cy.merge(
        cities[
            [
                "city_code",
                "city_cn",
                "city_short",
                "city_en",
                "province_code",
                "province_cn",
                "province_short",
                "province_en",
                "level",
            ]
        ],
        on="city_code",
        how="inner",
    )
    return df.sort_values(["province_code", "city_code"], kind="stable").reset_index(drop=True)


def planted_defects(truth: object) -> pd.DataFrame:
    """List the planted cell defects: edition, year, city_code, variable, scope, kind."""
    rows = []
    for year in truth.years:  # type: ignore[attr-defined]
        ed = int(year) + 1
        codes = _edition_frame(truth, int(year))["city_code"].tolist()
        if not codes:
            continue
        rows.append((ed, int(year), codes[(ed * 7) % len(codes)], "fdi_usd_10k", "city", "missing"))
        if ed == 2008:
            rows += [(ed, int(year), c, "gdp_10k_yuan", "city", "thousands") for c in codes[:5]]
        if ed == 2010 and len(codes) > 3:
            rows.append((ed, int(year), codes[3], "gdp_per_capita_yuan", "city", "fullwidth"))
        if ed == 2010:
            # The documented 100x slip (ccsy-formats.md §4.3: Lhasa's 2009 road passenger traffic printed
            # as 0.68 for 68.3 万人); Lhasa if it is in the universe, else the last city of the edition.
            slip = SLIP_CITY if SLIP_CITY in codes else codes[-1]
            rows.append((ed, int(year), slip, "road_passengers_10k", "city", "unit_slip_100x"))
    return pd.DataFrame(rows, columns=["edition", "year", "city_code", "variable", "scope", "kind"])


@dataclass
class _Column:
    """One printed data column of a table."""

    ind: Ind
    scope: str
    unit: str
    printed: np.ndarray  # values in the printed unit, rounded; NaN = blank

    @property
    def var(self) -> str:
        """The variable this column holds (GDP/population 市辖区 columns are their own truth variables)."""
        if self.scope == "district" and self.ind.district in _canonical_units():
            return str(self.ind.district)
        return self.ind.var


def _columns(table: Table, e: _Edition) -> list[list[_Column]]:
    """Return the table's data columns grouped by indicator, values rounded in the printed unit."""
    canon = _canonical_units()
    out = []
    for g in table.groups:
        for ind in g.inds:
            unit = ind.unit(e.ed)
            f = _factor(unit, canon[ind.var])
            cols = [
                _Column(ind, s, unit, np.round(v / f, DECIMALS[unit]))
                for s, v in _scope_values(e, ind).items()
            ]
            out.append(cols)
    return out


def _cell(v: float, unit: str) -> object:
    """Return a printed value as the cell content (int when the unit prints no decimals, None if NaN)."""
    if not np.isfinite(v):
        return None
    return int(v) if DECIMALS[unit] == 0 else float(v)


# ----------------------------------------------------------------------------------- sheets


def _header(
    table: Table, cols: list[list[_Column]], ed: int, english: bool
) -> tuple[list[list], list[tuple]]:
    """Build the header block rows and merges (row offsets from 0, 0-based columns) of one table."""
    bilingual = ed >= 2013
    mode = "sheet" if table.sheet_unit else _unit_mode(ed)
    has_parent = any(g.parent for g in table.groups)
    n_levels = (2 if has_parent else 1) + (1 if mode == "row" else 0) + 1
    first = 2 if english else 1
    width = first + sum(len(c) for c in cols)
    grid: list[list] = [[None] * width for _ in range(n_levels)]
    merges: list[tuple[int, int, int, int]] = []  # r0, c0, r1, c1
    grid[0][0] = "城市"
    merges.append((0, 0, n_levels - 1, 0))
    if english:
        grid[0][1] = "City"
        merges.append((0, 1, n_levels - 1, 1))
    scopes = _scope_labels(ed)

    def label(zh: str, en: str, unit: str | None) -> str:
        """Format a header cell in the edition's style."""
        if unit and mode == "inline":
            zh = f"{zh}({unit})"
        elif unit and mode == "inline_fw":
            zh = f"{zh.replace('(', '（').replace(')', '）')}（{unit}）"
        return f"{zh}\n{en}" if bilingual and en else zh

    c = first
    k = 0
    for g in table.groups:
        span = sum(len(cols[k + i]) for i in range(len(g.inds)))
        unit0 = cols[k][0].unit
        if g.parent:
            grid[0][c] = label(g.parent(ed), g.parent_en, unit0)
            if span > 1:
                merges.append((0, c, 0, c + span - 1))
        cc = c
        for ind in g.inds:
            icols = cols[k]
            level = 1 if g.parent else 0
            if ind.zh is not None:
                grid[level][cc] = label(ind.zh(ed), ind.en, None if g.parent else icols[0].unit)
                bottom = level if g.parent or not has_parent else 1
                if len(icols) > 1 or bottom > level:
                    merges.append((level, cc, bottom, cc + len(icols) - 1))
            if mode == "row":
                grid[n_levels - 2][cc] = icols[0].unit
                if len(icols) > 1:
                    merges.append((n_levels - 2, cc, n_levels - 2, cc + len(icols) - 1))
            for j, col in enumerate(icols):
                grid[n_levels - 1][cc + j] = scopes[col.scope]
            cc += len(icols)
            k += 1
        c += span
    return grid, merges


def _write_table(
    wb: Workbook, table: Table, e: _Edition, defects: dict[tuple[str, str], str], panel: list[dict] | None
) -> None:
    """Render one table sheet of an edition; collect canonical values of panel variables on the way."""
    ed = e.ed
    english = ed != 2011
    sep = "—" if ed <= 2010 else "-"
    cols = _columns(table, e)
    header, merges = _header(table, cols, ed, english)
    width = len(header[0])
    ws = wb.create_sheet(f"2-{table.no}")
    title = [None] * width
    title[0] = f"2{sep}{table.no} {table.title(ed)}"
    ws.append(title)
    unit_row = [None] * width
    if table.sheet_unit:
        unit_row[-1] = f"单位：{table.sheet_unit}"
    ws.append(unit_row)
    top = 3  # 1-based row of the header block
    for r0, c0, r1, c1 in merges:
        ws.merged_cells.add(f"{get_column_letter(c0 + 1)}{top + r0}:{get_column_letter(c1 + 1)}{top + r1}")
    for row in header:
        ws.append(row)
    flat = [c for group in cols for c in group]
    canon = _canonical_units()
    codes = e.codes
    # Cells column by column (vectorised), then the few planted defects, then rows.
    body = [[_cell(v, col.unit) for v in col.printed.tolist()] for col in flat]
    for j, col in enumerate(flat):
        if col.scope != "city":
            continue
        for i, code in enumerate(codes):
            kind = defects.get((code, col.var))
            cell = body[j][i]
            if kind == "missing":
                body[j][i] = "—"
            elif kind == "thousands" and cell is not None:
                body[j][i] = f"{cell:,}" if DECIMALS[col.unit] == 0 else f"{cell:,.{DECIMALS[col.unit]}f}"
            elif kind == "fullwidth" and cell is not None:
                body[j][i] = str(cell).translate(FULLWIDTH)
            elif kind == "unit_slip_100x" and cell is not None:
                body[j][i] = round(float(cell) / 100, 2)
    if panel is not None:
        for j, col in enumerate(flat):
            if (col.var, col.scope) not in PANEL_KEYS:
                continue
            canonical = round_significant(col.printed * _factor(col.unit, canon[col.var]))
            for i, code in enumerate(codes):
                if body[j][i] != "—" and np.isfinite(canonical[i]):
                    panel.append(
                        {
                            "year": ed - 1,
                            "city_code": code,
                            "variable": col.var,
                            "scope": col.scope,
                            "value": float(canonical[i]),
                        }
                    )
    half = len(codes) // 2 if (table.no == 1 and ed <= 2012) else -1
    province = None
    first = 2 if english else 1
    for i, (row, values) in enumerate(zip(e.records, zip(*body, strict=True), strict=True)):
        if i == half:
            ws.append(["续表"] + [None] * (width - 1))
            for hrow in header:
                ws.append(hrow)
        if row["province_code"] != province:
            province = row["province_code"]
            if row["level"] != "municipality":
                ws.append(
                    [_province_label(row, ed)]
                    + ([row["province_en"]] if english else [])
                    + [None] * (width - first)
                )
        ws.append([_city_label(row, ed)] + ([row["city_en"]] if english else []) + list(values))
    notes = table.no == 1 or (table.no == 6 and ed % 2 == 1)
    if notes:
        ws.append([FOOTNOTE_SCOPE if table.no == 1 else FOOTNOTE_FISCAL] + [None] * (width - 1))


# ----------------------------------------------------------------------------------- vendor panel

# Dialect B columns: header -> (variable, scope). All in canonical units.
PANEL_COLUMNS = {
    "年末总人口_全市_万人": ("pop_total_10k", "city"),
    "年末总人口_市辖区_万人": ("pop_district_10k", "district"),
    "地区生产总值_当年价格_全市_万元": ("gdp_10k_yuan", "city"),
    "地区生产总值_当年价格_市辖区_万元": ("gdp_district_10k_yuan", "district"),
    "人均地区生产总值_全市_元": ("gdp_per_capita_yuan", "city"),
    "地方一般公共预算收入_全市_万元": ("fiscal_revenue_10k_yuan", "city"),
    "地方一般公共预算支出_全市_万元": ("fiscal_expenditure_10k_yuan", "city"),
    "科学技术支出_全市_万元": ("st_expenditure_10k_yuan", "city"),
    "教育事业费支出_全市_万元": ("education_expenditure_10k_yuan", "city"),
    "互联网宽带接入用户数_全市_万户": ("broadband_subscribers_10k", "city"),
    "移动电话年末用户数_全市_万户": ("mobile_subscribers_10k", "city"),
    "全年用电总量_市辖区_万千瓦时": ("electricity_total_10k_kwh", "district"),
    "建成区绿化覆盖率_市辖区_百分比": ("green_coverage_pct", "district"),
}
PANEL_KEYS = frozenset(PANEL_COLUMNS.values())


def _fmt(v: float) -> str:
    """Format a canonical value for the CSV: shortest round-trip text, integers without `.0`."""
    if not np.isfinite(v):
        return ""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _write_panel(truth: object, values: pd.DataFrame, folder: Path) -> Path | None:
    """Write the GBK vendor panel from the workbook values (canonical units) of its data years."""
    if values.empty:
        return None
    years = sorted(values["year"].unique())
    wide = values.pivot_table(
        index=["city_code", "year"], columns=["variable", "scope"], values="value", aggfunc="first"
    )
    cities = truth.cities.set_index("city_code")  # type: ignore[attr-defined]
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(list(PANEL_COLUMNS.values())))
    wide = wide.reset_index().sort_values(["year", "city_code"], kind="stable")
    lines = [",".join(["年份", "省份", "城市", "行政区划代码", *PANEL_COLUMNS])]
    for rec in wide.itertuples(index=False, name=None):
        code, year, vals = rec[0], rec[1], rec[2:]
        c = cities.loc[code]
        lines.append(
            ",".join([str(year), c["province_cn"], c["city_cn"], code, *(_fmt(float(x)) for x in vals)])
        )
    name = f"{min(years)}～{max(years)}年中国城市统计年鉴地级市面板数据.csv"
    return write_text(folder / name, "\n".join(lines) + "\n", encoding="gbk")


# ----------------------------------------------------------------------------------- entry point


def write_yearbook(truth: object, out_dir: Path) -> list[Path]:
    """Write one CCSY-style workbook per edition and one GBK vendor panel under `out_dir/yearbook/`."""
    folder = Path(out_dir) / "yearbook"
    defects = planted_defects(truth)
    years = [int(y) for y in truth.years]  # type: ignore[attr-defined]
    # The panel covers PANEL_YEARS, or the last three data years of a universe without them.
    panel_years = {y for y in years if y in PANEL_YEARS} or set(years[-3:])
    paths: list[Path] = []
    panel: list[dict] = []
    for year in years:
        ed = year + 1
        e = _edition(truth, year)
        if not e.codes:
            continue
        d = defects[defects["edition"] == ed]
        dmap = {(c, v): k for c, v, k in zip(d["city_code"], d["variable"], d["kind"], strict=True)}
        wb = Workbook(write_only=True)
        for table in TABLES:
            _write_table(wb, table, e, dmap, panel if year in panel_years else None)
        paths.append(save_workbook(wb, folder / f"中国城市统计年鉴{ed}.xlsx"))
    p = _write_panel(
        truth, pd.DataFrame(panel, columns=["year", "city_code", "variable", "scope", "value"]), folder
    )
    if p is not None:
        paths.append(p)
    return paths
