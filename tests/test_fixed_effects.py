"""Fixed-effects OLS (pyfixest engine) against reghdfe's CRV1 formulas written out explicitly.

`analysis.fixed_effects.feols` runs pyfixest, so comparing it with pyfixest would check nothing. Here
the reference is an explicit computation: least squares on the full dummy-variable design (numpy
`lstsq`, no demeaning), the sandwich (X'WX)⁻¹ [Σ_g s_g s_g'] (X'WX)⁻¹ restricted to the regressors of
interest (for least squares that block equals the Frisch-Waugh-Lovell sandwich on the partialled
regressors), and reghdfe's small-sample factor G/(G-1)·(N-1)/(N-K), where K counts the regressors,
the constant, and levels-minus-one of every fixed effect that is not nested in a cluster variable;
two-way clustering is Cameron-Gelbach-Miller V₁ + V₂ − V₁₂ with the factor of min(G), inference on
t(min G − 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.fixed_effects import demean, feols, twfe
from analysis.results import EstimationResult, NotEstimable, etable


def _simulated(seed: int = 0, n: int = 80, t: int = 12) -> pd.DataFrame:
    """An unbalanced panel with heteroskedastic, cluster-correlated errors and a positive weight column."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"c": np.repeat(np.arange(n), t), "t": np.tile(np.arange(2000, 2000 + t), n)})
    df = df.sample(frac=0.9, random_state=seed).sort_values(["c", "t"]).reset_index(drop=True)
    df["p"] = df.c // 8                      # provinces: units nested in them
    df["r"] = rng.integers(0, 9, size=len(df))   # a grouping nested in neither effect
    a = rng.normal(size=n)[df.c]
    g = rng.normal(size=t)[df.t - 2000]
    df["x1"] = rng.normal(size=len(df)) + a
    df["x2"] = rng.normal(size=len(df)) + g
    df["y"] = 0.5 * df.x1 - 0.2 * df.x2 + a + g + rng.normal(size=len(df)) * (1 + 0.5 * np.abs(a))
    df["w"] = rng.uniform(0.5, 3.0, size=len(df))
    return df


def _nested(fe: pd.Series, cl: pd.Series) -> bool:
    """True if every level of the fixed effect lies inside one cluster."""
    return bool((pd.DataFrame({"f": fe.to_numpy(), "c": cl.to_numpy()}).groupby("f")["c"].nunique() == 1).all())


