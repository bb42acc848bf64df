"""Heterogeneity-robust DID estimators (issue 5): pyfixest agreement, identities, placebo, PSM, planted recovery."""

from __future__ import annotations

import functools
import io
import time
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from matplotlib.figure import Figure
from scipy import stats

from analysis.did.bacon import LATER_VS_EARLIER, bacon
from analysis.did.dcdh import dcdh_dynamic, twowayfeweights
from analysis.did.event_study import event_study
from analysis.did.placebo import placebo, twfe_coefficient
from analysis.did.psm import psm_did
from analysis.did.stacked import stack, stacked
from analysis.did.sun_abraham import sun_abraham
from analysis.did.two_stage import two_stage
from analysis.fixed_effects import demean, twfe
from dagster_project.sample.dgp import BIGDATA_ATT_BASE, BIGDATA_ATT_SLOPE, RING_EFFECTS, simulate

warnings.filterwarnings("ignore")

RINGS = ["ring_0_100", "ring_100_200", "ring_200_300"]
# The planted panel's columns: general estimators take no seed-specific defaults.
CITY = {"unit": "city_code", "time": "year", "group": "bigdata_cohort"}


def _staggered(seed: int = 0, n: int = 150, t: int = 10, cohorts: tuple[int, ...] = (0, 2013, 2015, 2017),
               effect: float = 0.5) -> pd.DataFrame:
    """A balanced staggered panel with dynamic, cohort-specific effects and two ring-exposure dummies."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"u": np.repeat(np.arange(n), t), "t": np.tile(np.arange(2010, 2010 + t), n)})
    df["g"] = rng.choice(cohorts, size=n)[df.u]
    df["st"] = df.u // 10
    df["x"] = rng.normal(size=len(df))
    df["y"] = rng.normal(size=n)[df.u] + rng.normal(size=t)[df.t - 2010] + 0.3 * df.x + rng.normal(size=len(df))
    treated = (df.g > 0) & (df.t >= df.g)
    df.loc[treated, "y"] += effect + 0.1 * (df.t - df.g)[treated] + 0.0001 * (df.g - 2013)[treated]
    df["D"] = treated.astype(int)
    for k, eff in (("r1", -0.3), ("r2", -0.1)):
        df[k] = ((~treated) & (rng.random(len(df)) < 0.15) & (df.t >= 2013)).astype(int)
        df["y"] += eff * df[k]
    df["exposed"] = ((df.D + df.r1 + df.r2) > 0).astype(int)
    return df


@pytest.fixture
def tight_pyfixest(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyfixest's did2s recovers the first-stage FE by lsqr with atol=btol=1e-6 (errors ~1e-6); tighten it."""
    from pyfixest.estimation.models.feols_ import Feols

    original = Feols.fixef

    @functools.wraps(original)
    def fixef(self, atol: float = 1e-14, btol: float = 1e-14, **kwargs):  # type: ignore[no-untyped-def]
        return original(self, atol=atol, btol=btol, **kwargs)

    monkeypatch.setattr(Feols, "fixef", fixef)


# ---------------------------------------------------------------- agreement with pyfixest
@pytest.mark.parametrize("cluster", ["u", "st"])
def test_event_study_matches_pyfixest(cluster: str) -> None:
    df = _staggered()
    ours = event_study(df, y="y", unit="u", time="t", group="g", controls=["x"], cluster=cluster, min_e=-4, max_e=3)
    # pyfixest i() with never-treated coded as the reference period and the tails binned by hand.
    df["relb"] = np.where(df.g > 0, df.t - df.g, -1).clip(-4, 3)
    ref = pf.feols("y ~ i(relb, ref=-1) + x | u + t", df, vcov={"CRV1": cluster})
    names = [f"relb::{e}" for e in ours.params.index]
    np.testing.assert_allclose(ours.params.to_numpy(), ref.coef()[names].to_numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), ref.se()[names].to_numpy(), rtol=1e-6)
    assert ours.binned == (True, True) and ours.nobs == ref._N


