"""Seed 002 replication: national big-data pilot zones and city CO2 (staggered DID with spillovers).

One asset runs the paper's designs on the warehouse panel (specs/seed_002.md §5): TWFE benchmark,
Callaway–Sant'Anna, Goodman-Bacon decomposition, event study (k = -4…2, base -1), Gardner two-stage
DID with Butts distance rings, placebo permutation test, counterfactual timing, PSM-DID, other-policy
controls and heterogeneity by zone batch. Coefficients go to `analysis.regression_results`; tables
and figures to `reports/seed002/`.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from dagster_project.assets.analysis import ANALYSIS_CODE, PANEL, write_results
from dagster_project.config import settings
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

# Estimators (linearmodels, statsmodels, scipy, pyfixest) are imported inside the functions that use them:
# loading the Dagster definitions must not pay for them.
CODE_VERSION = code_version_of(Path(__file__), *ANALYSIS_CODE)

POLICY = "bigdata_pilot_zone"
OTHER_POLICIES = ("broadband_china", "low_carbon_city", "innovative_city", "carbon_ets_pilot")
YEARS = (2011, 2019)                     # the paper's sample period
CONTROLS = ["ln_gdp_per_capita", "share_secondary_gdp", "fin_loans_gdp"]
RINGS = ["ring_0_100", "ring_100_200", "ring_200_300"]
Y = "ln_co2"


def load_design(conn: object) -> "pd.DataFrame":
    """The estimation frame: panel outcome and controls, zone cohort, rings and other policies' dummies."""

    panel = conn.execute(f"select city_code, year, {Y}, {', '.join(CONTROLS)} from marts.city_year_panel").df()
    tp = conn.execute("select city_code, year, policy_id, treated, first_treat_year from marts.treatment_panel").df()
    rings = conn.execute(f"select city_code, year, {', '.join(RINGS)} from marts.spillover_rings "
                         "where policy_id = ?", [POLICY]).df()
    zone = tp[tp.policy_id == POLICY][["city_code", "year", "treated", "first_treat_year"]]
    others = (tp[tp.policy_id.isin(OTHER_POLICIES)]
              .pivot_table(index=["city_code", "year"], columns="policy_id", values="treated", aggfunc="max")
              .add_prefix("treated_").reset_index())
    df = (panel.merge(zone, on=["city_code", "year"], how="left").merge(rings, on=["city_code", "year"], how="left")
          .merge(others, on=["city_code", "year"], how="left"))
    in_window = df["year"].between(*YEARS)
    if in_window.any():
        df = df[in_window]
    df["cohort"] = df["first_treat_year"].fillna(0).astype(int)
    df["treated"] = df["treated"].fillna(0).astype(float)
    for r in RINGS:
        df[r] = df[r].fillna(0).astype(float)
    # A fixed row order: bootstrap and permutation draws are assigned by position, so a seeded rerun
    # must see the same order (DuckDB returns join results in no guaranteed order).
    return df.dropna(subset=[Y]).sort_values(["city_code", "year"]).reset_index(drop=True)


def balanced(df: "pd.DataFrame") -> "pd.DataFrame":
    """Cities observed in every year of the frame (CEADs is unbalanced; CS, Bacon and placebo need balance)."""
    n_years = df["year"].nunique()
    keep = df.groupby("city_code")["year"].transform("nunique") == n_years
    return df[keep].reset_index(drop=True)


