"""Analysis assets: regressions on the panel, written to `analysis.regression_results` and reports/."""


from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from dagster_project.config import PROJECT_ROOT, settings
from dagster_project.resources import Warehouse
from dagster_project.versions import (
    INPUT_DIGEST,
    code_version_of,
    input_digest,
    inputs_unchanged,
    unchanged_observation,
)

if TYPE_CHECKING:
    import pandas as pd

    from analysis import RegressionResult

# linearmodels and the estimators are imported in the asset body: loading the definitions must not pay for them.
# The estimator package is part of every analysis asset's code version: a changed estimator reruns it.
ANALYSIS_CODE = sorted((PROJECT_ROOT / "analysis").rglob("*.py"))
CODE_VERSION = code_version_of(Path(__file__), *ANALYSIS_CODE)

PANEL = dg.AssetKey(["marts", "city_year_panel"])

# The first regression: seed 004's baseline, ln industrial CO2 intensity on robot penetration with city
# and year fixed effects and city-clustered errors.
BASELINE_MODELS = [
    {"model_id": "seed004_baseline", "y": "ln_industrial_co2_intensity", "x": ["robot_exposure"]},
    {"model_id": "seed004_baseline_controls", "y": "ln_industrial_co2_intensity",
     "x": ["robot_exposure", "ln_gdp_per_capita", "share_secondary_gdp", "fin_loans_gdp"]},
]


RESULT_COLUMNS = ["model_id", "dependent", "term", "estimate", "std_error", "t_stat", "p_value", "ci_lower",
                  "ci_upper", "nobs", "n_clusters", "r2_within", "fixed_effects", "vcov"]


def write_results(conn: object, results: "list[RegressionResult] | pd.DataFrame") -> "pd.DataFrame":
    """Replace these models' rows in analysis.regression_results in one transaction."""
    import pandas as pd

    tidy = results if isinstance(results, pd.DataFrame) else pd.concat([r.tidy() for r in results],
                                                                       ignore_index=True)
    tidy = tidy[RESULT_COLUMNS].astype({"nobs": "int64", "n_clusters": "Int64", "r2_within": "float64"})
    conn.execute("begin transaction")
    try:
        conn.execute("create schema if not exists analysis")
        conn.register("_tidy", tidy)
        conn.execute("create table if not exists analysis.regression_results as select * from _tidy limit 0")
        conn.execute("delete from analysis.regression_results where model_id in (select distinct model_id from _tidy)")
        conn.execute("insert into analysis.regression_results by name select * from _tidy")
        conn.unregister("_tidy")
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    return tidy


@dg.asset(key=["analysis", "twfe_baseline"], deps=[PANEL], group_name="seed_004", kinds={"python", "duckdb"},
          code_version=CODE_VERSION, output_required=False,
          description="Two-way FE regressions (city and year effects, CRV1 errors clustered by city).")
def twfe_baseline(context: dg.AssetExecutionContext, warehouse: Warehouse) -> Iterator[object]:
    """Estimate the baseline TWFE models and store coefficients plus a readable table (skipped when unchanged)."""
    from analysis import twfe

    columns = sorted({"city_code", "year", *(v for m in BASELINE_MODELS for v in [m["y"], *m["x"]])})
    with warehouse.connection(read_only=True) as conn:
        panel = conn.execute(f"select {', '.join(columns)} from marts.city_year_panel order by city_code, year").df()
        digest = input_digest(panel, code_version=CODE_VERSION)
        if inputs_unchanged(context, conn, digest):
            yield unchanged_observation(context, digest)
            return
    results = [twfe(panel, m["y"], m["x"], model_id=m["model_id"]) for m in BASELINE_MODELS]
    with warehouse.connection() as conn:
        tidy = write_results(conn, results)
    out_dir = Path(settings().reports_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = "\n\n".join(f"## {r.model_id}\n\n{r.to_markdown()}" for r in results)
    (out_dir / "twfe_baseline.md").write_text(text, encoding="utf-8")
    for r in results:
        context.log.info(f"{r.model_id}: {r.params.to_dict()} (N={r.nobs}, G={r.n_clusters})")
    yield dg.MaterializeResult(metadata={
        "table": dg.MetadataValue.md(text), "dagster/row_count": len(tidy),
        "report": str(out_dir / "twfe_baseline.md"), INPUT_DIGEST: digest,
    })


analysis_assets = [twfe_baseline]