def test_sun_abraham_matches_pyfixest_saturated() -> None:
    """Sun-Abraham against pyfixest's saturated event study and its IW `aggregate()`.

    The cohort x event-time δ̂ and their CRV1 errors come from the same engine (pyfixest), so they agree
    exactly (asserted 1e-12). The independent part is the IW step: cohort-share weights and the
    conditional-on-weights standard errors agree with pyfixest's `aggregate()` to 3e-17 / 2e-16 relative
    (asserted 1e-12); the delta-method term for the estimated shares is ours alone (it only adds).
    """
    df = _staggered(seed=1)
    ours = sun_abraham(df, y="y", unit="u", time="t", group="g")
    fit = pf.event_study(df, yname="y", idname="u", tname="t", gname="g", estimator="saturated")
    ref = fit.tidy()
    bc = ours.by_cohort
    names = [f"rel_time::{float(e)}:first_treated_period::{g}" for g, e in zip(bc.cohort, bc.event_time, strict=True)]
    assert len(names) == len(ref)
    np.testing.assert_allclose(bc["estimate"], ref.loc[names, "Estimate"].astype(float), rtol=0, atol=1e-12)
    np.testing.assert_allclose(bc["std_error"], ref.loc[names, "Std. Error"].astype(float), rtol=1e-12)
    # IW aggregation with cohort shares; pyfixest's aggregate() gives the conditional-on-weights errors.
    agg = fit.aggregate()
    np.testing.assert_allclose(ours.params.to_numpy(), agg["Estimate"].to_numpy(float), rtol=0, atol=1e-12)
    cond = ours.notes["std_error_conditional"]
    np.testing.assert_allclose(cond.to_numpy(), agg["Std. Error"].to_numpy(float), rtol=1e-12)
    # The delta method adds the variance of the estimated shares: never smaller.
    assert (ours.std_errors >= cond - 1e-12).all()
    assert (ours.std_errors > cond * (1 + 1e-6)).any()


def test_sun_abraham_delta_method_tracks_sampling_variation() -> None:
    """Monte Carlo: with random cohort shares and cohort-specific effects, the delta-method IW standard error
    matches the sampling SD of ν̂_e; the conditional-on-shares error (pyfixest `aggregate()`) does not.

    150 panels of 120 units x 8 years, cohorts 2012 / 2014 / never at random, effects 0.2 and 2.0. Where
    two cohorts mix (e = 0..3) mean SE / SD is 0.89-0.94 with the delta method (asserted 0.8-1.2; the SD
    itself has ~6% Monte Carlo error) and 0.66-0.69 conditional on the shares (asserted < 0.8).
    """
    est, se, cond = [], [], []
    for s in range(150):
        rng = np.random.default_rng(s)
        n, t = 120, 8
        df = pd.DataFrame({"u": np.repeat(np.arange(n), t), "t": np.tile(np.arange(2010, 2010 + t), n)})
        df["g"] = rng.choice([0, 2012, 2014], size=n)[df.u]
        df["y"] = (rng.normal(size=n)[df.u] + rng.normal(size=t)[df.t - 2010] + 0.5 * rng.normal(size=len(df))
                   + np.where((df.g > 0) & (df.t >= df.g), df.g.map({0: 0.0, 2012: 0.2, 2014: 2.0}), 0.0))
        r = sun_abraham(df, y="y", unit="u", time="t", group="g")
        est.append(r.params)
        se.append(r.std_errors)
        cond.append(r.notes["std_error_conditional"])
    sd = pd.DataFrame(est).std()
    mixed = [0, 1, 2, 3]
    ratio_delta = (pd.DataFrame(se).mean() / sd)[mixed]
    ratio_cond = (pd.DataFrame(cond).mean() / sd)[mixed]
    assert ratio_delta.between(0.8, 1.2).all(), ratio_delta
    assert (ratio_cond < 0.8).all(), ratio_cond


def test_sun_abraham_last_treated_control() -> None:
    df = _staggered(seed=2, cohorts=(2013, 2015, 2017))
    res = sun_abraham(df, y="y", unit="u", time="t", group="g", control_group="last")
    assert set(res.by_cohort["cohort"]) == {2013, 2015}
    assert res.nobs == (df.t < 2017).sum()
    with pytest.raises(ValueError, match="no control units"):
        sun_abraham(df, y="y", unit="u", time="t", group="g")


