"""Shift-share diagnostics of seed 004's robot exposure: Rotemberg weights of the IFR industries.

Goldsmith-Pinkham, Sorkin & Swift (2020) on the panel's Bartik design: y = ln_industrial_co2_intensity,
x = robot_exposure, city and year fixed effects; shares = intermediate.int_robots__base_shares, shifts = Chinese
installations per base-year worker (intermediate.int_robots__industry_shifts). Writes
analysis.robot_rotemberg_weights and reports/robot_rotemberg.md (the industries that drive the instrument).
With the yearbook-section fallback (no base-employment source) there are no fine shares: the table is empty and
the report says so.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from dagster_project.config import settings
from dagster_project.resources import Warehouse

DEPS = [dg.AssetKey(["marts", "city_year_panel"]), dg.AssetKey(["intermediate", "int_robots__base_shares"]),
        dg.AssetKey(["intermediate", "int_robots__industry_shifts"])]
Y, X = "ln_industrial_co2_intensity", "robot_exposure"


@dg.asset(key=["analysis", "robot_rotemberg_weights"], deps=DEPS, group_name="analysis",
          kinds={"python", "duckdb"},
          description="Rotemberg weights (GPSS 2020) of the IFR industries in the Bartik robot exposure.")
def robot_rotemberg_weights(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Decompose the Bartik IV estimate of seed 004's baseline into industry weights and estimates."""
    from analysis.shift_share import WEIGHT_COLUMNS, rotemberg_weights

    with warehouse.connection(read_only=True) as conn:
        panel = conn.execute(f"select city_code, year, {Y}, {X} from marts.city_year_panel "
                             f"where {Y} is not null and {X} is not null order by city_code, year").df()
        shares = conn.execute("select city_code, exposure_group as industry, share "
                              "from intermediate.int_robots__base_shares order by city_code, industry").df()
        shifts = conn.execute("select year, exposure_group as industry, shift_installations as shift "
                              "from intermediate.int_robots__industry_shifts where country = 'CN' "
                              "order by year, industry").df()
    panel = panel[panel["city_code"].isin(set(shares["city_code"]))]
    if shares.empty or panel.empty:
        weights = pd.DataFrame(columns=WEIGHT_COLUMNS)
        note = "No base-employment source: the exposure uses yearbook sections, so there are no industry shares."
    else:
        weights = rotemberg_weights(panel, y=Y, x=X, shares=shares, shifts=shifts, unit="city_code", time="year",
                                    fe=["city_code", "year"])
        note = (f"beta_Bartik = {weights.attrs['beta_bartik']:.4f} on {weights.attrs['nobs']} city-years; sum of "
                f"negative weights {weights.attrs['negative_weight_sum']:.3f}.")
    weights = weights.assign(dependent=Y, endogenous=X)
    with warehouse.connection() as conn:
        conn.execute("create schema if not exists analysis")
        conn.register("_weights", weights)
        conn.execute("create or replace table analysis.robot_rotemberg_weights as select * from _weights")
        conn.unregister("_weights")
    out_dir = Path(settings().reports_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = weights[WEIGHT_COLUMNS].to_markdown(index=False, floatfmt=".4f") if len(weights) else "(none)"
    text = (f"# Rotemberg weights of the robot-exposure instrument (seed 004)\n\n{Y} on {X}, city and year fixed "
            f"effects; Goldsmith-Pinkham, Sorkin & Swift (2020).\n\n{note}\n\n{table}\n")
    (out_dir / "robot_rotemberg.md").write_text(text, encoding="utf-8")
    context.log.info(note)
    return dg.MaterializeResult(metadata={"dagster/row_count": len(weights), "note": note,
                                          "table": dg.MetadataValue.md(table)})


robot_assets = [robot_rotemberg_weights]
