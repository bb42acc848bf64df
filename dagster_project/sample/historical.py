"""Deterministic writer of the 1985 China City Statistical Yearbook's post-and-telecom table (data year 1984).

Output: `<out>/historical/中国城市统计年鉴-1985-邮电.xlsx`, one workbook as CNKI serves one yearbook table, in the
layout `dagster_project/sources/historical.py` documents: a title row, a two-row merged header (邮电业务总量
（万元） | 每百人拥有电话机数（部） → 地区 / 市区), a national total row, province rows each followed by its cities
(full Chinese names; municipalities as one row, without a province row), and a footnote. Only the cities the
truth marks as printed appear (today's prefectures that were cities in 1984). Values come from
`Truth.historical` (sample/dgp.py): the whole-city (地区) columns print the planted values rounded as the
yearbook prints them; the urban-district (市区) columns a city-specific share of the volume and a higher
telephone density, which the pipeline does not use when the 地区 value exists.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from openpyxl import Workbook

from dagster_project.sample.dgp import HIST_STREAM, HIST_YEAR, Truth
from dagster_project.sample.files import save_workbook

SHEET = "邮电"
FILE_NAME = f"中国城市统计年鉴-{HIST_YEAR + 1}-邮电.xlsx"


def write_historical(truth: Truth, out_dir: Path) -> list[Path]:
    """Write the historical post-and-telecom workbook under `out_dir/historical/` and return its path."""
    if truth.historical is None:
        return []
    h = truth.historical[truth.historical["printed"]].merge(
        truth.cities[["city_code", "city_cn", "province_code", "province_cn", "level"]], on="city_code")
    h = h.sort_values(["province_code", "city_code"], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng([truth.seed, HIST_STREAM, 1])
    district_share = rng.uniform(0.35, 0.9, len(h))
    volume = np.round(h["post_telecom_volume_10k_yuan"].to_numpy(), 1)
    phones = np.round(h["phones_per_100"].to_numpy(), 2)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append([f"邮电（{HIST_YEAR}年）", None, None, None, None])
    ws.append(["城市", "邮电业务总量（万元）", None, "每百人拥有电话机数（部）", None])
    ws.append([None, "地区", "市区", "地区", "市区"])
    ws.merge_cells("A2:A3")
    ws.merge_cells("B2:C2")
    ws.merge_cells("D2:E2")
    ws.append(["全国合计", round(float(volume.sum()), 1), round(float((volume * district_share).sum()), 1), None,
               None])
    for _, block in h.groupby("province_code", sort=True):
        if block.iloc[0]["level"] != "municipality":
            ws.append([block.iloc[0]["province_cn"], None, None, None, None])
        for i in block.index:
            ws.append([h.at[i, "city_cn"], float(volume[i]), round(float(volume[i] * district_share[i]), 1),
                       float(phones[i]), round(float(phones[i] * 1.6), 2)])
    ws.append(["注：本表为1984年数据。SYNTHETIC SAMPLE: carbon-panel sample generator, not NBS data.", None, None,
               None, None])
    return [save_workbook(wb, Path(out_dir) / "historical" / FILE_NAME)]