@pytest.mark.parametrize("case", ["static", "covariates", "event_study", "rings", "cluster"])
def test_two_stage_matches_did2s(case: str, tight_pyfixest: None) -> None:
    df = _staggered(seed=3)
    df["rel"] = np.where(df.g > 0, df.t - df.g, -1)
    kw = {"unit": "u", "time": "t", "group": "g"}
    fs, ss, treat, cl = "~ 0 | u + t", "~ 0 + D", "D", "u"
    if case == "static":
        ours = two_stage(df, y="y", **kw)
    elif case == "covariates":
        ours = two_stage(df, y="y", controls=["x"], **kw)
        fs = "~ x | u + t"
    elif case == "event_study":
        ours = two_stage(df, y="y", event_study=True, **kw).regression
        ss = "~ i(rel, ref=-1)"
    elif case == "rings":
        # Butts (2023): stage 1 on untreated AND unexposed rows, stage 2 with one coefficient per ring.
        ours = two_stage(df, y="y", rings=["r1", "r2"], **kw)
        ss, treat = "~ 0 + D + r1 + r2", "exposed"
    else:
        ours = two_stage(df, y="y", cluster="st", **kw)
        cl = "st"
    ref = pf.did2s(df.copy(), yname="y", first_stage=fs, second_stage=ss, treatment=treat, cluster=cl)
    np.testing.assert_allclose(ours.params.to_numpy(), ref.coef().to_numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), np.sqrt(np.diag(ref._vcov)), rtol=1e-8)


def test_stacked_matches_pyfixest_on_the_stack() -> None:
    df = _staggered(seed=4, t=12)
    ours = stacked(df, y="y", unit="u", time="t", group="g", window=2, controls=["x"])
    data, subs = stack(df, "u", "t", "g", (-2, 2))
    assert subs["included"].all()
    # Clean controls only: never-treated or first treated after the window closes.
    for g, sub in data.groupby("_sub"):
        ctrl = sub[sub["_rel"].isna()]
        assert ((ctrl.g == 0) | (ctrl.g > g + 2)).all() and sub.t.between(g - 2, g + 2).all()
    ref = pf.feols("y ~ _treated + x | _sub_unit + _sub_time", data, vcov={"CRV1": "u"})
    np.testing.assert_allclose(ours.params.to_numpy(), ref.coef().to_numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), ref.se().to_numpy(), rtol=1e-6)


# ---------------------------------------------------------------- Goodman-Bacon identities
@pytest.mark.parametrize("cohorts", [(0, 2013, 2015, 2017), (2013, 2015, 2017), (0, 2008, 2013, 2016), (0, 2014)])
def test_bacon_weights_sum_to_one_and_reproduce_twfe(cohorts: tuple[int, ...]) -> None:
    df = _staggered(seed=5, cohorts=cohorts)
    res = bacon(df, y="y", unit="u", time="t", group="g")
    d = res.decomposition
    ref = twfe(df.assign(D=((df.g > 0) & (df.t >= df.g)).astype(float)), y="y", x=["D"], unit="u", time="t",
               cluster="u")
    assert d["weight"].sum() == pytest.approx(1.0, abs=1e-8)
    assert (d["weight"] > 0).all()
    assert (d["weight"] * d["estimate"]).sum() == pytest.approx(res.twfe, abs=1e-8)
    assert res.twfe == pytest.approx(float(ref.params["D"]), abs=1e-10)
    k = len([c for c in cohorts if c > 2010])
    assert (d["type"] == LATER_VS_EARLIER).sum() == k * (k - 1) // 2


def test_bacon_needs_balanced_panel() -> None:
    with pytest.raises(ValueError, match="balanced"):
        bacon(_staggered().iloc[5:], y="y", unit="u", time="t", group="g")


# ---------------------------------------------------------------- placebo
def _null_panel(rng: np.random.Generator, n: int = 40, t: int = 6) -> pd.DataFrame:
    df = pd.DataFrame({"u": np.repeat(np.arange(n), t), "t": np.tile(np.arange(t), n)})
    df["g"] = rng.choice([0, 0, 2, 4], size=n)[df.u]
    df["y"] = rng.normal(size=n)[df.u] + rng.normal(size=t)[df.t] + rng.standard_t(4, size=len(df))
    return df


