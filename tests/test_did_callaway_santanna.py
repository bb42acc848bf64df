"""Callaway & Sant'Anna (2021) against R `did` 2.x on mpdta, closed forms, the bootstrap and a known DGP."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.did.callaway_santanna import _bench_data, callaway_santanna

DID_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "did"

# Tolerances against R `did` (issue 5): ATTs to 1e-6 absolute, standard errors to 1e-4 relative.
ATT_ATOL = 1e-6
SE_RTOL = 1e-4
# Closed forms (no covariates: reg = ipw = dr = 2x2 DID of means) hold to rounding: 1e-10.
CLOSED_FORM_ATOL = 1e-10

SCENARIOS = {
    "mpdta_nev_dr": {"control_group": "never", "method": "dr"},
    "mpdta_nyt_dr": {"control_group": "notyet", "method": "dr"},
    "mpdta_nev_reg_cov": {"control_group": "never", "method": "reg", "controls": ["lpop"]},
}
KINDS = ["simple", "group", "dynamic", "calendar"]
MPDTA = {"y": "lemp", "unit": "countyreal", "time": "year", "group": "first.treat"}


def _read(name: str) -> pd.DataFrame:
    """A reference file from the shared folder; a missing file is a failure, not a skip."""
    path = DID_DATA / name
    if not path.is_file():
        raise FileNotFoundError(f"R `did` reference data expected at {path} (see ../shared/data/README.md)")
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    """The mpdta panel shipped with R `did`."""
    return _read("mpdta.csv")


@pytest.fixture(scope="module")
def fitted(mpdta: pd.DataFrame) -> dict[str, object]:
    """Our estimates for every reference scenario (analytic standard errors, as the references)."""
    return {name: callaway_santanna(mpdta, **MPDTA, **kw) for name, kw in SCENARIOS.items()}


# ---- R `did` reference values ---------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_att_gt_matches_r(scenario: str, fitted: dict) -> None:
    ref = _read("r_did_att_gt.csv").query("scenario == @scenario")
    ours = fitted[scenario].att_gt.merge(ref, left_on=["group", "time"], right_on=["group", "t"],
                                         suffixes=("", "_r"), validate="1:1")
    assert len(ours) == len(ref) == len(fitted[scenario].att_gt) == 12
    np.testing.assert_allclose(ours["att"], ours["att_r"], rtol=0, atol=ATT_ATOL)
    np.testing.assert_allclose(ours["se"], ours["se_r"], rtol=SE_RTOL)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_aggte_matches_r(scenario: str, kind: str, fitted: dict) -> None:
    ref = _read("r_did_aggte.csv").query("scenario == @scenario and type == @kind")
    agg = fitted[scenario].aggregate(kind)
    np.testing.assert_allclose(agg.overall_att, ref["overall_att"].iloc[0], rtol=0, atol=ATT_ATOL)
    np.testing.assert_allclose(agg.overall_se, ref["overall_se"].iloc[0], rtol=SE_RTOL)
    if kind == "simple":
        assert agg.levels.empty
        return
    levels = agg.levels.merge(ref, on="egt", validate="1:1")
    assert len(levels) == len(ref) == len(agg.levels)
    np.testing.assert_allclose(levels["att"], levels["att_egt"], rtol=0, atol=ATT_ATOL)
    np.testing.assert_allclose(levels["se"], levels["se_egt"], rtol=SE_RTOL)


def test_event_window_and_balanced_event_study(fitted: dict) -> None:
    """min_e/max_e trim event times; balance_e keeps cohorts seen >= balance_e periods after treatment."""
    res = fitted["mpdta_nev_dr"]
    full = res.aggregate("dynamic").levels.set_index("egt")
    win = res.aggregate("dynamic", min_e=-1, max_e=2)
    assert win.levels["egt"].tolist() == [-1, 0, 1, 2]
    np.testing.assert_allclose(win.levels.set_index("egt")["att"], full.loc[[-1, 0, 1, 2], "att"], atol=1e-15)
    np.testing.assert_allclose(win.overall_att, full.loc[[0, 1, 2], "att"].mean(), atol=1e-15)
    # balance_e=1 with data to 2007: cohorts 2004 and 2006 only (2007 has no e=1); event times -3..1.
    t = res.att_gt.assign(e=lambda d: d["time"] - d["group"]).query("group <= 2006")
    size = t["group"].map({2004: 20, 2006: 40})
    bal = res.aggregate("dynamic", balance_e=1).levels.set_index("egt")
    assert bal.index.tolist() == [-2, -1, 0, 1]  # e = -3 exists only for cohort 2007
    for e, row in bal.iterrows():
        cells = t["e"] == e
        assert abs(row["att"] - (t.loc[cells, "att"] * size[cells]).sum() / size[cells].sum()) < 1e-15


def test_not_yet_treated_comparison_sizes(fitted: dict) -> None:
    """R's rule: never treated, or first treated after max(t, base) + anticipation, cohort g excluded."""
    t = fitted["mpdta_nyt_dr"].att_gt.set_index(["group", "time"])
    # mpdta cohorts: 2004 (20 counties), 2006 (40), 2007 (131), never treated (309).
    assert t.loc[(2004, 2004), "n_control"] == 309 + 40 + 131
    assert t.loc[(2004, 2006), "n_control"] == 309 + 131
    assert t.loc[(2004, 2007), "n_control"] == 309
    assert t.loc[(2006, 2005), "n_control"] == 309 + 131  # pre-period: 2007 is not yet treated, 2006 is g
    assert t.loc[(2007, 2004), "n_control"] == 309 + 40  # cohort 2006 untreated in 2003-2004
    assert (fitted["mpdta_nev_dr"].att_gt["n_control"] == 309).all()


