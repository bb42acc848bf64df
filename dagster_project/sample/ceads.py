"""Render the latent truth into the three CEADs products, in the formats the publishers ship.

- `ceads/city/<real file name>`: sheets NOTE, `emission vector`, `emission matrix`; only city-years with
  `truth.city_year.in_ceads` (unbalanced like the real file); names in the CEADs convention taken from
  the crosswalk seed (`安徽安庆`, bare `北京`, `内蒙古兴安盟`), so one crosswalk resolves real and sample.
- `ceads/provincial/Emission_Inventories_for_30_Provinces_<year>.xlsx`: one sheet per province; the
  1997–2017 label layout for years <= 2017 and the 2018+ layout after. Sector × fuel cells split the
  province totals so that the industrial sectors (mining, manufacturing, utilities; process emissions
  in Nonmetal Mineral Products) add up to `co2_industrial_mt` and all sectors to `co2_mt`.
- `ceads/county/County_CO2_emissions_1997_2017.xlsx`: county × year for the years <= 2017.

Like the real products, Tibet is absent from the provincial and county files. Splits are drawn from a
`numpy.random.default_rng` seeded from `truth.seed`; workbooks are saved with fixed timestamps, so the
same truth gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook

from dagster_project.sample.dgp import Truth
from dagster_project.sample.files import save_workbook
from dagster_project.sources.ceads import (
    CEADS_SEEDS,
    CITY_FILE_NAME,
    COUNTY_FILE_NAME,
    COUNTY_HEADER,
    COUNTY_SHEET,
    MATRIX_SHEET,
    NOTE_SHEET,
    SCOPE1_PART_KINDS,
    VECTOR_HEADER,
    VECTOR_SHEET,
)
from dagster_project.sources.names import ceads_names_by_code

# A separate stream of the truth's seed, so that CEADs splits do not shift when other writers change.
RNG_STREAM = 0xCEAD5
TIBET = "540000"
LAST_OLD_LAYOUT_YEAR = 2017
LAST_COUNTY_YEAR = 2017

# Sheet order of the real provincial files (both vintages); provinces not listed follow in code order.
PROVINCE_SHEET_ORDER = (
    "Shanghai", "Yunnan", "InnerMongolia", "Beijing", "Jilin", "Sichuan", "Tianjin", "Ningxia", "Anhui",
    "Shandong", "Shanxi", "Guangdong", "Guangxi", "Xinjiang", "Jiangsu", "Jiangxi", "Hebei", "Henan",
    "Zhejiang", "Hainan", "Hubei", "Hunan", "Gansu", "Fujian", "Guizhou", "Liaoning", "Chongqing",
    "Shaanxi", "Qinghai", "Heilongjiang",
)
# The 1997–2017 files pad most sector labels with trailing spaces to 57 characters; these differ.
OLD_LABEL_WIDTH = 57
OLD_LABEL_TRAILING = {
    "Total Consumption": 0, "Beverage Production": 0, "Scrap and waste": 0, "Urban": 0, "Rural": 0,
    "Timber Processing, Bamboo, Cane, Palm Fiber & Straw Products": 0,
    "Farming, Forestry, Animal Husbandry, Fishery and Water Conservancy": 6,
    "Instruments, Meters, Cultural and Office Machinery": 9,
    "Production and Supply of Electric Power, Steam and Hot Water": 3,
    "Transportation, Storage, Post and Telecommunication Services": 4,
}

_CONTACTS = ("For more information or data: shanyuli@outlook.com (Dr. Yuli Shan) or guandabo@hotmail.com "
             "(Prof. Dabo Guan)\n如需咨询更多信息，请联系 shanyuli@outlook.com (单钰理) "
             "或 guandabo@hotmail.com (关大博)")
_CONDITIONS = (
    "These data are made freely available to the public and the scientific community in the belief that "
    "their wide dissemination will lead to greater understanding and new scientific insights. The "
    "availability of these data does not constitute publication of the data. The data providers rely on the "
    "ethics and integrity of the user to ensure that they receive fair credit for their work. If the data "
    "are obtained for potential use in a publication or presentation, we kindly ask you to cite them "
    "properly according to the instructions on the website.\n\n"
    "中国碳核算数据库（CEADs）提供全公开、全透明、全免费的数据下载，"
    "旨在为气候变化领域的学术研究人员提供一定研究条件和数据服务，"
    "推进科学研究的开放性与共享性。数据公开并不代表数据发布。"
    "希望用户秉承学术道德和诚信，正确引用数据，并给予CEADs数据工作公正的评价。\n")
CITY_NOTE = (
    ("Introduction/简介", "This spreadsheet provides emission estimates for Chinese cities. Please find the "
     "detailed methodology in our papers below.\n该表格文件提供了中国城市排放数据。详细方法请参阅下方论文。"),
    ("Content/内容", "China city emission data\n中国城市排放数据"),
    ("Type/类型", "CO2\n二氧化碳排放"),
    ("Timeseries/时间序列", None),  # first-last year, as text
    ("Unit/单位", "million tones\n百万吨"),
    (None, None), (None, None),
    ("Reference/数据引用", '1. Shan et al. (2022) "City-level emission peak and drivers in China. Science '
     'Bulletin", https://doi.org/10.1016/j.scib.2022.08.024'),
    (None, '2. Shan et al. (2018) "City-level climate change mitigation in China. Science Advances", '
     "https://www.science.org/doi/full/10.1126/sciadv.aaq0390;"),
    (None, '3. Shan et al. (2017) "Methodology and applications of city level CO2 emission accounts in '
     'China. Journal of Cleaner Production", '
     "https://www.sciencedirect.com/science/article/pii/S0959652617312453;"),
    (None, '4. Shan et al. (2019) "An emissions-socioeconomic inventory of Chinese cities. Scientific Data", '
     "https://www.nature.com/articles/sdata201927."),
    ("Data download/数据下载", "https://ceads.net/data/city/"),
    (None, None), (None, None),
    ("Contacts/联系方式", _CONTACTS),
    ("Conditions of data use/使用说明", _CONDITIONS),
)
PROVINCIAL_NOTE = (
    ("Introduction/简介", "This spreadsheet provides sectoral CO2 emission inventory for Chinese provinces. "
     "Please find the detailed methodology in our papers below.\n"
     "该表格文件提供了中国省级分部门二氧化碳排放清单。详细方法请参阅下方论文。"),
    ("Content/内容", "China provincial CO2 emission inventory (by IPCC Sectoral Approach)\n"
     "中国省级二氧化碳排放清单（IPCC部门核算法）"),
    ("Type/类型", "CO2\n二氧化碳"),
    ("Timeseries/时间序列", None),  # the year, as an integer
    ("Unit/单位", "Mt\n百万吨"),
    (None, None), (None, None),
    ("Reference/数据引用", '1. Shan et al. (2018) "China CO2 emission accounts 1997-2015. Scientific Data", '
     "https://www.nature.com/articles/sdata2017201;"),
    (None, '2. Shan et al. (2020) "China CO2 emission accounts 2016-2017. Scientific Data", '
     "https://www.nature.com/articles/s41597-020-0393-y;"),
    (None, "3. Guan et al. (2021) \"Assessment to China's recent emission pattern shifts. Earth's Future\", "
     "https://agupubs.onlinelibrary.wiley.com/doi/full/10.1029/2021EF002241;"),
    (None, '4. Shan et al. (2016) "New provincial CO2 emission inventories in China based on apparent energy '
     'consumption data and updated emission factors. Applied Energy", '
     "https://www.sciencedirect.com/science/article/abs/pii/S0306261916303932."),
    ("Data download/数据下载", "https://www.ceads.net/data/province/"),
    (None, None), (None, None),
    ("Contacts/联系方式", _CONTACTS),
    ("Conditions of data use/使用说明", _CONDITIONS),
)
COUNTY_NOTE = "Note: County name is based on the division of China's counties in 2010"
PROVINCE_EN_COUNTY = {
    "150000": "Inner Mongolia Autonomous Region", "450000": "Guangxi Zhuang Autonomous Region",
    "540000": "Tibet Autonomous Region", "640000": "Ningxia Hui Autonomous Region",
    "650000": "the Xinjiang Uygur Autonomous Region",
}
CITY_EN_SUFFIX = {"league": "League", "prefecture": "Prefecture", "autonomous_prefecture": "Prefecture"}

# Relative size of the sectors within the industrial and the non-industrial totals (Dirichlet weights);
# unlisted sectors get 1. Rough shape of the real inventories: power and heavy industry dominate.
SECTOR_ALPHA = {
    "power_heat": 40.0, "ferrous_smelting": 12.0, "nonmetal_minerals": 8.0, "chemicals": 6.0,
    "petroleum_coking": 4.0, "coal_mining": 3.0, "nonferrous_smelting": 2.0, "oil_gas_extraction": 1.5,
    "transport": 5.0, "urban_residential": 2.0, "rural_residential": 1.5, "other_services": 1.5,
    "construction": 0.6,
}
# Fuel mix profiles (Dirichlet weights over the 17 fossil fuels, in seed order).
FUEL_ALPHA = {
    "default": [6, .5, .5, .2, 1, .4, .4, .2, .1, .5, .1, 1, .3, .2, .1, .1, 1],
    "power_heat": [30, .3, 1, .1, .1, .5, 1, .1, .1, .1, .1, .3, .2, .1, .1, .1, 2],
    "transport": [.2, .05, .05, .05, .05, .05, .05, .05, .05, 3, 2, 5, 1, .3, .05, .1, .5],
    "residential": [2, .1, .1, .5, .2, .2, .2, .05, .05, 1, .1, .3, .05, 1, .05, .05, 2],
}
MIN_FUEL_SHARE = 0.01  # smaller shares become exact zeros, as in the real sheets


def write_ceads(truth: Truth, out_dir: Path) -> list[Path]:
    """Write the CEADs city, provincial and county workbooks for `truth` under `out_dir/ceads/`."""
    rng = np.random.default_rng([truth.seed, RNG_STREAM])
    paths = [_write_city(truth, out_dir / "ceads" / "city" / CITY_FILE_NAME)]
    paths += _write_provincial(truth, out_dir / "ceads" / "provincial", rng)
    county = _write_county(truth, out_dir / "ceads" / "county" / COUNTY_FILE_NAME)
    return paths + ([county] if county else [])


def _note(wb: Workbook, rows: tuple, timeseries: object) -> None:
    """Add the NOTE sheet with the real text; `timeseries` fills the time-series cell."""
    ws = wb.create_sheet(NOTE_SHEET)
    for label, text in rows:
        ws.append([label, timeseries if label == "Timeseries/时间序列" else text])


# ------------------------------------------------------------------ city inventory
def ceads_city_names(cities: pd.DataFrame) -> dict[str, str]:
    """Return city_code → CEADs-style name: the crosswalk's spelling, else province short + city short."""
    known = ceads_names_by_code()
    out = {}
    for r in cities.itertuples(index=False):
        fallback = r.city_short if r.level == "municipality" else f"{r.province_short}{r.city_short}"
        out[r.city_code] = known.get(r.city_code, fallback)
    return out