def test_placebo_fast_path_equals_twfe_and_slow_path() -> None:
    df = _staggered(seed=6).sample(frac=0.85, random_state=0)          # unbalanced on purpose
    df.loc[df.sample(frac=0.05, random_state=1).index, "x"] = np.nan
    fast = placebo(df, y="y", unit="u", time="t", group="g", controls=["x"], n_draws=3, seed=7, progress=False,
                   chunk=3)
    slow = placebo(df, y="y", unit="u", time="t", group="g", controls=["x"], n_draws=3, seed=7, progress=False,
                   estimator=twfe_coefficient(y="y", unit="u", time="t", group="g", controls=["x"]))
    ref = twfe(df.assign(D=((df.g > 0) & (df.t >= df.g)).astype(float)), y="y", x=["D", "x"], unit="u", time="t",
               cluster="u")
    assert fast.actual == pytest.approx(float(ref.params["D"]), abs=1e-10)
    np.testing.assert_allclose(fast.draws, slow.draws, rtol=0, atol=1e-10)
    again = placebo(df, y="y", unit="u", time="t", group="g", controls=["x"], n_draws=3, seed=7, progress=False)
    np.testing.assert_allclose(fast.draws, again.draws, rtol=0, atol=1e-12)     # seeded; chunking is irrelevant


def test_placebo_true_null_gives_uniform_p_values() -> None:
    rng = np.random.default_rng(8)
    pvals = np.array([placebo(_null_panel(rng), y="y", unit="u", time="t", group="g", n_draws=99, seed=k,
                              progress=False).p_value for k in range(150)])
    # Exact under the sharp null (exchangeable cohorts): P(p ≤ k/100) = k/100. Off-line, 1,500 such
    # panels gave P(p ≤ .05) = .053, P(p ≤ .10) = .105, KS p = .83; here 150 panels, tested at 0.1%.
    assert stats.kstest(pvals, "uniform").pvalue > 0.001
    for level in (0.05, 0.10, 0.50):
        assert stats.binomtest(int((pvals <= level).sum()), len(pvals), level).pvalue > 0.001


@pytest.mark.parametrize("method", ["permute", "random"])
def test_placebo_strong_effect_and_speed(method: str) -> None:
    rng = np.random.default_rng(9)
    n, t = 300, 15
    df = pd.DataFrame({"u": np.repeat(np.arange(n), t), "t": np.tile(np.arange(2005, 2005 + t), n)})
    df["g"] = rng.choice([0, 0, 2010, 2012, 2015], size=n)[df.u]
    df["y"] = rng.normal(size=n)[df.u] + rng.normal(size=t)[df.t - 2005] + rng.normal(size=len(df))
    df.loc[(df.g > 0) & (df.t >= df.g), "y"] += 0.3
    start = time.perf_counter()
    res = placebo(df, y="y", unit="u", time="t", group="g", n_draws=1000, assignment=method, seed=1, progress=False)
    elapsed = time.perf_counter() - start
    assert res.n_draws == 1000 and res.p_value < 0.01
    assert abs(res.draws.mean()) < 0.01                  # centred on zero (Figs 6-7 of seed 002)
    assert elapsed < 10, f"1,000 placebo draws on 300 x 15 took {elapsed:.1f} s"


# ---------------------------------------------------------------- PSM-DID
def test_psm_balance_improves_and_removes_selection_bias() -> None:
    rng = np.random.default_rng(10)
    n, t = 400, 8
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    treated = rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 1.2 * x1 - 0.8 * x2)))
    df = pd.DataFrame({"u": np.repeat(np.arange(n), t), "t": np.tile(np.arange(2010, 2010 + t), n)})
    df["g"] = np.where(treated, 2014, 0)[df.u]
    df["x1"] = x1[df.u] + rng.normal(0, 0.1, len(df))
    df["x2"] = x2[df.u] + rng.normal(0, 0.1, len(df))
    # Trends differ by x1: parallel trends hold only conditional on the covariates.
    df["y"] = (rng.normal(size=n)[df.u] + 0.08 * x1[df.u] * (df.t - 2010) + rng.normal(0, 0.3, len(df))
               + 0.2 * ((df.g > 0) & (df.t >= df.g)))
    res = psm_did(df, y="y", unit="u", time="t", group="g", match_on=["x1", "x2"])
    bal = res.tables["balance"]
    assert (bal["smd_after"].abs() < bal["smd_before"].abs()).all()
    assert bal["smd_after"].abs().max() < 0.1 < bal["smd_before"].abs().min()
    assert (bal["t_test_p_after"] > 0.05).all()
    naive = twfe(df.assign(D=((df.g > 0) & (df.t >= df.g)).astype(float)), y="y", x=["D"], unit="u", time="t",
                 cluster="u")
    ci = res.conf_int().loc["treated"]
    assert ci["lower"] <= 0.2 <= ci["upper"]
    assert abs(float(naive.params["D"]) - 0.2) > 3 * abs(float(res.params["treated"]) - 0.2)
    assert res.notes["n_matched_pairs"] <= int(treated.sum())
    with_repl = psm_did(df, y="y", unit="u", time="t", group="g", match_on=["x1", "x2"], replace=True)
    assert with_repl.notes["n_matched_pairs"] >= res.notes["n_matched_pairs"]


