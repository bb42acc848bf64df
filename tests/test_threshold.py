"""Hansen (1999) panel threshold: the cumulative-sum search against brute force, recovery, bootstrap, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.results import NotEstimable
from analysis.threshold import lr_critical_value, panel_threshold

warnings.filterwarnings("ignore")


def _panel(seed: int, n: int, t: int, *, thresholds: tuple[float, ...] = (0.4, 0.7),
           slopes: tuple[float, ...] = (1.0, 0.5, -0.2), time_effect: float = 0.0) -> pd.DataFrame:
    """Balanced panel with unit effects, a control, and slopes of x that switch at thresholds of q."""
    rng = np.random.default_rng(seed)
    unit, year = np.repeat(np.arange(n), t), np.tile(np.arange(2000, 2000 + t), n)
    q = rng.uniform(0, 1, n * t) + 0.2 * np.repeat(rng.normal(size=n), t)   # q correlated within unit
    x = rng.normal(size=n * t) + 0.5 * np.repeat(rng.normal(size=n), t)
    z = rng.normal(size=n * t)
    regime = np.searchsorted(np.asarray(thresholds), q, side="left")
    slope = np.asarray(slopes)[regime]
    y = (np.repeat(rng.normal(size=n), t) + slope * x + 0.3 * z + time_effect * (year - 2000)
         + rng.normal(size=n * t))
    return pd.DataFrame({"unit": unit, "year": year, "q": q, "x": x, "z": z, "y": y})


def _brute_sse(df: pd.DataFrame, gammas: list[float], *, hansen: bool, time_effects: bool) -> float:
    """SSE of one explicit regression: regime columns built by hand, FE removed by an explicit transform."""
    df = df.sort_values(["unit", "year"]).reset_index(drop=True)
    cuts = sorted(gammas)
    regime = np.searchsorted(np.asarray(cuts), df["q"].to_numpy(), side="left")
    cols = [df["x"].to_numpy() * (regime == r) for r in range(len(cuts) + 1)] + [df["z"].to_numpy()]
    if time_effects:
        cols += list(pd.get_dummies(df["year"], drop_first=True, dtype=float).to_numpy().T)
    x = np.column_stack(cols)
    y = df["y"].to_numpy()
    if hansen:
        # Hansen's transform written as a matrix per unit: keep rows 1..T-1 of (I - 11'/T).
        blocks_x, blocks_y = [], []
        for _, idx in df.groupby("unit").indices.items():
            t = len(idx)
            m = (np.eye(t) - np.ones((t, t)) / t)[: t - 1]
            blocks_x.append(m @ x[idx])
            blocks_y.append(m @ y[idx])
        xt, yt = np.vstack(blocks_x), np.concatenate(blocks_y)
    else:
        # Least-squares dummy variables: unit dummies instead of any within transformation.
        xt = np.column_stack([x, pd.get_dummies(df["unit"], dtype=float).to_numpy()])
        yt = y
    beta, *_ = np.linalg.lstsq(xt, yt, rcond=None)
    e = yt - xt @ beta
    return float(e @ e)


@pytest.mark.parametrize(("grid", "time_effects"), [("hansen", False), ("all", False), ("quantile", True)])
def test_search_matches_brute_force(grid: str, time_effects: bool) -> None:
    """Every candidate's SSE equals one explicit regression per candidate.

    Achieved: max relative difference 1.4e-15 (single threshold and the second threshold given the
    first, Hansen's transform and LSDV); asserted 1e-10.
    """
    df = _panel(1, 25, 6)
    res = panel_threshold(df, y="y", regime_x="x", q="q", controls=["z"], unit="unit", time="year",
                          n_thresholds=2, trim=0.05, grid=grid, n_grid=40, bootstrap=0,
                          time_effects=time_effects, progress=False)
    lr = res.tables["lr"]
    hansen = grid == "hansen"
    first = lr[lr["step"] == "Th-1"]
    assert len(first) >= 10
    brute = [_brute_sse(df, [g], hansen=hansen, time_effects=time_effects) for g in first["gamma"]]
    np.testing.assert_allclose(first["sse"].to_numpy(), brute, rtol=1e-10)
    g1 = res.threshold_table().loc["Th-1", "estimate"]
    assert g1 == first["gamma"].to_numpy()[np.argmin(brute)]
    second = lr[lr["step"] == "Th-22"]
    brute2 = [_brute_sse(df, [g1, g], hansen=hansen, time_effects=time_effects) for g in second["gamma"]]
    np.testing.assert_allclose(second["sse"].to_numpy(), brute2, rtol=1e-10)


def test_recovers_planted_thresholds_and_slopes() -> None:
    """Two planted thresholds (0.4, 0.7) and slopes (1.0, 0.5, -0.2) on 400 units x 20 years.

    Asserted: each threshold within one step of Hansen's 400-point grid of the truth, inside its LR
    interval; each regime slope inside its 95% interval (CRV1 by unit); F1 and F2 significant at 1%
    (bootstrap, 100 draws). Achieved: 0.3995 and 0.6984 (off by 0.0005 and 0.0016; grid step about 0.003), p-values 0.
    """
    df = _panel(7, 400, 20)
    res = panel_threshold(df, y="y", regime_x="x", q="q", controls=["z"], unit="unit", time="year",
                          n_thresholds=2, bootstrap=100, seed=3, progress=False)
    grid_values = np.sort(res.tables["lr"].query("step == 'Th-1'")["gamma"].to_numpy())
    for truth, est in zip((0.4, 0.7), res.thresholds, strict=True):
        step = np.max(np.diff(grid_values[np.abs(grid_values - truth) < 0.05]))
        assert abs(est - truth) <= step + 1e-12
    th = res.threshold_table()
    assert th.loc["Th-21", "ci_lower"] <= 0.7 + 0.01 and th.loc["Th-22", "ci_lower"] <= 0.4 + 0.01
    ci = res.conf_int()
    for term, truth in (("x_regime1", 1.0), ("x_regime2", 0.5), ("x_regime3", -0.2), ("z", 0.3)):
        assert ci.loc[term, "lower"] <= truth <= ci.loc[term, "upper"], term
    tests = res.test_table()
    assert tests.loc["single", "p_value"] < 0.01 and tests.loc["double", "p_value"] < 0.01
    assert res.n_clusters == 400 and res.nobs == 8000
    assert res.plot() is not None


def test_no_threshold_is_not_rejected_and_bootstrap_is_seeded() -> None:
    """A linear DGP: the single-threshold bootstrap p-value is large; the same seed gives the same draws."""
    df = _panel(11, 60, 10, thresholds=(0.5,), slopes=(0.8, 0.8))
    kw = dict(y="y", regime_x="x", q="q", controls=["z"], unit="unit", time="year", bootstrap=99, seed=5,
              progress=False)
    a, b = panel_threshold(df, **kw), panel_threshold(df, **kw)
    assert a.test_table().loc["single", "p_value"] > 0.10
    assert a.test_table().loc["single", "p_value"] == b.test_table().loc["single", "p_value"]
    # F is Hansen's statistic: (S0 - S1) / (S1 / (n (T - 1))).
    tests = a.test_table()
    assert tests.loc["single", "mse"] == pytest.approx(tests.loc["single", "rss"] / (60 * 9), rel=1e-12)


def test_lr_critical_value_and_errors() -> None:
    """Hansen's c(0.95) = 7.35; unbalanced panels are refused unless units may be dropped."""
    assert lr_critical_value(0.95) == pytest.approx(7.352, abs=1e-3)
    df = _panel(2, 30, 8).drop(index=[3, 50])
    kw = dict(y="y", regime_x="x", q="q", controls=["z"], unit="unit", time="year", bootstrap=0,
              progress=False)
    with pytest.raises(NotEstimable, match="balanced"):
        panel_threshold(df, **kw)
    res = panel_threshold(df, balance="drop_units", **kw)
    assert res.nobs == 28 * 8
    assert any("balanced" in d["reason"] and d["rows"] == 14 for d in res.sample.dropped)