def _write_city(truth: Truth, path: Path) -> Path:
    """Write the city inventory with a long (vector) and a wide (matrix) sheet holding the same numbers."""
    names = ceads_city_names(truth.cities)
    cy = truth.city_year.loc[truth.city_year["in_ceads"].astype(bool), ["city_code", "year", "co2_mt"]]
    cy = cy.assign(name=cy["city_code"].map(names)).sort_values(["city_code", "year"])
    years = sorted(truth.years)
    wb = Workbook(write_only=True)
    _note(wb, CITY_NOTE, f"{years[0]}-{years[-1]}")
    vec = wb.create_sheet(VECTOR_SHEET)
    vec.append(list(VECTOR_HEADER))
    for r in cy.itertuples(index=False):
        vec.append([f"{r.name}{r.year}", r.name, int(r.year), float(r.co2_mt)])
    mat = wb.create_sheet(MATRIX_SHEET)
    mat.append(["city", *[str(y) for y in years]])  # the real matrix writes years as text
    wide = cy.pivot(index="name", columns="year", values="co2_mt")
    for name in sorted(wide.index):
        row = wide.loc[name]
        mat.append([name, *[None if pd.isna(row.get(y)) else float(row[y]) for y in years]])
    return save_workbook(wb, path)


# ------------------------------------------------------------------ provincial inventories
@dataclass(frozen=True)
class _Layout:
    """Labels of one provincial layout in sheet order, from the seeds the reader validates against."""

    old: bool
    total_label: str
    sectors: tuple[tuple[str, str, str, bool], ...]  # (code, label as written, group, is_industrial)
    fuel_labels: tuple[str, ...]
    fuel_kinds: tuple[str, ...]


