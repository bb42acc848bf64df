"""Seed 004's industrial-CO2 downscaling diagnostics: eq. 19 on provinces and agreement with the county product.

- Eq. 19: provincial industrial CO2 on provincial night light (harmonised series, province polygon or the sum of
  its units) with province and year fixed effects, CRV1 errors clustered by province; in levels as the paper
  prints it and in logs (the paper calls the coefficient an elasticity). Rows go to analysis.regression_results
  (spec ids seed004.eq19.levels and seed004.eq19.logs).
- Agreement: per year, the Spearman rank correlation across cities between the downscaled within-province
  shares (intermediate.int_emissions__city_industrial_co2.light_share) and the within-province city shares of
  the independent county-based CEADs product (Chen et al. 2020; county CO2 summed to cities), written to
  analysis.downscaling_validation and reports/downscaling.md.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from dagster_project.config import settings
from dagster_project.resources import Warehouse

DEPS = [dg.AssetKey(["intermediate", name]) for name in (
    "int_emissions__province_lights", "int_emissions__province_industrial_co2",
    "int_emissions__city_industrial_co2", "int_emissions__county_city_co2")]

EQ19_QUERY = """
select p.province_code, p.year, p.co2_industrial_mt, l.light_harmonised, l.light_basis
from intermediate.int_emissions__province_industrial_co2 as p
inner join intermediate.int_emissions__province_lights as l using (province_code, year)
where l.light_harmonised is not null
order by p.province_code, p.year
"""

SHARES_QUERY = """
with down as (
    select city_code, province_code, year, light_share
    from intermediate.int_emissions__city_industrial_co2
    where unit_kind = 'city' and light_share is not null
),
county as (
    select c.city_code, c.year, c.co2_county_sum_mt
    from intermediate.int_emissions__county_city_co2 as c
),
both_ as (
    select d.*, c.co2_county_sum_mt from down as d inner join county as c using (city_code, year)
)
select *, co2_county_sum_mt / nullif(sum(co2_county_sum_mt) over (partition by province_code, year), 0)
          as county_share
from both_
order by year, city_code
"""


def rank_agreement(shares: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation per year between downscaled and county-product city shares."""
    from scipy.stats import spearmanr

    rows = []
    for year, g in shares.dropna(subset=["light_share", "county_share"]).groupby("year", sort=True):
        rho = spearmanr(g["light_share"], g["county_share"]).statistic if len(g) > 2 else float("nan")
        rows.append({"year": int(year), "n_cities": len(g), "spearman_rho": float(rho)})
    return pd.DataFrame(rows, columns=["year", "n_cities", "spearman_rho"])


@dg.asset(key=["analysis", "downscaling_eq19"], deps=DEPS, group_name="analysis", kinds={"python", "duckdb"},
          description="Seed 004 eq. 19 (province industrial CO2 on province light, two-way FE) and the rank "
                      "agreement of downscaled city shares with the CEADs county product.")
def downscaling_eq19(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Estimate eq. 19 and compare downscaled shares with the county product; store both and a report."""
    import numpy as np

    from analysis import twfe
    from dagster_project.assets.designs import store_results

    with warehouse.connection(read_only=True) as conn:
        prov = conn.execute(EQ19_QUERY).df()
        shares = conn.execute(SHARES_QUERY).df()
    prov["ln_co2_industrial"] = np.log(prov["co2_industrial_mt"].where(prov["co2_industrial_mt"] > 0))
    prov["ln_light"] = np.log(prov["light_harmonised"].where(prov["light_harmonised"] > 0))
    fits = [twfe(prov, y="co2_industrial_mt", x=["light_harmonised"], unit="province_code", time="year",
                 cluster="province_code", model_id="seed004.eq19.levels"),
            twfe(prov, y="ln_co2_industrial", x=["ln_light"], unit="province_code", time="year",
                 cluster="province_code", model_id="seed004.eq19.logs")]
    agreement = rank_agreement(shares)
    with warehouse.connection() as conn:
        store_results(conn, fits, paper="seed_004", table_id="eq19")
        conn.execute("create schema if not exists analysis")
        conn.register("_agreement", agreement)
        conn.execute("create or replace table analysis.downscaling_validation as select * from _agreement")
        conn.unregister("_agreement")
    out_dir = Path(settings().reports_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = ("# Industrial CO2 downscaling (seed 004, eqs. 19-20)\n\n"
            f"Province light basis: {', '.join(sorted(prov['light_basis'].unique()))}.\n\n"
            + "\n\n".join(f"## {r.model_id}\n\n{r.to_markdown()}" for r in fits)
            + "\n\n## Downscaled city shares vs the CEADs county product (Spearman, by year)\n\n"
            + agreement.to_markdown(index=False, floatfmt=(".0f", ".0f", ".3f")) + "\n")
    (out_dir / "downscaling.md").write_text(text, encoding="utf-8")
    for r in fits:
        context.log.info(f"{r.model_id}: {r.params.to_dict()} (N={r.nobs})")
    return dg.MaterializeResult(metadata={
        "eq19_levels_coef": float(fits[0].params.iloc[0]), "eq19_logs_coef": float(fits[1].params.iloc[0]),
        "median_spearman": float(agreement["spearman_rho"].median()) if len(agreement) else float("nan"),
        "agreement": dg.MetadataValue.md(agreement.to_markdown(index=False, floatfmt=(".0f", ".0f", ".3f"))),
        "report": str(out_dir / "downscaling.md")})


downscaling_assets = [downscaling_eq19]
