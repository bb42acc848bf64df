"""IFR World Robotics sample files: robot installations and operational stock by country x industry x year.

Two exports in the two long layouts seen in public code (shared/reference/ifr.md, section b), one country
each, so that every run exercises both reader paths:

- `ifr/IFR_data_CN.xlsx`, sheet `IFR_data` (AML98/AutoEmp layout): `country | countrycode | Year |
  industrycode | industry | delivered | op_stock`;
- `ifr/ifr_US.csv` (Bogusz layout, an R `read.csv2` export: `;`-separated, decimal comma, UTF-8):
  `Year;industry;Industry;country;Installations;Operational stock`.

Rows are the truth's codes plus the subtotals IFR tables carry: D (manufacturing = its sub-codes) and All
(All Industries = the level-1 codes), each an exact sum, for every parent whose children are all present.
Labels and the hierarchy come from the seed `dbt/seeds/ifr/ifr_industries.csv`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook

from dagster_project.sample.dgp import Truth
from dagster_project.sample.files import save_workbook, write_text
from dagster_project.sources.ifr import MEASURES, load_ifr_industries

COUNTRY_NAMES = {"CN": "China", "US": "United States"}
XLSX_COUNTRY, CSV_COUNTRY = "CN", "US"


def with_subtotals(ifr: pd.DataFrame, industries: pd.DataFrame) -> pd.DataFrame:
    """Add the parent rows (deepest first) whose children are all present, sorted as the seed lists codes."""
    out = ifr[["country", "industry_code", "year", *MEASURES]].copy()
    for level in sorted(industries["level"].unique(), reverse=True):
        parents = industries[(industries["level"] == level - 1)]["ifr_code"]
        for parent in parents:
            kids = industries.loc[industries["parent_code"] == parent, "ifr_code"].tolist()
            have = set(out["industry_code"])
            if parent in have or not kids or not set(kids) <= have:
                continue
            sums = (out[out["industry_code"].isin(kids)]
                    .groupby(["country", "year"], as_index=False)[list(MEASURES)].sum())
            out = pd.concat([out, sums.assign(industry_code=parent)], ignore_index=True)
    order = {c: i for i, c in enumerate(industries["ifr_code"])}
    out["_order"] = out["industry_code"].map(order)
    unknown = sorted(out.loc[out["_order"].isna(), "industry_code"].unique())
    if unknown:
        raise ValueError(f"truth.ifr has codes missing from dbt/seeds/ifr/ifr_industries.csv: {unknown}")
    return out.sort_values(["country", "year", "_order"]).drop(columns="_order").reset_index(drop=True)


def write_ifr(truth: Truth, out_dir: Path) -> list[Path]:
    """Write the CN workbook and the US semicolon CSV under `out_dir/ifr/` and return their paths."""
    industries = load_ifr_industries()
    labels = dict(zip(industries["ifr_code"], industries["ifr_label"], strict=True))
    data = with_subtotals(truth.ifr, industries)
    folder = Path(out_dir) / "ifr"

    wb = Workbook()
    ws = wb.active
    ws.title = "IFR_data"
    ws.append(["country", "countrycode", "Year", "industrycode", "industry", "delivered", "op_stock"])
    for r in data[data["country"] == XLSX_COUNTRY].itertuples(index=False):
        ws.append([COUNTRY_NAMES[r.country], r.country, int(r.year), r.industry_code, labels[r.industry_code],
                   int(r.installations), int(r.operational_stock)])
    paths = [save_workbook(wb, folder / f"IFR_data_{XLSX_COUNTRY}.xlsx")]

    # read.csv2 dialect: ';' separator; counts are whole units, so the decimal comma never shows.
    lines = ["Year;industry;Industry;country;Installations;Operational stock"]
    for r in data[data["country"] == CSV_COUNTRY].itertuples(index=False):
        label = labels[r.industry_code]
        label = f'"{label}"' if ";" in label or '"' in label else label
        lines.append(f"{int(r.year)};{r.industry_code};{label};{r.country};{int(r.installations)};"
                     f"{int(r.operational_stock)}")
    paths.append(write_text(folder / f"ifr_{CSV_COUNTRY}.csv", "\n".join(lines) + "\n"))
    return paths