@lru_cache(maxsize=2)
def _layout(layout: str) -> _Layout:
    """Build the label lists of the `1997-2017` or `2018-` layout from the vocabulary seeds."""
    sectors = pd.read_csv(CEADS_SEEDS / "ceads_sectors.csv", dtype=str, keep_default_na=False)
    fuels = pd.read_csv(CEADS_SEEDS / "ceads_fuels.csv", dtype=str, keep_default_na=False)
    old = layout == "1997-2017"

    def used(df: pd.DataFrame) -> pd.DataFrame:
        """Rows of a vocabulary seed used by this layout, in sheet order."""
        df = df[df["layouts"].isin(["all", layout])]
        return df.assign(_o=df["sort_order"].astype(int)).sort_values("_o")

    sec, fu = used(sectors), used(fuels)
    total = sec[sec["sector"] == "total"]["sector_raw"].iloc[0]
    parts = sec[sec["sector"] != "total"]
    return _Layout(
        old=old,
        total_label=total,
        sectors=tuple((r.sector, _old_label(r.sector_raw) if old else r.sector_raw, r.sector_group,
                       r.is_industrial == "true") for r in parts.itertuples(index=False)),
        fuel_labels=tuple(fu["fuel_raw"]),
        fuel_kinds=tuple(fu["kind"]),
    )