def _psm_case() -> pd.DataFrame:
    """Nine units over 2010-2013 with one matching covariate; T1-T3 treated from 2012, C1-C6 never."""
    x = {"T1": 1.6, "T2": 1.48, "T3": 1.0, "C1": 0.2, "C2": 0.5, "C3": 1.05, "C4": 1.4, "C5": 1.55, "C6": 1.7}
    y = {"T1": [1.0, 1.2, 2.0, 2.4], "T2": [0.5, 0.9, 1.1, 1.9], "T3": [2.0, 2.0, 2.6, 3.1],
         "C1": [0.0, 0.3, 0.1, 0.2], "C2": [1.0, 1.1, 1.5, 1.2], "C3": [0.7, 0.8, 1.0, 1.3],
         "C4": [1.5, 1.4, 1.9, 2.1], "C5": [0.2, 0.6, 0.7, 0.5], "C6": [3.0, 3.3, 3.2, 3.9]}
    return pd.DataFrame([(u, 2010 + k, y[u][k], x[u], 2012 if u[0] == "T" else 0) for u in x for k in range(4)],
                        columns=["u", "t", "y", "x", "g"])


def _did_by_hand(y: dict[str, list[float]], treated: list[str], controls: list[str]) -> float:
    """(post − pre mean change of the treated) − (the same for the matched controls, with repeats)."""
    change = {u: np.mean(v[2:]) - np.mean(v[:2]) for u, v in y.items()}
    return float(np.mean([change[u] for u in treated]) - np.mean([change[u] for u in controls]))


@pytest.mark.parametrize("case", ["no_replacement", "replacement", "tight_caliper"])
def test_psm_did_hand_computed(case: str) -> None:
    """PSM-DID on a nine-unit case worked out by hand (to 1e-12).

    With one covariate the logit index is a + b·x, so (for b > 0, asserted) the score order is the x order,
    distances on the logit score are b·|Δx| and the caliper 0.2·sd(logit score) is 0.2·sd(x) in x units:
    the matching can be done by hand on x. Common support is [max(min_T, min_C), min(max_T, max_C)] =
    [1.0, 1.6], which drops C1 (0.2), C2 (0.5) and C6 (1.7). Greedy matching in descending score:
    without replacement T1 (1.6) → C5 (1.55), T2 (1.48) → C4 (1.40), T3 (1.0) → C3 (1.05);
    with replacement T2 takes C5 again (0.07 < 0.08); with caliper 0.1·sd(x) ≈ 0.053, T2's best
    distance 0.08 is outside it and T2 stays unmatched. With one adoption year on a balanced matched
    panel the TWFE coefficient is the 2x2 DID of pre/post means.
    """
    df = _psm_case()
    y = {u: list(g["y"]) for u, g in df.groupby("u", sort=False)}
    sd = float(df.groupby("u")["x"].first().std(ddof=1))
    kw = {"y": "y", "unit": "u", "time": "t", "group": "g", "match_on": ["x"]}
    if case == "no_replacement":
        res, pairs = psm_did(df, **kw), {"T1": "C5", "T2": "C4", "T3": "C3"}
        assert 0.2 * sd > 0.08          # every chosen distance is inside the default caliper
    elif case == "replacement":
        res, pairs = psm_did(df, **kw, replace=True), {"T1": "C5", "T2": "C5", "T3": "C3"}
    else:
        res, pairs = psm_did(df, **kw, caliper=0.1), {"T1": "C5", "T3": "C3"}
        assert 0.05 < 0.1 * sd < 0.08   # T1, T3 at 0.05 inside; T2 at 0.08 outside
    assert res.notes["logit_params"]["x"] > 0
    m = res.notes["matches"]
    assert dict(zip(m["treated_unit"], m["control_unit"], strict=True)) == pairs
    assert res.notes["n_off_support"] == 3
    expected = _did_by_hand(y, list(pairs), list(pairs.values()))
    assert float(res.params["treated"]) == pytest.approx(expected, abs=1e-12)
    bal = res.tables["balance"].loc["x"]
    x_of = df.groupby("u")["x"].first()
    x_t, x_c = x_of[[u for u in x_of.index if u[0] == "T"]], x_of[[u for u in x_of.index if u[0] == "C"]]
    pooled = np.sqrt((x_t.var(ddof=1) + x_c.var(ddof=1)) / 2)
    smd_after = (x_of[list(pairs)].mean() - x_of[list(pairs.values())].mean()) / pooled
    assert bal["smd_after"] == pytest.approx(smd_after, abs=1e-12)
    assert bal["smd_before"] == pytest.approx((x_t.mean() - x_c.mean()) / pooled, abs=1e-12)


