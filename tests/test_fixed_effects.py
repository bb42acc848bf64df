"""TWFE with CRV1 errors against pyfixest (reghdfe-compatible small-sample correction)."""

from __future__ import annotations

import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from analysis import twfe
from analysis.fixed_effects import demean

pf = pytest.importorskip("pyfixest")
warnings.filterwarnings("ignore")


def _simulated(seed: int = 0, n: int = 80, t: int = 12) -> pd.DataFrame:
    """An unbalanced panel with heteroskedastic, cluster-correlated errors."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"c": np.repeat(np.arange(n), t), "t": np.tile(np.arange(2000, 2000 + t), n)})
    df = df.sample(frac=0.9, random_state=seed).sort_values(["c", "t"]).reset_index(drop=True)
    df["p"] = df.c // 8
    a = rng.normal(size=n)[df.c]
    g = rng.normal(size=t)[df.t - 2000]
    df["x1"] = rng.normal(size=len(df)) + a
    df["x2"] = rng.normal(size=len(df)) + g
    df["y"] = 0.5 * df.x1 - 0.2 * df.x2 + a + g + rng.normal(size=len(df)) * (1 + 0.5 * np.abs(a))
    return df


@pytest.mark.parametrize("cluster", ["c", "p", "t"])
def test_twfe_matches_pyfixest_crv1(cluster: str) -> None:
    df = _simulated()
    ours = twfe(df, "y", ["x1", "x2"], unit="c", time="t", cluster=cluster)
    ref = pf.feols("y ~ x1 + x2 | c + t", df, vcov={"CRV1": cluster})
    # Tolerances of issue 5: coefficients 1e-8, standard errors 1e-6 (relative).
    np.testing.assert_allclose(ours.params.to_numpy(), ref.coef().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), ref.se().to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.pvalues.to_numpy(), ref.pvalue().to_numpy(), atol=1e-8)


def test_twfe_on_sample_panel_matches_pyfixest(built_warehouse: Path) -> None:
    conn = duckdb.connect(str(built_warehouse), read_only=True)
    panel = conn.execute("select city_code, year, ln_industrial_co2_intensity, robot_exposure, "
                         "ln_gdp_per_capita from marts.city_year_panel").df()
    conn.close()
    x = ["robot_exposure", "ln_gdp_per_capita"]
    ours = twfe(panel, "ln_industrial_co2_intensity", x)
    ref = pf.feols("ln_industrial_co2_intensity ~ robot_exposure + ln_gdp_per_capita | city_code + year",
                   panel.dropna(), vcov={"CRV1": "city_code"})
    np.testing.assert_allclose(ours.params.to_numpy(), ref.coef().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), ref.se().to_numpy(), rtol=1e-6)
    assert ours.nobs == ref._N


def test_demeaning_closed_form_balanced() -> None:
    """On a balanced panel two-way demeaning has the closed form x - x̄_i - x̄_t + x̄."""
    rng = np.random.default_rng(3)
    n, t = 7, 5
    x = rng.normal(size=(n * t, 1))
    gi, gt = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
    m = x[:, 0].reshape(n, t)
    expected = (m - m.mean(1, keepdims=True) - m.mean(0, keepdims=True) + m.mean()).reshape(-1)
    np.testing.assert_allclose(demean(x, [gi, gt])[:, 0], expected, atol=1e-12)


def test_singletons_dropped_like_reghdfe() -> None:
    df = _simulated()
    lone = pd.DataFrame({"c": [999], "t": [2000], "p": [99], "x1": [1.0], "x2": [0.0], "y": [5.0]})
    ours = twfe(pd.concat([df, lone]), "y", ["x1", "x2"], unit="c", time="t", cluster="c")
    assert ours.notes["singletons_dropped"] == 1
    assert ours.nobs == len(df)


def test_result_renders_tables() -> None:
    res = twfe(_simulated(), "y", ["x1", "x2"], unit="c", time="t", cluster="c", model_id="m")
    md = res.to_markdown()
    assert "x1" in md and "***" in md and "Clustered by" in md
    assert "\\begin{tabular}" in res.to_latex()
    assert "<table" in res.to_html()
    tidy = res.tidy()
    assert list(tidy["term"]) == ["x1", "x2"] and (tidy["nobs"] == res.nobs).all()
