"""Deterministic writer of the China Urban Construction Statistical Yearbook's central-heating table.

Output: `<out>/urban_construction/<year>年城市建设统计年鉴.xlsx`, one workbook per data year (MOHURD names
its yearbook by data year), with a notes sheet `说明` and the table sheet `城市集中供热` laid out as
docs/urban-construction.md describes: a title row, a bilingual sub-title, a three-row merged header
(供热总量 → 蒸汽 (万吨) | 热水 (万吉焦) → 合计 / 热电厂 / 锅炉房), a national total row, province subtotal rows
each followed by its cities (full names; municipalities as one row), blank cells for missing values.
Only cities with central heating appear (the sample's HEATING_PROVINCES).

Hot water is printed in 万吉焦 from the 2009 data year and in 万百万千焦 (the same quantity, the older
spelling of GJ as 百万千焦) before, so the reader's unit table is exercised.

Planted defects (`planted_heat_defects()` lists them):
1. a 100x slip: the 热电厂 and 合计 hot water of one city in data year 2010 printed / 100 (the energy models
   quarantine it as implausible);
2. a negative value: the 锅炉房 hot water of one city in data year 2012 printed with a minus sign (the reader
   rejects the cell; the models then use the 合计 column for that city-year and flag it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from dagster_project.sample.files import save_workbook

SHEET = "城市集中供热"
ITEMS = ("heat_steam_10k_ton", "heat_hot_water_10k_gj", "heat_chp_10k_gj", "heat_boiler_10k_gj")
SLIP_YEAR = 2010
NEGATIVE_YEAR = 2012


def _hot_water_unit(year: int) -> str:
    """Return the printed unit of hot water heat in a data year."""
    return "万百万千焦" if year <= 2008 else "万吉焦"


def _heated(truth: object, year: int) -> pd.DataFrame:
    """Return the data year's heated cities with names, in province then code order."""
    cy = truth.city_year  # type: ignore[attr-defined]
    cy = cy[(cy["year"] == year) & cy["heat_hot_water_10k_gj"].notna()]
    cities = truth.cities[["city_code", "city_cn", "province_code", "province_cn", "province_short", "level"]]  # type: ignore[attr-defined]
    df = cy.merge(cities, on="city_code", how="inner")
    return df.sort_values(["province_code", "city_code"], kind="stable").reset_index(drop=True)


def planted_heat_defects(truth: object) -> pd.DataFrame:
    """List the planted defects: year, city_code, item, kind (unit_slip_100x / negative)."""
    rows = []
    for year, item_kinds in ((SLIP_YEAR, (("heat_chp_10k_gj", "unit_slip_100x"),
                                          ("heat_hot_water_10k_gj", "unit_slip_100x"))),
                             (NEGATIVE_YEAR, (("heat_boiler_10k_gj", "negative"),))):
        if year not in truth.years:  # type: ignore[attr-defined]
            continue
        codes = _heated(truth, year)["city_code"].tolist()
        if codes:
            code = codes[len(codes) // 2]
            rows += [(year, code, item, kind) for item, kind in item_kinds]
    return pd.DataFrame(rows, columns=["year", "city_code", "item", "kind"])


def _header_rows(year: int) -> tuple[list[list], list[str]]:
    """Return the three header rows and the merge ranges (A1-style, offsets from the header's first row)."""
    hw = _hot_water_unit(year)
    rows = [
        ["城市名称\nName of Cities", "供热总量\nTotal Heat Supplied", None, None, None],
        [None, "蒸汽\nSteam\n(万吨)", f"热水\nHot Water\n({hw})", None, None],
        [None, None, "合计\nTotal", "热电厂\nBy CHP Plants", "锅炉房\nBy Boiler Houses"],
    ]
    merges = ["A{0}:A{2}", "B{0}:E{0}", "B{1}:B{2}", "C{1}:E{1}"]
    return rows, merges


def _fmt(v: float) -> float | None:
    """Round a printed value to the table's two decimals (None for a blank cell)."""
    return None if not np.isfinite(v) else round(float(v), 2)


def write_urban_construction(truth: object, out_dir: Path) -> list[Path]:
    """Write one central-heating workbook per data year under `out_dir/urban_construction/`."""
    folder = Path(out_dir) / "urban_construction"
    defects = planted_heat_defects(truth)
    paths = []
    for year in truth.years:  # type: ignore[attr-defined]
        year = int(year)
        df = _heated(truth, year)
        if df.empty:
            continue
        # 万百万千焦 and 万吉焦 are the same quantity, so the values print unchanged in either unit.
        printed = {k: np.round(df[k].to_numpy(dtype=float), 2) for k in ITEMS}
        d = defects[defects["year"] == year]
        for code, item, kind in zip(d["city_code"], d["item"], d["kind"], strict=True):
            i = df.index[df["city_code"] == code][0]
            printed[item][i] = round(printed[item][i] / 100, 2) if kind == "unit_slip_100x" else -printed[item][i]
        wb = Workbook()
        notes = wb.active
        notes.title = "说明"
        notes.append(["说明：本年鉴数据为城市（城区）范围；空格表示该项统计指标数据不详或无该项数据。"])
        notes.append(["SYNTHETIC SAMPLE: carbon-panel sample generator; not MOHURD data."])
        ws = wb.create_sheet(SHEET)
        ws.append(["城市集中供热", None, None, None, None])
        ws.append(["Central Heating in Cities", None, None, None, None])
        header, merges = _header_rows(year)
        for row in header:
            ws.append(row)
        for m in merges:
            ws.merge_cells(m.format(3, 4, 5))
        order = ["heat_steam_10k_ton", "heat_hot_water_10k_gj", "heat_chp_10k_gj", "heat_boiler_10k_gj"]
        ws.append(["全　国"] + [_fmt(np.nansum(np.where(printed[k] > 0, printed[k], 0))) for k in order])
        for _, block in df.groupby("province_code", sort=True):
            idx = block.index.to_numpy()
            first = block.iloc[0]
            if first["level"] != "municipality":
                ws.append([first["province_short"]]
                          + [_fmt(np.nansum(np.where(printed[k][idx] > 0, printed[k][idx], 0))) for k in order])
            for i in idx:
                ws.append([df.at[i, "city_cn"]] + [_fmt(printed[k][i]) for k in order])
        ws.column_dimensions[get_column_letter(1)].width = 14
        paths.append(save_workbook(wb, folder / f"{year}年城市建设统计年鉴.xlsx"))
    return paths