def _reghdfe(df: pd.DataFrame, y: str, x: list[str], fes: list[str], clusters: list[str],
             weights: str | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Coefficients, CRV1 covariance and t degrees of freedom by the explicit reghdfe formulas."""
    dummies = [pd.get_dummies(df[f], drop_first=True, dtype=float).to_numpy() for f in fes]
    design = np.column_stack([df[x].to_numpy(float), np.ones(len(df)), *dummies])
    w = df[weights].to_numpy(float) if weights else np.ones(len(df))
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(design * sw[:, None], df[y].to_numpy(float) * sw, rcond=None)[0]
    resid = df[y].to_numpy(float) - design @ beta
    bread = np.linalg.inv(design.T @ (design * w[:, None]))
    k = len(x)

    def meat(codes: np.ndarray) -> np.ndarray:
        scores = np.zeros((codes.max() + 1, design.shape[1]))
        np.add.at(scores, codes, design * (w * resid)[:, None])
        return scores.T @ scores

    codes = [pd.factorize(df[c])[0] for c in clusters]
    if len(codes) == 1:
        middle = meat(codes[0])
    else:
        both = pd.factorize(pd.MultiIndex.from_arrays([df[c] for c in clusters]))[0]
        middle = meat(codes[0]) + meat(codes[1]) - meat(both)
    g_min = min(int(c.max() + 1) for c in codes)
    n = len(df)
    big_k = k + 1 + sum(df[f].nunique() - 1 for f in fes if not any(_nested(df[f], df[c]) for c in clusters))
    factor = g_min / (g_min - 1) * (n - 1) / (n - big_k)
    v = factor * bread @ middle @ bread
    return beta[:k], v[:k, :k], g_min - 1


@pytest.mark.parametrize("cluster", ["c", "p", "t", "r"])
def test_one_way_crv1_equals_explicit_reghdfe_formula(cluster: str) -> None:
    """One-way CRV1: coefficients agree to ~1e-14 (asserted 1e-10), SEs to ≤1.1e-8 relative (asserted 5e-8).

    The SE gap is pyfixest's demeaning tolerance (1e-8, reghdfe's default too); it varies from run to run
    (multi-threaded demeaning): 2e-9 to 1.1e-8 observed.

    The four clusterings cover a FE nested in the cluster (c, p), the time FE nested (t), and none (r).
    """
    df = _simulated()
    ours = twfe(df, y="y", x=["x1", "x2"], unit="c", time="t", cluster=cluster)
    b, v, dof = _reghdfe(df, "y", ["x1", "x2"], ["c", "t"], [cluster])
    np.testing.assert_allclose(ours.params.to_numpy(), b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), np.sqrt(np.diag(v)), rtol=5e-8)
    np.testing.assert_allclose(ours.vcov.to_numpy(), v, rtol=0, atol=1e-7 * np.abs(np.diag(v)).max())
    assert ours.df_resid == dof and ours.n_clusters == df[cluster].nunique()
    p = 2 * stats.t.sf(np.abs(b / np.sqrt(np.diag(v))), dof)
    np.testing.assert_allclose(ours.pvalues.to_numpy(), p, rtol=1e-6, atol=1e-12)   # p amplifies the SE gap


@pytest.mark.parametrize("clusters", [("c", "t"), ("p", "t"), ("r", "t")])
def test_two_way_clustering_equals_cameron_gelbach_miller(clusters: tuple[str, str]) -> None:
    """Two-way CRV1 = factor(min G)·(V₁ + V₂ − V₁₂), t(min G − 1): SEs agree to ≤1e-8 (asserted 5e-8)."""
    df = _simulated(seed=1)
    ours = feols(df, y="y", x=["x1", "x2"], fe=["c", "t"], cluster=list(clusters))
    b, v, dof = _reghdfe(df, "y", ["x1", "x2"], ["c", "t"], list(clusters))
    np.testing.assert_allclose(ours.params.to_numpy(), b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), np.sqrt(np.diag(v)), rtol=5e-8)
    assert ours.df_resid == dof == min(df[c].nunique() for c in clusters) - 1
    assert ours.cluster == clusters


@pytest.mark.parametrize("cluster", ["c", "p"])
def test_analytic_weights_equal_weighted_least_squares(cluster: str) -> None:
    """Weighted FE regression = WLS on the dummy design with weighted scores: SEs ≤1e-8 (asserted 5e-8)."""
    df = _simulated(seed=2)
    ours = twfe(df, y="y", x=["x1", "x2"], unit="c", time="t", cluster=cluster, weights="w")
    b, v, _ = _reghdfe(df, "y", ["x1", "x2"], ["c", "t"], [cluster], weights="w")
    np.testing.assert_allclose(ours.params.to_numpy(), b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), np.sqrt(np.diag(v)), rtol=5e-8)
    unweighted = twfe(df, y="y", x=["x1", "x2"], unit="c", time="t", cluster=cluster)
    assert np.abs(unweighted.params.to_numpy() - b).max() > 1e-4   # the weights matter


def test_three_fixed_effects_equal_dummy_regression() -> None:
    """A third FE set (region) is absorbed like a dummy block: coefficients 1e-10, SEs ≤1e-8 (asserted 5e-8)."""
    df = _simulated(seed=3)
    ours = feols(df, y="y", x=["x1", "x2"], fe=["c", "t", "r"], cluster="p")
    b, v, _ = _reghdfe(df, "y", ["x1", "x2"], ["c", "t", "r"], ["p"])
    np.testing.assert_allclose(ours.params.to_numpy(), b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), np.sqrt(np.diag(v)), rtol=5e-8)


def test_no_fixed_effects_is_ols_with_an_intercept() -> None:
    """Without fixed effects: OLS with an "Intercept" term; coefficients = numpy least squares (1e-12 reached,
    asserted 1e-10)."""
    df = _simulated(seed=4)
    ours = feols(df, y="y", x=["x1", "x2"], fe=(), cluster="c")
    design = np.column_stack([np.ones(len(df)), df["x1"], df["x2"]])
    b = np.linalg.lstsq(design, df["y"].to_numpy(), rcond=None)[0]
    assert list(ours.params.index) == ["Intercept", "x1", "x2"]
    np.testing.assert_allclose(ours.params.to_numpy(), b, rtol=0, atol=1e-10)


def test_twfe_on_sample_panel_equals_explicit_formula(built_warehouse: Path) -> None:
    """On the built sample panel (missing rows dropped and counted): coefficients 1e-10, SEs asserted 5e-8."""
    conn = duckdb.connect(str(built_warehouse), read_only=True)
    panel = conn.execute("select city_code, year, ln_industrial_co2_intensity, robot_exposure, "
                         "ln_gdp_per_capita from marts.city_year_panel order by city_code, year").df()
    conn.close()
    x = ["robot_exposure", "ln_gdp_per_capita"]
    ours = twfe(panel, y="ln_industrial_co2_intensity", x=x, unit="city_code", time="year")
    complete = panel.dropna()
    b, v, _ = _reghdfe(complete, "ln_industrial_co2_intensity", x, ["city_code", "year"], ["city_code"])
    np.testing.assert_allclose(ours.params.to_numpy(), b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), np.sqrt(np.diag(v)), rtol=5e-8)
    assert ours.nobs == len(complete)
    dropped = sum(d["rows"] for d in ours.sample.dropped if "missing" in d["reason"])
    assert dropped == len(panel) - len(complete)


def test_demeaning_closed_form_balanced() -> None:
    """On a balanced panel two-way demeaning has the closed form x - x̄_i - x̄_t + x̄ (to 1e-12)."""
    rng = np.random.default_rng(3)
    n, t = 7, 5
    x = rng.normal(size=(n * t, 1))
    gi, gt = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
    m = x[:, 0].reshape(n, t)
    expected = (m - m.mean(1, keepdims=True) - m.mean(0, keepdims=True) + m.mean()).reshape(-1)
    np.testing.assert_allclose(demean(x, [gi, gt])[:, 0], expected, atol=1e-12)


# ---------------------------------------------------------------- sample accounting and identification
def test_missing_rows_and_singletons_are_dropped_and_counted() -> None:
    """Three rows with missing values and a chain of singletons are dropped, each with its reason and count."""
    df = _simulated()
    extra = pd.DataFrame({
        # unit 900 has one row (a singleton); unit 901 has two rows, one of them in a year seen only by
        # unit 900, so dropping 900 makes that row a singleton in the time FE and then 901 a singleton.
        "c": [900, 901, 901], "t": [1990, 1990, 2000], "p": [90, 90, 90], "r": [0, 0, 0],
        "x1": [1.0, 0.5, 0.2], "x2": [0.0, 0.3, 0.1], "y": [5.0, 1.0, 2.0], "w": [1.0, 1.0, 1.0]})
    holes = df.copy()
    holes.loc[[3, 10], "x1"] = np.nan
    holes.loc[20, "y"] = np.nan
    data = pd.concat([holes, extra], ignore_index=True)
    ours = twfe(data, y="y", x=["x1", "x2"], unit="c", time="t", cluster="c")
    reasons = {d["reason"]: d["rows"] for d in ours.sample.dropped}
    missing = next(k for k in reasons if k.startswith("rows with a missing value"))
    assert reasons[missing] == 3 and "x1: 2" in missing and "y: 1" in missing
    single = next(k for k in reasons if "singleton" in k)
    clean = holes.dropna()
    # Removing the three holes may leave further singletons in the simulated panel: count them by hand.
    expected_single = 3 + (len(clean) - len(_strip_singletons(clean)))
    assert reasons[single] == expected_single
    assert ours.nobs == len(_strip_singletons(clean))
    assert ours.sample.n_units == _strip_singletons(clean)["c"].nunique()


def _strip_singletons(df: pd.DataFrame) -> pd.DataFrame:
    """Rows left after repeatedly removing units or years with a single row (reghdfe's rule, by hand)."""
    while True:
        keep = (df.groupby("c")["c"].transform("size") > 1) & (df.groupby("t")["t"].transform("size") > 1)
        if keep.all():
            return df
        df = df[keep]


def test_absorbed_regressor_names_variable_and_fixed_effect() -> None:
    """A regressor constant within units is absorbed by the unit FE: NotEstimable names both."""
    df = _simulated()
    df["size"] = df["c"] % 5 + 0.5
    with pytest.raises(NotEstimable, match=r"'size' does not vary within 'c'"):
        twfe(df, y="y", x=["x1", "size"], unit="c", time="t", model_id="absorbed")


def test_collinear_regressor_is_named() -> None:
    """x3 = x1 + 2·x2 is collinear: NotEstimable names it, with the model id."""
    df = _simulated()
    df["x3"] = df["x1"] + 2 * df["x2"]
    with pytest.raises(NotEstimable, match=r"collin:.*'x3' is collinear"):
        twfe(df, y="y", x=["x1", "x2", "x3"], unit="c", time="t", model_id="collin")
    df["k"] = 1.0
    with pytest.raises(NotEstimable, match=r"'k' (is constant|does not vary)"):
        feols(df, y="y", x=["x1", "k"], fe="c", cluster="c")


def test_bad_options_fail_clearly() -> None:
    """Missing columns and a clustered vcov without a cluster fail with a message naming the problem."""
    df = _simulated()
    with pytest.raises(KeyError, match="nope"):
        feols(df, y="y", x=["nope"], fe="c", cluster="c")
    with pytest.raises(ValueError, match="cluster="):
        feols(df, y="y", x=["x1"], fe="c")


# ---------------------------------------------------------------- results are data; tables
def test_to_dict_from_dict_round_trip() -> None:
    """A result survives JSON storage: coefficients, covariance, sample and inference exactly."""
    res = twfe(_simulated(), y="y", x=["x1", "x2"], unit="c", time="t", cluster="p", model_id="m")
    res.inference = pd.DataFrame({"p_value": [0.01], "ci_lower": [0.4], "ci_upper": [0.6]}, index=["x1"])
    back = EstimationResult.from_dict(json.loads(json.dumps(res.to_dict())))
    pd.testing.assert_series_equal(back.params, res.params, check_names=False)
    pd.testing.assert_frame_equal(back.vcov, res.vcov)
    pd.testing.assert_frame_equal(back.tidy(), res.tidy())
    assert back.sample == res.sample and back.cluster == ("p",) and back.fixed_effects == ("c", "t")
    assert back.df_resid == res.df_resid and back.pvalues["x1"] == 0.01


def test_result_renders_tables() -> None:
    """Markdown, LaTeX and HTML render the terms, stars, clusters and N; tidy has one row per term."""
    res = twfe(_simulated(), y="y", x=["x1", "x2"], unit="c", time="t", cluster="c", model_id="m")
    md = res.to_markdown()
    assert "x1" in md and "***" in md and "Clusters" in md and f"{res.nobs:,}" in md
    assert "\\begin{tabular}" in res.to_latex()
    assert "<table" in res.to_html()
    tidy = res.tidy()
    assert list(tidy["term"]) == ["x1", "x2"] and (tidy["nobs"] == res.nobs).all()


def test_etable_side_by_side() -> None:
    """etable: one column per model, blanks for absent terms, FE/cluster/N rows, in md, tex and html."""
    df = _simulated()
    a = twfe(df, y="y", x=["x1"], unit="c", time="t", cluster="c")
    b = feols(df, y="y", x=["x1", "x2"], fe=["c", "t", "r"], cluster=["p", "t"])
    frame = etable([a, b], labels=["(A)", "(B)"], format="frame")
    assert list(frame.columns) == ["(A)", "(B)"]
    assert frame.loc["x2", "(A)"] == "" and frame.loc["x2", "(B)"].startswith(f"{b.params['x2']:.3f}")
    assert frame.loc["FE: r"].tolist() == ["No", "Yes"]
    assert frame.loc["Clustered by"].tolist() == ["c", "p+t"]
    assert frame.loc["N"].tolist() == [f"{a.nobs:,}", f"{b.nobs:,}"]
    md, tex, html = (etable([a, b], format=f) for f in ("md", "tex", "html"))
    assert "| x1" in md and "p<0.10" in md
    assert "\\begin{tabular}" in tex and "FE: r" in tex
    assert "<table" in html and "(B)" not in html and "(2)" in html
    with pytest.raises(ValueError, match="labels"):
        etable([a, b], labels=["only one"])