def _old_label(label: str) -> str:
    """Pad a sector label the way the 1997–2017 files do."""
    if label in OLD_LABEL_TRAILING:
        return label + " " * OLD_LABEL_TRAILING[label]
    return label.ljust(OLD_LABEL_WIDTH)


def _split_province(rng: np.random.Generator, lay: _Layout, total: float, industrial: float,
                    process: float) -> dict[str, np.ndarray]:
    """Split one province-year into sector × fossil-fuel cells that, with process, add up to the totals."""
    if not (0.0 <= process <= industrial <= total * (1 + 1e-12)):
        raise ValueError(f"inconsistent province totals: total {total}, industrial {industrial}, "
                         f"process {process}")
    codes = [s[0] for s in lay.sectors]
    ind = np.array([s[3] for s in lay.sectors])
    alpha = np.array([SECTOR_ALPHA.get(c, 1.0) for c in codes])
    sector_total = np.zeros(len(codes))
    # Process emissions are added to Nonmetal Mineral Products' row, so fossil fuels carry the rest.
    sector_total[ind] = (industrial - process) * rng.dirichlet(alpha[ind])
    sector_total[~ind] = max(total - industrial, 0.0) * rng.dirichlet(alpha[~ind])
    cells: dict[str, np.ndarray] = {}
    for k, (code, _, group, _) in enumerate(lay.sectors):
        profile = code if code in FUEL_ALPHA else "residential" if group == "residential" else "default"
        w = rng.dirichlet(np.array(FUEL_ALPHA[profile], dtype=float))
        w = np.where(w < MIN_FUEL_SHARE, 0.0, w)
        cells[code] = sector_total[k] * w / w.sum()
    return cells