# ---------------------------------------------------------------- recovery of the planted effects
@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    """The planted world of docs/sample-dgp.md over seed 002's window, all 338 cities (default seed)."""
    cy = simulate(years=range(2011, 2020)).city_year.copy()
    cy["ln_co2"] = np.log(cy["co2_mt"])
    for r in RINGS:
        cy[r] = cy[r].astype(float)
    # The planted log effect without noise: ATT(g, e) on treated cells plus the ring spillovers.
    cy["planted"] = cy["bigdata_att"] + sum(eff * cy[r] for eff, r in zip(RING_EFFECTS, RINGS, strict=True))
    return cy


def _att(g: int, e: int) -> float:
    return BIGDATA_ATT_BASE[g] + BIGDATA_ATT_SLOPE[g] * e if e >= 0 else 0.0


def _share_weighted_truth(cy: pd.DataFrame) -> pd.Series:
    """ATT_e = Σ_g Pr(G = g | treated at e) · ATT(g, e): the IW / two-stage event-time estimand."""
    tr = cy[cy["bigdata_treated"]]
    e = tr["year"] - tr["bigdata_cohort"].astype(int)
    return pd.Series([_att(int(g), int(k)) for g, k in zip(tr["bigdata_cohort"], e, strict=True)],
                     index=tr.index).groupby(e.to_numpy()).mean()


def test_noise_free_effects_robust_estimators_exact_static_twfe_biased(planted: pd.DataFrame) -> None:
    cy = planted
    treated = cy["bigdata_treated"].to_numpy()
    att = cy.loc[treated, "bigdata_att"].mean()
    # Static TWFE puts the weights D̃_it / Σ D̃ on treated cells (de Chaisemartin & D'Haultfœuille 2020):
    # less than equal weight on the long-exposure cells, where the planted effects are largest.
    d = cy["bigdata_treated"].astype(float)
    static = twfe(cy.assign(D=d), y="bigdata_att", x=["D"], unit="city_code", time="year")
    beta = float(static.params["D"])
    d_t = demean(d.to_numpy()[:, None], [pd.factorize(cy.city_code)[0], pd.factorize(cy.year)[0]])[:, 0]
    w = d_t[treated] / d_t[treated].sum()
    assert beta == pytest.approx(float(w @ cy.loc[treated, "bigdata_att"]), abs=1e-10)
    g = cy["bigdata_cohort"].astype(float).to_numpy()[treated]
    e = cy["year"].to_numpy()[treated] - g
    n_treated = treated.sum()
    assert w[(g == 2015) & (e >= 2)].max() * n_treated < 0.7       # effects −0.10 … −0.14: under-weighted
    assert w[g == 2017].min() * n_treated > 1.0                     # effects −0.03 … −0.05: over-weighted
    assert (beta - att) / att < -0.05                         # attenuated by more than 5%
    dec = bacon(cy, y="bigdata_att", **CITY)
    forbidden = dec.decomposition[dec.decomposition["type"] == LATER_VS_EARLIER]
    assert (forbidden["estimate"] > 0).all()                  # wrong sign: all planted effects are negative
    assert (dec.decomposition["weight"] * dec.decomposition["estimate"]).sum() == pytest.approx(beta, abs=1e-8)

    # Gardner two-stage with Butts rings: direct effect = the equally weighted ATT, rings = RING_EFFECTS.
    ts = two_stage(cy, y="planted", **CITY, rings=RINGS)
    assert float(ts.params["treated"]) == pytest.approx(att, abs=1e-10)
    np.testing.assert_allclose(ts.params[RINGS].to_numpy(), RING_EFFECTS, atol=1e-10)
    # Sun-Abraham: every cohort x event-time ATT exactly, leads zero; IW = cohort-share-weighted ATT_e.
    sa = sun_abraham(cy, y="planted", **CITY, controls=RINGS)
    truth = [_att(g, e) for g, e in zip(sa.by_cohort["cohort"], sa.by_cohort["event_time"], strict=True)]
    np.testing.assert_allclose(sa.by_cohort["estimate"], truth, atol=1e-10)
    share = _share_weighted_truth(cy)
    np.testing.assert_allclose(sa.params.loc[share.index].to_numpy(), share.to_numpy(), atol=1e-10)
    # The TWFE event study on the same noise-free effects: spurious leads and contaminated lags
    # (Sun & Abraham 2021), because each β_e also averages other event times' and cohorts' effects.
    es = event_study(cy, y="planted", **CITY, controls=RINGS)
    assert np.abs(es.params[es.params.index < -1]).max() > 0.003
    assert np.abs(es.params.loc[[3, 4]] - share.loc[[3, 4]]).min() > 0.01
    ts_es = two_stage(cy, y="planted", **CITY, rings=RINGS, event_study=True)
    np.testing.assert_allclose(ts_es.params.loc[share.index].to_numpy(), share.to_numpy(), atol=1e-10)
    # Stacked: sub-experiment weights ω_g ∝ N_T N_C / N (reported), not cohort shares.
    st = stacked(cy, y="bigdata_att", **CITY, window=2, event_study=True)
    subs = st.tables["sub_experiments"].set_index("cohort")
    for k in (0, 1, 2):
        expected = sum(subs.loc[g, "implicit_weight"] * _att(g, k) for g in (2015, 2017))
        assert float(st.params[k]) == pytest.approx(expected, abs=1e-10)