# ---- doubly robust and IPW with covariates against csdid (independent Python port of R `did`) ---------------


def _csdid(data: pd.DataFrame, xs: list[str], method: str, control: str) -> object:
    """csdid 0.4.3 ATTgt with analytic standard errors (bstrap=False), its printed summaries silenced."""
    import contextlib
    import io

    from csdid.att_gt import ATTgt

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return ATTgt(yname="lemp", gname="first.treat", idname="countyreal", tname="year",
                     xformla="lemp~" + "+".join(xs), data=data,
                     control_group={"never": "nevertreated", "notyet": "notyettreated"}[control],
                     ).fit(est_method=method, bstrap=False)


@pytest.mark.parametrize("control", ["never", "notyet"])
@pytest.mark.parametrize("method", ["dr", "ipw"])
@pytest.mark.parametrize("xs", [["lpop"], ["lpop", "x2"]])
def test_covariates_dr_ipw_match_csdid(mpdta: pd.DataFrame, xs: list[str], method: str, control: str) -> None:
    """DR and IPW with covariates (mpdta's lpop, plus a unit-level noise covariate) against csdid.

    ATT(g,t) agree to ≤5e-13 (asserted 1e-10), their standard errors to ≤6e-12 relative (asserted 1e-9);
    the simple, group, dynamic and calendar aggregations to ≤7e-14 / 7e-13 relative (asserted 1e-10 / 1e-9).
    """
    import contextlib
    import io

    data = mpdta.copy()
    rng = np.random.default_rng(0)
    data["x2"] = rng.normal(size=data["countyreal"].nunique())[pd.factorize(data["countyreal"])[0]]
    ref = _csdid(data, xs, method, control)
    ours = callaway_santanna(data, **MPDTA, controls=xs, method=method, control_group=control, progress=False)
    r = ref.results
    key = pd.DataFrame({"group": np.asarray(r["group"]), "time": np.asarray(r["year"]),
                        "att_ref": np.asarray(r["att"], dtype=float), "se_ref": np.asarray(r["se"], dtype=float)})
    both = ours.att_gt.merge(key, on=["group", "time"], validate="1:1")
    assert len(both) == len(ours.att_gt) == 12
    np.testing.assert_allclose(both["att"], both["att_ref"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(both["se"], both["se_ref"], rtol=1e-9)
    for kind in KINDS:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            ref.aggte(typec=kind, bstrap=False)
        agg = ours.aggregate(kind)
        np.testing.assert_allclose(agg.overall_att, ref.atte["overall_att"], rtol=0, atol=1e-10)
        np.testing.assert_allclose(agg.overall_se, ref.atte["overall_se"], rtol=1e-9)
        if kind != "simple":
            np.testing.assert_allclose(agg.levels["att"], np.asarray(ref.atte["att_egt"], dtype=float), atol=1e-10)
            np.testing.assert_allclose(agg.levels["se"], np.asarray(ref.atte["se_egt"], dtype=float), rtol=1e-9)
        prefix = {"simple": "ATT", "group": "cohort::", "dynamic": "event_time::", "calendar": "period::"}[kind]
        assert agg.term_labels()[0].startswith(prefix) and agg.term_labels()[-1] == "ATT"


# ---- closed forms and the IPW estimator (no R reference) -------------------------------------------------


def test_no_covariates_reg_ipw_dr_equal_2x2_did_of_means(mpdta: pd.DataFrame) -> None:
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    g = mpdta.groupby("countyreal")["first.treat"].first().reindex(wide.index)
    for control in ("never", "notyet"):
        res = {m: callaway_santanna(mpdta, **MPDTA, method=m, control_group=control) for m in ("dr", "reg", "ipw")}
        for row in res["dr"].att_gt.itertuples():
            base = row.group - 1 if row.time >= row.group else row.time - 1
            dy = wide[row.time] - wide[base]
            ctrl = (g == 0) | ((g > max(row.time, base)) & (g != row.group)) if control == "notyet" else g == 0
            did = dy[g == row.group].mean() - dy[ctrl].mean()
            for m in ("dr", "reg", "ipw"):
                ours = res[m].att_gt.set_index(["group", "time"]).loc[(row.group, row.time)]
                assert abs(ours["att"] - did) < CLOSED_FORM_ATOL, (control, m, row.group, row.time)
        # Without covariates the three influence functions coincide, hence the standard errors too.
        for m in ("reg", "ipw"):
            np.testing.assert_allclose(res[m].att_gt["se"], res["dr"].att_gt["se"], rtol=1e-10)


def test_ipw_with_covariate_close_to_dr_and_reg(mpdta: pd.DataFrame) -> None:
    """With lpop the three estimators differ, but only by a fraction of a standard error on mpdta."""
    res = {m: callaway_santanna(mpdta, **MPDTA, method=m, controls=["lpop"]) for m in ("dr", "reg", "ipw")}
    ipw = res["ipw"].att_gt
    assert ipw["att"].notna().all() and ipw["se"].notna().all()
    for m in ("dr", "reg"):
        gap = (ipw["att"] - res[m].att_gt["att"]).abs()
        assert (gap < 0.25 * res[m].att_gt["se"]).all(), m
        assert gap.max() > 1e-6  # but they are different estimators
        np.testing.assert_allclose(ipw["se"], res[m].att_gt["se"], rtol=0.15)
    np.testing.assert_allclose(res["ipw"].aggregate("dynamic").overall_att,
                               res["dr"].aggregate("dynamic").overall_att, atol=0.005)


# ---- multiplier bootstrap -------------------------------------------------------------------------------


def test_bootstrap_se_close_to_analytic(mpdta: pd.DataFrame) -> None:
    an = callaway_santanna(mpdta, **MPDTA)
    bs = callaway_santanna(mpdta, **MPDTA, bootstrap=2000, seed=7, progress=False)
    ref = np.r_[an.att_gt["se"], [an.aggregate(k).overall_se for k in KINDS]]
    boot = np.r_[bs.att_gt["se"], [bs.aggregate(k).overall_se for k in KINDS]]
    ratio = boot / ref
    # R's bootstrap SE is IQR/1.349: on mpdta it runs 1-6% above the analytic SE (the bootstrap distribution
    # is platykurtic: cohort 2004 has 20 counties), plus ~3% Monte Carlo noise at 2,000 draws.
    assert abs(np.median(ratio) - 1) < 0.10
    assert np.all(np.abs(ratio - 1) < 0.15), ratio
    # The variance of the multiplier draws equals the analytic variance in expectation (exactly sum IF^2).
    draws = bs._multiplier.replicate(an.influence)
    sd_se = draws.std(axis=0) * np.sqrt(bs.n_clusters) / bs.n_units
    np.testing.assert_allclose(sd_se, an.att_gt["se"], rtol=0.06)
    # Uniform band is wider than the pointwise one and covers every pointwise interval.
    assert bs.crit_val > 1.96
    assert (bs.att_gt["ci_upper"] - bs.att_gt["ci_lower"] > 2 * 1.959 * bs.att_gt["se"]).all()


def test_bootstrap_deterministic_with_seed(mpdta: pd.DataFrame) -> None:
    a = callaway_santanna(mpdta, **MPDTA, bootstrap=199, seed=3, progress=False)
    b = callaway_santanna(mpdta, **MPDTA, bootstrap=199, seed=3, progress=False)
    c = callaway_santanna(mpdta, **MPDTA, bootstrap=199, seed=4, progress=False)
    pd.testing.assert_frame_equal(a.att_gt, b.att_gt)
    pd.testing.assert_frame_equal(a.aggregate("dynamic").levels, b.aggregate("dynamic").levels)
    assert a.crit_val == b.crit_val
    assert not np.allclose(a.att_gt["se"], c.att_gt["se"])
    # Point estimates never depend on the bootstrap.
    np.testing.assert_array_equal(a.att_gt["att"], c.att_gt["att"])
    # Mammen multipliers (DRDID's mboot.did) estimate the same standard errors (R's IQR-based SEs, 999 draws).
    mammen = callaway_santanna(mpdta, **MPDTA, bootstrap=999, seed=3, progress=False, bootstrap_weights="mammen")
    np.testing.assert_allclose(mammen.att_gt["se"], callaway_santanna(mpdta, **MPDTA).att_gt["se"], rtol=0.15)


def test_progress_bar_can_be_disabled(mpdta: pd.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    callaway_santanna(mpdta, **MPDTA, bootstrap=300, seed=1, progress=False)
    assert capsys.readouterr().err == ""
    callaway_santanna(mpdta, **MPDTA, bootstrap=300, seed=1, progress=True)
    assert "multiplier bootstrap" in capsys.readouterr().err


def test_clustered_bootstrap(mpdta: pd.DataFrame) -> None:
    df = mpdta.assign(state=mpdta["countyreal"] // 1000)
    with pytest.raises(ValueError, match="bootstrap"):
        callaway_santanna(df, **MPDTA, cluster="state")
    res = callaway_santanna(df, **MPDTA, cluster="state", bootstrap=999, seed=0, progress=False)
    assert res.n_clusters == df["state"].nunique() < res.n_units
    # Clustering by the unit itself is the default unit-level bootstrap.
    unit = callaway_santanna(df, **MPDTA, cluster="countyreal", bootstrap=999, seed=0, progress=False)
    default = callaway_santanna(df, **MPDTA, bootstrap=999, seed=0, progress=False)
    pd.testing.assert_frame_equal(unit.att_gt, default.att_gt)


# ---- a synthetic staggered panel with known heterogeneous ATT(g,t) ---------------------------------------


def _true_att(g: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Effects growing with exposure, larger for later cohorts: heterogeneous in g and t."""
    return np.where(t >= g, (g - 2000) / 4 * (1 + t - g), 0.0)


def _staggered(noise: float = 0.0, x_trend: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """2001-2010, cohorts 2004/2006/2008 and never treated, unit and year effects, optional x-specific trends."""
    rng = np.random.default_rng(seed)
    years = np.arange(2001, 2011)
    g = np.repeat([2004, 2006, 2008, 0], [30, 35, 25, 40])
    n = len(g)
    x = rng.normal(size=n) + (g == 2004) * 0.8  # covariate imbalance
    df = pd.DataFrame({"id": np.repeat(np.arange(n), len(years)), "year": np.tile(years, n),
                       "g": np.repeat(g, len(years)), "x": np.repeat(x, len(years))})
    gg = df["g"].replace(0, 10_000).to_numpy()
    df["y"] = (np.repeat(rng.normal(size=n), len(years)) + rng.normal(size=len(years))[df["year"] - 2001]
               + x_trend * df["x"] * (df["year"] - 2001) + _true_att(gg, df["year"].to_numpy())
               + noise * rng.normal(size=len(df)))
    return df


SYN = {"y": "y", "unit": "id", "time": "year", "group": "g"}


@pytest.mark.parametrize("control", ["never", "notyet"])
@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
def test_synthetic_known_att_recovered(method: str, control: str) -> None:
    res = callaway_santanna(_staggered(), **SYN, method=method, control_group=control)
    t = res.att_gt
    np.testing.assert_allclose(t["att"], _true_att(t["group"].to_numpy(), t["time"].to_numpy()), atol=1e-10)
    # Event study: cohort-share-weighted averages of the true effects.
    dyn = res.aggregate("dynamic").levels.set_index("egt")
    sizes = {2004: 30, 2006: 35, 2008: 25}
    for e, row in dyn.iterrows():
        cells = t[t["time"] - t["group"] == e]
        w = cells["group"].map(sizes)
        truth = (_true_att(cells["group"].to_numpy(), cells["time"].to_numpy()) * w).sum() / w.sum()
        assert abs(row["att"] - truth) < 1e-10, e


def test_synthetic_covariate_trends_need_conditional_estimators() -> None:
    """x-specific trends with imbalance in x: reg and dr recover ATT(g,t) exactly, unconditional DID does not."""
    df = _staggered(x_trend=0.3)
    truth = None
    for method in ("dr", "reg"):
        t = callaway_santanna(df, **SYN, method=method, controls=["x"]).att_gt
        truth = _true_att(t["group"].to_numpy(), t["time"].to_numpy())
        np.testing.assert_allclose(t["att"], truth, atol=1e-9)
    plain = callaway_santanna(df, **SYN, method="dr").att_gt
    assert np.max(np.abs(plain["att"] - truth)) > 0.05


def test_synthetic_with_noise_within_confidence_intervals() -> None:
    res = callaway_santanna(_staggered(noise=0.3, x_trend=0.3, seed=5), **SYN, controls=["x"])
    t = res.att_gt
    z = (t["att"] - _true_att(t["group"].to_numpy(), t["time"].to_numpy())) / t["se"]
    assert (z.abs() < 4).all()
    assert res.wald_pretest()["pvalue"] > 0.001


def test_anticipation_and_universal_base_period() -> None:
    df = _staggered()
    # Effects that start one period early: with anticipation=1 the base is g-2 and post effects are exact.
    early = df.assign(y=df["y"] + np.where((df["g"] > 0) & (df["year"] == df["g"] - 1), 0.7, 0.0))
    res = callaway_santanna(early, **SYN, anticipation=1, control_group="notyet")
    post = res.att_gt.query("time >= group")
    np.testing.assert_allclose(post["att"], _true_att(post["group"].to_numpy(), post["time"].to_numpy()), atol=1e-10)
    # Not-yet-treated with anticipation: comparison cohorts first treated after max(t, base) + 1.
    g_of = df.groupby("id")["g"].first()
    for row in res.att_gt.itertuples():
        base = row.group - 2 if row.time >= row.group - 1 else row.time - 1
        cutoff = max(row.time, base) + 1
        expected = ((g_of == 0) | ((g_of > cutoff) & (g_of != row.group))).sum()
        assert row.n_control == expected, (row.group, row.time)
    # Universal base period: ATT(g, g-1) = 0 by construction (SE missing), pre-periods 0, post exact.
    uni = callaway_santanna(df, **SYN, base_period="universal").att_gt
    assert uni["time"].min() == 2001
    ref = uni.query("time == group - 1")
    assert (ref["att"] == 0).all() and ref["se"].isna().all()
    np.testing.assert_allclose(uni["att"], _true_att(uni["group"].to_numpy(), uni["time"].to_numpy()), atol=1e-10)


def test_covariates_are_taken_in_the_earlier_period() -> None:
    """did uses covariates of min(base, t): the last period's values never enter, the first period's do."""
    rng = np.random.default_rng(2)
    df = _staggered(noise=0.2, seed=1)
    df["x"] = df["x"] + rng.normal(size=len(df))  # time-varying covariate
    base = callaway_santanna(df, **SYN, method="reg", controls=["x"]).att_gt
    last = df.assign(x=np.where(df["year"] == 2010, 99.0, df["x"]))
    pd.testing.assert_frame_equal(callaway_santanna(last, **SYN, method="reg", controls=["x"]).att_gt, base)
    first = df.assign(x=np.where(df["year"] == 2001, rng.normal(size=len(df)), df["x"]))
    changed = callaway_santanna(first, **SYN, method="reg", controls=["x"]).att_gt
    assert not np.allclose(changed.query("time == 2002")["att"], base.query("time == 2002")["att"])
    np.testing.assert_array_equal(changed.query("time > 2004")["att"], base.query("time > 2004")["att"])


def test_r_sample_rules(mpdta: pd.DataFrame) -> None:
    """Units treated in the first period are dropped, late cohorts are never treated, and without
    never-treated units the last cohort becomes the comparison (never) or is not estimated (notyet)."""
    ids = mpdta["countyreal"].unique()
    odd = mpdta.copy()
    odd.loc[odd["countyreal"].isin(ids[:5]), "first.treat"] = 2003
    odd.loc[odd["countyreal"].isin(ids[5:10]), "first.treat"] = 2010
    with pytest.warns(UserWarning):
        res = callaway_santanna(odd, **MPDTA)
    assert res.n_units == 495 and len(res.warnings) == 2
    assert res.att_gt["n_control"].max() == (odd.groupby("countyreal")["first.treat"].first().isin([0, 2010])).sum()
    treated_only = mpdta[mpdta["first.treat"] > 0]
    with pytest.warns(UserWarning, match="no never-treated"):
        nev = callaway_santanna(treated_only, **MPDTA, control_group="never")
        nyt = callaway_santanna(treated_only, **MPDTA, control_group="notyet")
    for res in (nev, nyt):
        assert res.att_gt["time"].max() == 2006 and set(res.att_gt["group"]) == {2004, 2006}
        assert res.att_gt["att"].notna().all()
    assert (nev.att_gt["n_control"] == 131).all()
    assert nyt.att_gt.set_index(["group", "time"]).loc[(2004, 2004), "n_control"] == 40 + 131


def test_overlap_failure_gives_nan_cells_and_na_rm() -> None:
    """A covariate that separates a cohort violates overlap: R sets those ATT(g,t) to NA; aggte needs na.rm."""
    df = _staggered(noise=0.1)
    noise = np.random.default_rng(3).normal(size=df["id"].nunique())[df["id"]]
    df["x"] = np.where(df["g"] == 2004, 10.0, 0.0) + noise
    with pytest.warns(UserWarning, match="overlap"):
        res = callaway_santanna(df, **SYN, controls=["x"])
    assert res.att_gt.query("group == 2004")["att"].isna().all()
    assert res.att_gt.query("group != 2004")["att"].notna().all()
    with pytest.raises(ValueError, match="na_rm"):
        res.aggregate("simple")
    assert np.isfinite(res.aggregate("dynamic", na_rm=True).overall_att)


def test_missing_outcomes_drop_units_with_a_note(mpdta: pd.DataFrame) -> None:
    holes = mpdta.copy()
    bad = holes["countyreal"].drop_duplicates().iloc[[3, 50, 400]].to_list()
    holes.loc[holes["countyreal"].isin(bad) & (holes["year"] == 2005), "lemp"] = np.nan
    with pytest.warns(UserWarning, match="dropped 3 units .*3 of them for a missing 'lemp'"):
        res = callaway_santanna(holes, **MPDTA)
    assert res.n_units == 497 and len(res.warnings) == 1 and "missing" in res.warnings[0]
    clean = callaway_santanna(mpdta[~mpdta["countyreal"].isin(bad)], **MPDTA)
    np.testing.assert_allclose(res.att_gt["att"], clean.att_gt["att"], atol=1e-12)
    np.testing.assert_allclose(res.att_gt["se"], clean.att_gt["se"], rtol=1e-12)
    # NaN in the group column means never treated, as 0 does.
    nan_g = mpdta.assign(**{"first.treat": mpdta["first.treat"].replace(0, np.nan)})
    pd.testing.assert_frame_equal(callaway_santanna(nan_g, **MPDTA).att_gt, callaway_santanna(mpdta, **MPDTA).att_gt)


# ---- publication output and performance ------------------------------------------------------------------


def test_publication_output(fitted: dict) -> None:
    res = fitted["mpdta_nev_dr"]
    md = res.to_markdown()
    assert "e = +3" in md and "-0.0772***" in md and "(0.0200)" in md and "never treated" in md
    assert "2004" in res.to_markdown("att_gt")
    assert "\\begin{tabular}" in res.to_latex("group") and "<table" in res.to_html("calendar")
    assert "ATT (simple)" in res.aggregate("simple").to_markdown()
    for kind in ("dynamic", "group", "calendar", "att_gt"):
        fig = res.plot(kind)
        assert isinstance(fig, Figure) and isinstance(fig.canvas, FigureCanvasAgg) and fig.axes
    frame = res.aggregate("dynamic").to_frame()
    assert frame["egt"].iloc[-1] == "overall" and len(frame) == 8


def test_bootstrap_999_on_300_units_15_years_takes_seconds() -> None:
    df = _bench_data()
    assert df["unit"].nunique() == 300 and df["year"].nunique() == 15 and (df["g"] > 0).any()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the benchmark panel is clean: no data-handling warnings
        res = callaway_santanna(df, y="y", unit="unit", time="year", group="g", controls=["x"], bootstrap=999, seed=0,
                                progress=False)
        for kind in KINDS:
            res.aggregate(kind)
    assert time.perf_counter() - t0 < 10
    assert len(res.att_gt) == 3 * 14