def _rows(model_id: str, terms: list[str], est: list[float], se: list[float], nobs: int, n_clusters: int | None,
          p: list[float] | None = None, vcov: str = "") -> "pd.DataFrame":
    """Rows in the layout of analysis.regression_results for estimators without a RegressionResult."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    est_a, se_a = np.asarray(est, float), np.asarray(se, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est_a / se_a
    pv = np.asarray(p, float) if p is not None else 2 * stats.norm.sf(np.abs(t))
    return pd.DataFrame({"model_id": model_id, "dependent": Y, "term": terms, "estimate": est_a, "std_error": se_a,
                         "t_stat": t, "p_value": pv, "ci_lower": est_a - 1.96 * se_a, "ci_upper": est_a + 1.96 * se_a,
                         "nobs": nobs, "n_clusters": n_clusters, "r2_within": np.nan,
                         "fixed_effects": "city_code+year", "vcov": vcov})


def not_estimable() -> tuple[type[BaseException], ...]:
    """The errors that mean a design cannot be identified on this sample."""
    import numpy as np
    from linearmodels.panel.utility import AbsorbingEffectError

    return (ValueError, np.linalg.LinAlgError, AbsorbingEffectError, ZeroDivisionError)


def run_designs(df: "pd.DataFrame", out_dir: Path, draws: int = 999, placebo_draws: int = 1000
                ) -> "tuple[pd.DataFrame, list[str]]":
    """Estimate every design; return tidy result rows and the Markdown report sections.

    A design the sample cannot identify (e.g. no Guizhou city in a small universe, too few balanced
    cities) is reported as not estimable with the reason, instead of failing the whole replication.
    """
    import numpy as np
    import pandas as pd

    from analysis import twfe
    from analysis.did import bacon, callaway_santanna, event_study, placebo, psm_did, two_stage

    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[pd.DataFrame] = []
    md: list[str] = []
    bal = balanced(df)

    def design(title: str, fn: object) -> None:
        md.append(f"## {title}")
        try:
            fn()
        except not_estimable() as exc:
            md.append(f"Not estimable on this sample: {type(exc).__name__}: {exc}")

    def twfe_benchmark() -> None:
        base = twfe(df, Y, ["treated"], model_id="seed002_twfe")
        ctrl = twfe(df, Y, ["treated", *CONTROLS], model_id="seed002_twfe_controls")
        rows.extend([base.tidy(), ctrl.tidy()])
        md.extend([base.to_markdown(), ctrl.to_markdown()])

    def cs() -> None:
        res = callaway_santanna(bal, Y, "city_code", "year", "cohort", control_group="never", method="dr",
                                bootstrap=draws, seed=20240601, progress=False)
        for kind in ("simple", "group", "dynamic"):
            f = res.aggregate(kind).to_frame()
            rows.append(_rows(f"seed002_cs_{kind}", [f"{kind}::{e}" for e in f["egt"]], list(f["att"]),
                              list(f["se"]), len(bal), bal["city_code"].nunique(), vcov="multiplier bootstrap"))
        md.extend([res.to_markdown("dynamic"), "![CS dynamic](cs_dynamic.png)"])
        res.aggregate("dynamic").plot(title="Callaway–Sant'Anna dynamic ATT").savefig(out_dir / "cs_dynamic.png",
                                                                                      dpi=120)

    def bacon_decomposition() -> None:
        bd = bacon(bal, Y, "city_code", "year", "cohort")
        md.extend([bd.to_markdown(), "![Bacon](bacon.png)"])
        bd.plot().savefig(out_dir / "bacon.png", dpi=120)

    def event() -> None:
        es = event_study(df, Y, group="cohort", ref=-1, min_e=-4, max_e=2, model_id="seed002_event_study")
        rows.append(es.tidy())
        md.extend([es.to_markdown(), "![event study](event_study.png)"])
        es.plot(title="Big-data zones: event study (TWFE)").savefig(out_dir / "event_study.png", dpi=120)

    def rings() -> None:
        ts = two_stage(df, Y, group="cohort", rings=RINGS, model_id="seed002_two_stage_rings")
        rows.append(ts.tidy())
        md.append(ts.to_markdown())

    def permutation() -> None:
        pl = placebo(bal, Y, group="cohort", n_draws=placebo_draws, seed=20240601, progress=False)
        rows.append(_rows("seed002_placebo", ["treated"], [pl.actual], [float(np.std(pl.draws))], len(bal),
                          bal["city_code"].nunique(), p=[pl.p_value], vcov=f"permutation ({placebo_draws} draws)"))
        md.extend([pl.to_markdown(), "![placebo](placebo.png)"])
        pl.plot().savefig(out_dir / "placebo.png", dpi=120)

    def timing(shift: int) -> None:
        # Pretend each cohort started `shift` years early; estimate on pre-treatment years only.
        fake = df.assign(fake_cohort=np.where(df["cohort"] > 0, df["cohort"] - shift, 0))
        fake["treated_fake"] = ((fake["fake_cohort"] > 0) & (fake["year"] >= fake["fake_cohort"])).astype(float)
        pre = fake[(fake["cohort"] == 0) | (fake["year"] < fake["cohort"])]
        res = twfe(pre, Y, ["treated_fake"], model_id=f"seed002_timing_minus{shift}")
        rows.append(res.tidy())
        md.append(res.to_markdown())

    def psm() -> None:
        res = psm_did(df, Y, group="cohort", covariates=CONTROLS, model_id="seed002_psm_did")
        rows.append(res.tidy())
        md.append(res.to_markdown())

    def other_policies() -> None:
        # A policy that never switches inside the window (e.g. the ETS pilots, all treated from 2011) is
        # absorbed by the city effects and cannot be controlled for.
        others = [c for c in df.columns if c.startswith("treated_")
                  and (df[c].fillna(0).groupby(df["city_code"]).nunique() > 1).any()]
        res = twfe(df.fillna({c: 0 for c in others}), Y, ["treated", *others, *CONTROLS],
                   model_id="seed002_other_policies")
        rows.append(res.tidy())
        md.append(res.to_markdown())

    def by_batch() -> None:
        het = df.assign(treated_guizhou=df["treated"] * (df["cohort"] == 2015),
                        treated_batch2=df["treated"] * (df["cohort"] == 2017))
        terms = [c for c in ("treated_guizhou", "treated_batch2") if het[c].nunique() > 1]
        if not terms:
            raise ValueError("no treated city of either batch in the sample")
        res = twfe(het, Y, [*terms, *CONTROLS], model_id="seed002_by_zone_batch")
        rows.append(res.tidy())
        md.append(res.to_markdown())

    design("TWFE benchmark (Table 3)", twfe_benchmark)
    design("Callaway–Sant'Anna, never-treated controls, doubly robust (Table 4)", cs)
    design("Goodman-Bacon decomposition (Tables 5–6)", bacon_decomposition)
    design("Event study, k = -4…2, base period -1 (Figs 4–5)", event)
    design("Gardner two-stage DID with distance rings (Table 10)", rings)
    design("Placebo: random reassignment of cohorts (Figs 6–7)", permutation)
    design("Counterfactual timing: 1 year early (Table 7)", lambda: timing(1))
    design("Counterfactual timing: 2 years early (Table 7)", lambda: timing(2))
    design("PSM-DID (Table 9)", psm)
    design("Controlling for other policies (Table 8)", other_policies)
    design("Heterogeneity by zone batch (Table 12)", by_batch)
    tidy = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return tidy, md


@dg.asset(key=["analysis", "seed002_bigdata_zones"],
          deps=[PANEL, dg.AssetKey(["marts", "treatment_panel"]), dg.AssetKey(["marts", "spillover_rings"])],
          group_name="seed_002", kinds={"python", "duckdb"}, code_version=CODE_VERSION, output_required=False,
          description="Seed 002 designs on the panel: TWFE, CS, Bacon, event study, two-stage with rings, "
                      "placebo, timing shifts, PSM-DID, other policies, heterogeneity.")
def seed002_bigdata_zones(context: dg.AssetExecutionContext, warehouse: Warehouse) -> Iterator[object]:
    """Estimate the seed-002 replication and store its results and report (skipped when its frame is unchanged)."""
    with warehouse.connection(read_only=True) as conn:
        df = load_design(conn)
        digest = input_digest(df, code_version=CODE_VERSION)
        if inputs_unchanged(context, conn, digest):
            yield unchanged_observation(context, digest)
            return
    out_dir = Path(settings().reports_dir) / "seed002"
    tidy, md = run_designs(df, out_dir)
    if len(tidy):
        with warehouse.connection() as conn:
            write_results(conn, tidy)
    text = "# Seed 002 replication: big-data pilot zones and city CO2\n\n" + "\n\n".join(md)
    (out_dir / "report.md").write_text(text, encoding="utf-8")
    n_models = tidy["model_id"].nunique() if len(tidy) else 0
    context.log.info(f"seed002: {n_models} models, {len(tidy)} rows")
    yield dg.MaterializeResult(metadata={"dagster/row_count": len(tidy), "report": str(out_dir / "report.md"),
                                         "models": n_models, INPUT_DIGEST: digest,
                                          "city_years": len(df), "cities": int(df["city_code"].nunique())})


seed002_assets = [seed002_bigdata_zones]