def _write_provincial(truth: Truth, folder: Path, rng: np.random.Generator) -> list[Path]:
    """Write one provincial workbook per year, choosing the label layout by year."""
    prov_en = truth.provinces.set_index("province_code")["province_en"]
    py = truth.province_year[truth.province_year["province_code"] != TIBET]
    order = {name: k for k, name in enumerate(PROVINCE_SHEET_ORDER)}
    codes = sorted(py["province_code"].unique(), key=lambda c: (order.get(prov_en[c], len(order)), c))
    values = {(r.province_code, int(r.year)): (float(r.co2_mt), float(r.co2_industrial_mt),
                                               float(r.co2_process_mt)) for r in py.itertuples(index=False)}
    # Draw every split first in a fixed order (province code, year), independent of sheet order. Both
    # layouts list the same sectors in the same order, so one draw serves either.
    splits = {key: _split_province(rng, _layout("2018-"), *values[key]) for key in sorted(values)}
    paths = []
    for year in sorted(truth.years):
        lay = _layout("1997-2017" if year <= LAST_OLD_LAYOUT_YEAR else "2018-")
        wb = Workbook(write_only=True)
        _note(wb, PROVINCIAL_NOTE, year)
        for code in codes:
            if (code, year) in splits:
                ws = wb.create_sheet(f"{prov_en[code]}{year}")
                _province_sheet(ws, lay, splits[(code, year)], values[(code, year)][2])
        paths.append(save_workbook(wb, folder / f"Emission_Inventories_for_30_Provinces_{year}.xlsx"))
    return paths


def _province_sheet(ws: object, lay: _Layout, cells: dict[str, np.ndarray], process: float) -> None:
    """Append one province sheet: header, unit row, blank row, total row, then the sectors."""
    n = len(lay.fuel_labels)
    fossil_cols = [j for j, k in enumerate(lay.fuel_kinds) if k == "fossil"]
    process_col = lay.fuel_kinds.index("process")
    total_col = lay.fuel_kinds.index("total")
    part_cols = [j for j, k in enumerate(lay.fuel_kinds) if k in SCOPE1_PART_KINDS]
    ws.append([None if lay.old else "Emission_Inventory", *lay.fuel_labels])
    ws.append([None if lay.old else "unit", *["Mt CO2"] * n])
    ws.append([None] * (n + 1))
    body = []
    for code, label, _, _ in lay.sectors:
        row: list[float | int] = [0] * n  # scope 2 and Other Energy stay 0, as in the real files
        for j, v in zip(fossil_cols, cells[code], strict=True):
            row[j] = float(v)
        if code == "nonmetal_minerals":
            row[process_col] = float(process)
        # The stated Scope 1 total is the sum of the written parts, as in the real files.
        row[total_col] = sum(row[j] for j in part_cols)
        body.append((label, row))
    ws.append([lay.total_label, *[sum(row[j] for _, row in body) for j in range(n)]])
    for label, row in body:
        ws.append([label, *row])


# ------------------------------------------------------------------ county CO2
def _write_county(truth: Truth, path: Path) -> Path | None:
    """Write the county workbook for the years <= 2017 (None when the truth has no such year)."""
    years = [y for y in sorted(truth.years) if y <= LAST_COUNTY_YEAR]
    if not years:
        return None
    city_names = {}
    for c in truth.cities.itertuples(index=False):
        province_en = PROVINCE_EN_COUNTY.get(c.province_code) or (
            f"{c.province_en} City" if c.level == "municipality" else f"{c.province_en} Province")
        city_en = f"{c.city_en} {CITY_EN_SUFFIX.get(c.level, 'City')}"
        city_names[c.city_code] = (c.province_code, c.city_cn, city_en, c.province_cn, province_en)
    # Keyed by county and city: the truth may reuse a county code under two synthetic cities.
    cy = truth.county_year[truth.county_year["year"].isin(years)]
    wide = cy.pivot(index=["county_code", "city_code"], columns="year", values="co2_mt")
    wide = wide.reindex(columns=years)
    values = {key: [None if pd.isna(v) else float(v) for v in row] for key, row in
              zip(wide.index, wide.to_numpy(), strict=True)}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(COUNTY_SHEET)
    ws.append([*COUNTY_HEADER, *[f"C{y}" for y in years]])
    for r in truth.counties.sort_values("county_code").itertuples(index=False):
        province_code, city_cn, city_en, province_cn, province_en = city_names[r.city_code]
        if province_code == TIBET:
            continue  # downscaled from CEADs provincial totals, which do not cover Tibet
        ws.append([int(r.county_code), r.county_cn, r.county_en, city_cn, city_en, province_cn, province_en,
                   *values.get((r.county_code, r.city_code), [None] * len(years))])
    ws.append([])
    ws.append([COUNTY_NOTE])
    return save_workbook(wb, path)