def test_dcdh_on_noise_free_planted_effects(planted: pd.DataFrame) -> None:
    """dCDH on the noise-free planted ATT: δ_e = cohort-share-weighted ATT_e, TWFE = Σ W·ATT (to 1e-10)."""
    kw = {"unit": "city_code", "time": "year", "treatment": "bigdata_treated"}
    dyn = dcdh_dynamic(planted, y="bigdata_att", **kw, effects=5, placebos=3, n_boot=2, seed=0)
    share = _share_weighted_truth(planted)
    np.testing.assert_allclose(dyn.params.loc[share.index].to_numpy(), share.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(dyn.params.loc[[-2, -3, -4]].to_numpy(), 0.0, atol=1e-10)
    w = twowayfeweights(planted, y="bigdata_att", **kw)
    cells = planted[planted["bigdata_treated"]].merge(w.weights(), on=["city_code", "year"], validate="1:1")
    assert float(cells["weight"] @ cells["bigdata_att"]) == pytest.approx(float(w.params["TWFE"]), abs=1e-10)
    assert w.stats["n_treated_cells"] == planted["bigdata_treated"].sum()


def test_sun_abraham_recovers_planted_atts(planted: pd.DataFrame) -> None:
    sa = sun_abraham(planted, y="ln_co2", **CITY, controls=RINGS)
    bc = sa.by_cohort
    q = stats.t.ppf(0.975, sa.df_resid)
    truth = np.array([_att(g, e) for g, e in zip(bc["cohort"], bc["event_time"], strict=True)])
    z = (bc["estimate"].to_numpy() - truth) / bc["std_error"].to_numpy()
    assert (np.abs(z) < q).all(), bc.assign(truth=truth, z=z)
    est = sa.estimates(include_reference=False)
    share = _share_weighted_truth(planted)
    assert ((est.loc[share.index, "ci_lower"] <= share) & (share <= est.loc[share.index, "ci_upper"])).all()
    assert sa.pretrend_test()["p_value"] > 0.05
    assert (est.loc[[0, 1, 2], "ci_upper"] < 0).all()        # the zone effect is detected


def test_two_stage_with_rings_recovers_ring_effects(planted: pd.DataFrame) -> None:
    ts = two_stage(planted, y="ln_co2", **CITY, rings=RINGS)
    ci = ts.conf_int()
    for ring, eff in zip(RINGS, RING_EFFECTS, strict=True):
        assert ci.loc[ring, "lower"] <= eff <= ci.loc[ring, "upper"], ts.tidy()
    att = planted.loc[planted["bigdata_treated"], "bigdata_att"].mean()
    assert ci.loc["treated", "lower"] <= att <= ci.loc["treated", "upper"] < 0
    assert ts.notes["first_stage_nobs"] == int((~planted["bigdata_treated"] & (planted[RINGS] == 0).all(axis=1)).sum())
    es = two_stage(planted, y="ln_co2", **CITY, rings=RINGS, event_study=True).estimates()
    share = _share_weighted_truth(planted)
    assert ((es.loc[share.index, "ci_lower"] <= share) & (share <= es.loc[share.index, "ci_upper"])).all()


def test_stacked_recovers_weighted_planted_atts(planted: pd.DataFrame) -> None:
    st = stacked(planted, y="ln_co2", **CITY, window=2, controls=RINGS, event_study=True)
    subs = st.tables["sub_experiments"].set_index("cohort")
    est = st.estimates(include_reference=False)
    for k in (0, 1, 2):
        truth = sum(subs.loc[g, "implicit_weight"] * _att(g, k) for g in (2015, 2017))
        assert est.loc[k, "ci_lower"] <= truth <= est.loc[k, "ci_upper"]
    assert est.loc[-2, "ci_lower"] <= 0 <= est.loc[-2, "ci_upper"]
    static = stacked(planted, y="ln_co2", **CITY, window=2, controls=RINGS)
    assert static.tables["sub_experiments"]["included"].all()
    assert float(static.params["treated"]) < 0


def test_results_render_tables_and_figures() -> None:
    df = _staggered(seed=11)
    kw = {"unit": "u", "time": "t", "group": "g"}
    es = event_study(df, y="y", controls=["x"], min_e=-4, max_e=3, model_id="es", **kw)
    results = [es, two_stage(df, y="y", rings=["r1", "r2"], **kw), bacon(df, y="y", **kw),
               placebo(df, y="y", n_draws=50, seed=1, progress=False, **kw),
               sun_abraham(df, y="y", **kw), stacked(df, y="y", window=2, **kw)]
    for res in results:
        md, tex, html = res.to_markdown(), res.to_latex(), res.to_html()
        assert "y" in md and "\\begin{tabular}" in tex and "<table" in html
    assert "Goodman-Bacon" in results[2].to_markdown() and "sub_experiments" in results[5].to_markdown()
    assert "≤-4" in es.to_markdown() and "≥3" in es.to_markdown() and "0 (reference)" in es.to_markdown()
    assert list(es.tidy()["term"])[:2] == ["event_time::-4", "event_time::-3"]
    for res in (es, results[2], results[3], results[4]):
        fig = res.plot()
        assert isinstance(fig, Figure) and fig.axes
        fig.savefig(io.BytesIO(), format="png")


def test_callaway_santanna_recovers_planted_cohort_atts(planted: pd.DataFrame) -> None:
    """CS (never-treated controls, DR) recovers ATT(g, t) once the ring spillovers on controls are removed.

    CS assumes no interference: the planted rings lower never-treated neighbours' CO2, so they are netted
    out of the outcome first (known here, since the DGP is ours). Every post-treatment cell must then lie
    within 3 standard errors of its planted ATT(g, e) (a simultaneous band for ~14 cells at ~99%).
    """
    from analysis.did import callaway_santanna

    cy = planted.assign(
        y=planted["ln_co2"] - sum(eff * planted[r] for eff, r in zip(RING_EFFECTS, RINGS, strict=True)),
        g=planted["bigdata_cohort"].fillna(0).astype(int))
    res = callaway_santanna(cy, y="y", unit="city_code", time="year", group="g", control_group="never",
                            method="dr", progress=False)
    post = res.att_gt[res.att_gt["time"] >= res.att_gt["group"]]
    truth = np.array([_att(int(g), int(t - g)) for g, t in zip(post["group"], post["time"], strict=True)])
    z = (post["att"].to_numpy() - truth) / post["se"].to_numpy()
    assert (np.abs(z) < 3).all(), post.assign(truth=truth, z=z)
    # The simple aggregation is negative and significant: the zone effect is detected.
    simple = res.aggregate("simple")
    assert simple.overall_att + 1.96 * simple.overall_se < 0
