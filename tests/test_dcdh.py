"""de Chaisemartin & D'Haultfœuille: DID_M, dynamic effects and TWFE weights against hand-computed cells.

Every expected value below is written out cell by cell from the definitions (dCDH 2020 eq. 3 and
Theorem 1, dCDH 2024 DID_{g,ℓ}); the estimator computes them from unit x period matrices. The
arithmetic is exact up to rounding: asserted to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.did.dcdh import dcdh, dcdh_dynamic, twowayfeweights
from analysis.results import NotEstimable

EXACT = 1e-12

# Four units over periods 1..4: A joins in 3, B joins in 4, C and D never treated.
Y = {"A": [1.0, 2.0, 4.5, 5.0], "B": [0.5, 1.5, 2.0, 4.0], "C": [2.0, 2.5, 3.5, 3.0], "D": [0.0, 1.0, 1.5, 3.0]}
D = {"A": [0, 0, 1, 1], "B": [0, 0, 0, 1], "C": [0, 0, 0, 0], "D": [0, 0, 0, 0]}


def _frame(y: dict[str, list[float]], d: dict[str, list[int]]) -> pd.DataFrame:
    """Long panel (u, t, y, d) from per-unit lists over periods 1..T."""
    return pd.DataFrame([(u, t + 1, y[u][t], d[u][t]) for u in y for t in range(len(y[u]))],
                        columns=["u", "t", "y", "d"])


KW = {"y": "y", "unit": "u", "time": "t", "treatment": "d"}


def test_did_m_and_placebo_by_hand() -> None:
    """DID_M = (N_{1,0,3} DID_{+,3} + N_{1,0,4} DID_{+,4}) / N_S; placebo one period earlier (to 1e-12)."""
    res = dcdh(_frame(Y, D), **KW, n_boot=20, seed=0)
    # t = 3: joiner A (ΔY = 4.5 − 2.0) against stable B, C, D (ΔY = 0.5, 1.0, 0.5).
    did3 = (4.5 - 2.0) - ((2.0 - 1.5) + (3.5 - 2.5) + (1.5 - 1.0)) / 3
    # t = 4: joiner B (ΔY = 4.0 − 2.0) against stable C, D (ΔY = −0.5, 1.5).
    did4 = (4.0 - 2.0) - ((3.0 - 3.5) + (3.0 - 1.5)) / 2
    assert res.params["DID_M"] == pytest.approx((did3 + did4) / 2, abs=EXACT)
    # Placebo: the same switchers and stable units one period earlier (Y_{t−1} − Y_{t−2}).
    pl3 = (2.0 - 1.0) - ((1.5 - 0.5) + (2.5 - 2.0) + (1.0 - 0.0)) / 3
    pl4 = (2.0 - 1.5) - ((3.5 - 2.5) + (1.5 - 1.0)) / 2
    assert res.params["DID_M_placebo"] == pytest.approx((pl3 + pl4) / 2, abs=EXACT)
    per = res.tables["periods"].set_index("period")
    assert per.loc[3, "did_plus"] == pytest.approx(did3, abs=EXACT)
    assert per.loc[4, "did_plus"] == pytest.approx(did4, abs=EXACT)
    assert per.loc[2, "n_joiners"] == 0 and np.isnan(per.loc[2, "did_plus"])
    assert res.sample.cohorts == {"3": 1, "4": 1, "never": 2}


def test_did_m_with_leavers_by_hand() -> None:
    """Leavers enter as DID_{−,t} = (stable at 1) − (leavers), weighted by N_{0,1,t} (to 1e-12)."""
    y = {**Y, "E": [3.0, 4.0, 4.0, 6.5], "F": [1.0, 3.0, 4.0, 4.5]}
    d = {**D, "E": [1, 1, 0, 0], "F": [1, 1, 1, 1]}
    res = dcdh(_frame(y, d), **KW, n_boot=20, seed=0)
    did3 = (4.5 - 2.0) - ((2.0 - 1.5) + (3.5 - 2.5) + (1.5 - 1.0)) / 3
    # t = 3 leaver E (ΔY = 0) against stable-at-1 F (ΔY = 1): DID_{−,3} = 1 − 0.
    minus3 = (4.0 - 3.0) - (4.0 - 4.0)
    # t = 4: joiner B against stable-at-0 C, D and E (E was 0 in 3 and stays 0 in 4).
    did4 = (4.0 - 2.0) - ((3.0 - 3.5) + (3.0 - 1.5) + (6.5 - 4.0)) / 3
    assert res.params["DID_M"] == pytest.approx((did3 + minus3 + did4) / 3, abs=EXACT)
    # Placebo at 3: A vs B, C, D as before, and leaver E vs F (both stable at 1 from 1 to 2): Y2 − Y1.
    pl3 = (2.0 - 1.0) - ((1.5 - 0.5) + (2.5 - 2.0) + (1.0 - 0.0)) / 3
    pl3_minus = (3.0 - 1.0) - (4.0 - 3.0)
    # Placebo at 4: B vs C, D only (E changed between 2 and 3): Y3 − Y2.
    pl4 = (2.0 - 1.5) - ((3.5 - 2.5) + (1.5 - 1.0)) / 2
    assert res.params["DID_M_placebo"] == pytest.approx((pl3 + pl3_minus + pl4) / 3, abs=EXACT)


def test_dynamic_effects_by_hand() -> None:
    """δ_ℓ from DID_{g,ℓ} with not-yet-switched comparisons; placebos mirror them (to 1e-12)."""
    res = dcdh_dynamic(_frame(Y, D), **KW, effects=2, placebos=2, n_boot=20, seed=0)
    # ℓ = 1 (e = 0) equals DID_M for an absorbing treatment.
    e0 = ((4.5 - 2.0) - ((2.0 - 1.5) + (3.5 - 2.5) + (1.5 - 1.0)) / 3
          + (4.0 - 2.0) - ((3.0 - 3.5) + (3.0 - 1.5)) / 2) / 2
    # ℓ = 2 (e = 1): only A (F = 3) has period F + 1 = 4; comparisons not switched by 4: C, D. Y4 − Y2.
    e1 = (5.0 - 2.0) - ((3.0 - 2.5) + (3.0 - 1.0)) / 2
    # Placebo ℓ = 1 (e = −2): Y_{F−2} − Y_{F−1} with the ℓ = 1 comparisons.
    a = (1.0 - 2.0) - ((0.5 - 1.5) + (2.0 - 2.5) + (0.0 - 1.0)) / 3
    b = (1.5 - 2.0) - ((2.5 - 3.5) + (1.0 - 1.5)) / 2
    # Placebo ℓ = 2 (e = −3): needs F − 3 ≥ period 1 and effect 2: none (A has F − 3 = 0).
    assert res.params[0] == pytest.approx(e0, abs=EXACT)
    assert res.params[1] == pytest.approx(e1, abs=EXACT)
    assert res.params[-2] == pytest.approx((a + b) / 2, abs=EXACT)
    assert -3 not in res.params.index and res.reference == (-1,)
    assert res.params[0] == pytest.approx(dcdh(_frame(Y, D), **KW, n_boot=5, seed=0).params["DID_M"], abs=EXACT)
    eff = res.tables["effects"].set_index("event_time")
    assert eff.loc[0, "n_switchers"] == 2 and eff.loc[1, "n_switchers"] == 1
    assert list(res.tidy()["term"]) == ["event_time::-2", "event_time::0", "event_time::1"]


def test_dynamic_switchers_out_enter_with_minus_sign() -> None:
    """A leaver (1 → 0) is compared with units still at 1 and enters with S_g = −1 (to 1e-12)."""
    y = {**Y, "E": [3.0, 4.0, 4.0, 6.5], "F": [1.0, 3.0, 4.0, 4.5]}
    d = {**D, "E": [1, 1, 0, 0], "F": [1, 1, 1, 1]}
    res = dcdh_dynamic(_frame(y, d), **KW, effects=1, n_boot=5, seed=0)
    joiners = [(4.5 - 2.0) - ((2.0 - 1.5) + (3.5 - 2.5) + (1.5 - 1.0)) / 3,
               (4.0 - 2.0) - ((3.0 - 3.5) + (3.0 - 1.5)) / 2]
    leaver = -((4.0 - 4.0) - (4.0 - 3.0))
    assert res.params[0] == pytest.approx((sum(joiners) + leaver) / 3, abs=EXACT)


def test_twfe_weights_by_hand_with_a_negative_weight() -> None:
    """A joins in 2, B in 3, no never-treated: W = (1, −1/2, 1/2) on (A2, A3, B3); σ(w)² = 3.5 (exact)."""
    y = {"A": [0.0, 2.0, 1.0], "B": [1.0, 0.5, 3.0]}
    d = {"A": [0, 1, 1], "B": [0, 0, 1]}
    res = twowayfeweights(_frame(y, d), **KW)
    # ε = D − D̄_g − D̄_t + D̄ (balanced): A2 = 1/3, A3 = −1/6, B3 = 1/6; Σ ε over treated = 1/3.
    w = res.weights().set_index(["u", "t"])["weight"]
    np.testing.assert_allclose(w.loc[[("A", 2), ("A", 3), ("B", 3)]].to_numpy(), [1.0, -0.5, 0.5], atol=EXACT)
    assert res.stats["n_negative_weights"] == 1 and res.stats["n_positive_weights"] == 2
    assert res.stats["sum_negative_weights"] == pytest.approx(-0.5, abs=EXACT)
    # w = W·N_1/N = (3, −1.5, 1.5); σ(w)² = (1/3)[(3−1)² + (−1.5−1)² + (1.5−1)²] = 3.5.
    assert res.stats["sigma_w"] == pytest.approx(np.sqrt(3.5), abs=EXACT)
    beta = np.linalg.lstsq(_dummies(_frame(y, d)), _frame(y, d)["y"].to_numpy(), rcond=None)[0][0]
    assert res.params["TWFE"] == pytest.approx(beta, abs=1e-10)
    assert res.stats["sigma_fe"] == pytest.approx(abs(beta) / np.sqrt(3.5), abs=1e-10)
    assert res.stats["sigma_fe_dof"] == pytest.approx(abs(beta) / np.sqrt(3.5 * 3 / 2), abs=1e-10)
    # σ̲_fe: w sorted (3, 1.5, −1.5), shares 1/3; from the bottom P = (1, 2/3, 1/3), S = (1, 0, −1/2),
    # T = (4.5, 1.5, 0.75). k = 2: 1.5 < −0/(1/3) fails; k = 3: −1.5 < 0.5/(2/3) holds →
    # σ̲_fe = |β| / sqrt(0.75 + 0.25/(2/3)).
    assert res.stats["sigma_fe_sign"] == pytest.approx(abs(beta) / np.sqrt(0.75 + 0.25 / (2 / 3)), abs=1e-10)
    assert res.stats["n_weights"] == 3


def _dummies(df: pd.DataFrame, treat: str = "d") -> np.ndarray:
    """Design [D, unit dummies, time dummies (first dropped)] for the explicit TWFE regression."""
    return np.column_stack([df[treat].to_numpy(float), pd.get_dummies(df["u"], dtype=float).to_numpy(),
                            pd.get_dummies(df["t"], drop_first=True, dtype=float).to_numpy()])


@pytest.mark.parametrize("weighted", [False, True])
def test_twfe_equals_weighted_sum_of_cell_effects(weighted: bool) -> None:
    """Identity (Theorem 1 without noise): β_fe = Σ_{D=1} W_{g,t} Δ_{g,t} on an unbalanced panel (to 1e-12)."""
    rng = np.random.default_rng(0)
    n, t = 30, 8
    df = pd.DataFrame({"u": np.repeat(np.arange(n), t), "t": np.tile(np.arange(t), n)})
    cohort = rng.choice([2, 4, 6, 99], size=n)[df.u]
    df["d"] = (df.t >= cohort).astype(int)
    df["delta"] = np.where(df.d == 1, rng.normal(1.0, 2.0, len(df)), 0.0)     # heterogeneous cell effects
    df["y"] = rng.normal(size=n)[df.u] + rng.normal(size=t)[df.t] + df.delta
    df["w"] = rng.uniform(0.5, 2.0, len(df))
    df = df.drop(index=rng.choice(len(df), 20, replace=False)).reset_index(drop=True)
    res = twowayfeweights(df, **KW, weights="w" if weighted else None)
    sw = np.sqrt(df["w"].to_numpy()) if weighted else np.ones(len(df))
    beta = np.linalg.lstsq(_dummies(df) * sw[:, None], df["y"].to_numpy() * sw, rcond=None)[0][0]
    cells = df[df.d == 1].merge(res.weights(), on=["u", "t"], validate="1:1")
    assert len(cells) == int(df.d.sum()) == res.stats["n_treated_cells"]
    assert cells["weight"].sum() == pytest.approx(1.0, abs=EXACT)
    assert float(cells["weight"] @ cells["delta"]) == pytest.approx(beta, abs=EXACT)
    assert res.stats["n_negative_weights"] > 0        # long staggered panel: late cells of early cohorts


def test_dynamic_effects_on_noise_free_staggered_panel() -> None:
    """Y = α_g + λ_t + ATT(g, e): δ_e is the switcher-weighted mean of ATT(g, e) over cohorts with controls."""
    rng = np.random.default_rng(1)
    n, t = 40, 7
    df = pd.DataFrame({"u": np.repeat(np.arange(n), t), "t": np.tile(np.arange(2010, 2010 + t), n)})
    g = rng.choice([2012, 2014, 0], size=n)[df.u]
    e = df.t - g
    att = {2012: lambda k: -0.1 - 0.02 * k, 2014: lambda k: -0.3 + 0.05 * k}
    df["d"] = ((g > 0) & (e >= 0)).astype(int)
    df["y"] = rng.normal(size=n)[df.u] + rng.normal(size=t)[df.t - 2010] + [
        att[gg](k) if gg > 0 and k >= 0 else 0.0 for gg, k in zip(g, e, strict=True)]
    res = dcdh_dynamic(df, **KW, effects=4, placebos=2, n_boot=10, seed=0)
    size = pd.Series(g).groupby(df.u).first().value_counts()
    for k in range(4):
        cohorts = [c for c in (2012, 2014) if c + k <= 2016]
        truth = sum(size[c] * att[c](k) for c in cohorts) / sum(size[c] for c in cohorts)
        assert res.params[k] == pytest.approx(truth, abs=EXACT)
    np.testing.assert_allclose(res.params[[-3, -2]].to_numpy(), 0.0, atol=EXACT)
    # The same design given by the first treated period (0 = never) instead of the 0/1 column.
    by_group = dcdh_dynamic(df.assign(g=g).drop(columns="d"), y="y", unit="u", time="t", group="g", effects=4,
                            placebos=2, n_boot=10, seed=0)
    np.testing.assert_allclose(by_group.params.to_numpy(), res.params.to_numpy(), rtol=0, atol=0)


def test_bootstrap_se_matches_two_sample_variance() -> None:
    """Two periods, one switch date: the cluster-bootstrap SE of DID_M ≈ sqrt(s²_T/n_T + s²_C/n_C).

    2,000 draws give a Monte Carlo error of ~1.6% on the SE; observed gap 0.8%, asserted 5%.
    """
    rng = np.random.default_rng(2)
    n = 400
    treat = rng.random(n) < 0.3
    df = pd.DataFrame({"u": np.repeat(np.arange(n), 2), "t": np.tile([1, 2], n)})
    df["d"] = (treat[df.u] & (df.t == 2)).astype(int)
    df["y"] = rng.normal(size=len(df)) * np.where(treat[df.u], 2.0, 1.0) + 0.5 * df["d"]
    res = dcdh(df, **KW, n_boot=2000, seed=3)
    dy = df.pivot(index="u", columns="t", values="y").diff(axis=1)[2].to_numpy()
    se = np.sqrt(dy[treat].var() / treat.sum() + dy[~treat].var() / (~treat).sum())
    assert res.params["DID_M"] == pytest.approx(dy[treat].mean() - dy[~treat].mean(), abs=EXACT)
    assert res.std_errors["DID_M"] == pytest.approx(se, rel=0.05)
    again = dcdh(df, **KW, n_boot=50, seed=3)
    assert again.std_errors["DID_M"] == dcdh(df, **KW, n_boot=50, seed=3).std_errors["DID_M"]


def test_carries_weight_counts_and_renders() -> None:
    """The DID_M result carries the TWFE-weight counts (seed 002 quotes "110 effects, all positive")."""
    res = dcdh(_frame(Y, D), **KW, n_boot=20, seed=0)
    assert res.stats["n_treated_cells"] == 3 and res.stats["n_positive_weights"] == 3
    assert res.stats["n_negative_weights"] == 0 and np.isnan(res.stats["sigma_fe_sign"])
    assert len(res.tables["twfe_weights"]) == 3
    md = res.to_markdown()
    assert "DID_M" in md and "twfe_weights" in md and "<table" in res.to_html()
    assert list(res.tidy()["term"]) == ["DID_M", "DID_M_placebo"]


def test_failures_name_the_problem() -> None:
    """No switcher → NotEstimable; non-binary treatment, repeated switches → ValueError naming them."""
    never = _frame(Y, {u: [0, 0, 0, 0] for u in Y})
    with pytest.raises(NotEstimable, match="no unit switches"):
        dcdh(never, **KW, n_boot=5)
    with pytest.raises(NotEstimable, match="no treated cell"):
        twowayfeweights(never, **KW)
    with pytest.raises(ValueError, match="must be 0/1"):
        dcdh(_frame(Y, {**D, "C": [0, 0, 2, 2]}), **KW, n_boot=5)
    with pytest.raises(ValueError, match="exactly one of"):
        dcdh(_frame(Y, D), y="y", unit="u", time="t", n_boot=5)
    with pytest.raises(ValueError, match=r"changes more than once.*'C'"):
        dcdh_dynamic(_frame(Y, {**D, "C": [0, 1, 0, 1]}), **KW, effects=1, n_boot=5)


def test_sigma_measures_equal_brute_force_minimisation() -> None:
    """σ_fe and σ̲_fe are the minima of σ(Δ) over cell effects Δ that reproduce β_fe = Σ W Δ with (a) an ATT
    of zero, (b) every Δ of the sign opposite to β_fe (dCDH 2020 Corollary 1). Found here by SLSQP from
    20 starts on a staggered panel with negative (and two exactly zero) weights
    (observed ≤5e-16; asserted 1e-7, the optimizer's tolerance).
    """
    from scipy.optimize import minimize

    rng = np.random.default_rng(4)
    n, t = 12, 6
    df = pd.DataFrame({"u": np.repeat(np.arange(n), t), "t": np.tile(np.arange(t), n)})
    cohort = np.array([1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5])[df.u]
    df["d"] = (df.t >= cohort).astype(int)
    df["y"] = rng.normal(size=len(df)) + 0.8 * df["d"]
    res = twowayfeweights(df, **KW)
    assert res.stats["n_negative_weights"] > 0 and res.stats["n_weights"] < res.stats["n_treated_cells"]
    tab = res.weights()
    share = (tab["cell_weight"] / tab["cell_weight"].sum()).to_numpy()
    big_w = tab["weight"].to_numpy()
    beta = float(res.params["TWFE"])

    def var(d: np.ndarray) -> float:
        return float(share @ (d - share @ d) ** 2)

    def solve(extra: list[dict], bounds: list[tuple[float | None, float | None]] | None) -> float:
        best = np.inf
        for _ in range(20):
            x0 = -np.sign(beta) * np.abs(rng.normal(size=len(share)))
            r = minimize(var, x0, method="SLSQP", bounds=bounds, options={"ftol": 1e-15, "maxiter": 2000},
                         constraints=[{"type": "eq", "fun": lambda d: big_w @ d - beta}, *extra])
            if r.success and abs(big_w @ r.x - beta) < 1e-9:
                best = min(best, np.sqrt(r.fun))
        return best

    zero_att = solve([{"type": "eq", "fun": lambda d: share @ d}], None)
    opposite = solve([], [(None, 0.0) if beta > 0 else (0.0, None)] * len(share))
    assert res.stats["sigma_fe"] == pytest.approx(zero_att, abs=1e-7)
    assert res.stats["sigma_fe_sign"] == pytest.approx(opposite, abs=1e-7)
