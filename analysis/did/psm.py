"""PSM-DID: propensity-score matching on pre-treatment covariates, then DID on the matched panel.

Following seed 002 (sec. 5.4, robustness 3): a logit propensity score on the control variables, 1:1
nearest-neighbour matching, the common-support sample, balance checks, then the DID on the matched units.
The paper does not say whether it matches by period or pooled; this matches units once (cross-section):

1. Covariates per unit measured before any treatment: their mean over the periods before the first
   cohort's adoption (`baseline="pre_mean"`), or their value in one period (`baseline=<period>`), so that
   treated and control units are measured on the same years and the score is not affected by the policy.
2. Logit of ever-treated on them (statsmodels, Newton).
3. Common support: units whose score lies outside [max(min_T, min_C), min(max_T, max_C)] are dropped.
4. Greedy 1:1 nearest neighbour on the logit of the score, treated units in descending score order,
   within a caliper of `caliper` standard deviations of the logit score (0.2: Austin 2011), with or
   without replacement. Treated units with no control inside the caliper are dropped.
5. Balance: standardised mean differences before and after matching, both on the pre-matching pooled SD
   (so the change reflects the means only; Stuart 2010), variance ratios and Welch t-tests after.
6. Static TWFE DID (`analysis.fixed_effects.twfe`, CRV1 by unit) of y on 1{t ≥ G_i} on the matched units'
   full panel. With replacement, a control matched k times enters k times (as k pseudo-units, clustered
   on the original unit), which is the frequency weighting of the matched estimator.
The matched pairs are in `notes["matches"]`, the scores in `notes["pscore"]`, the balance table in
`tables["balance"]`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.did.event_study import cohort_values
from analysis.did.results import DIDResult
from analysis.fixed_effects import twfe
from analysis.results import NotEstimable, SampleInfo


def _balance(x: pd.DataFrame, treat: np.ndarray, matched_t: pd.DataFrame, matched_c: pd.DataFrame) -> pd.DataFrame:
    """SMD before/after (pre-matching pooled SD), variance ratio and Welch t-test after matching."""
    xt, xc = x[treat], x[~treat]
    sd = np.sqrt((xt.var(ddof=1) + xc.var(ddof=1)) / 2)
    out = pd.DataFrame({
        "mean_treated": xt.mean(), "mean_control": xc.mean(), "smd_before": (xt.mean() - xc.mean()) / sd,
        "mean_treated_matched": matched_t.mean(), "mean_control_matched": matched_c.mean(),
        "smd_after": (matched_t.mean() - matched_c.mean()) / sd,
        "var_ratio_after": matched_t.var(ddof=1) / matched_c.var(ddof=1),
        "t_test_p_after": [stats.ttest_ind(matched_t[c], matched_c[c], equal_var=False).pvalue for c in x.columns],
    })
    out.index.name = "covariate"
    return out


def psm_did(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    group: str,
    match_on: Sequence[str],
    baseline: str | int = "pre_mean",
    caliper: float | None = 0.2,
    replace: bool = False,
    common_support: bool = True,
    controls: Sequence[str] = (),
    cluster: str | None = None,
    model_id: str = "psm_did",
) -> DIDResult:
    """Logit PSM (1:1 nearest neighbour, caliper, common support) and TWFE DID on the matched sample."""
    import statsmodels.api as sm

    covariates, did_covariates = list(match_on), list(controls)
    if not covariates:
        raise ValueError("psm_did needs the pre-treatment covariates of the propensity score (match_on)")
    cluster = cluster or unit
    df = data.copy()
    df["_g"] = cohort_values(data, group)
    t_max = df[time].max()
    df.loc[df["_g"] > t_max, "_g"] = np.nan                 # adopters after the sample are untreated in it
    g_unit = df.groupby(unit)["_g"].first()
    if not np.isfinite(g_unit.to_numpy()).any():
        raise NotEstimable(f"no treated units in {group!r}")
    first = float(np.nanmin(g_unit.to_numpy()))

    if baseline == "pre_mean":
        base = df[df[time] < first].groupby(unit)[covariates].mean()
    else:
        base = df[df[time] == baseline].groupby(unit)[covariates].mean()
        if baseline >= first:
            raise ValueError(f"baseline period {baseline} is not before the first adoption ({first:g})")
    base = base.dropna()
    treat = np.isfinite(g_unit.reindex(base.index).to_numpy())
    logit = sm.Logit(treat.astype(float), sm.add_constant(base.to_numpy(dtype=float))).fit(disp=0)
    score = pd.Series(logit.predict(), index=base.index, name="pscore")
    lscore = np.log(score / (1 - score))

    on_support = np.ones(len(base), dtype=bool)
    if common_support:
        lo = max(score[treat].min(), score[~treat].min())
        hi = min(score[treat].max(), score[~treat].max())
        on_support = (score >= lo).to_numpy() & (score <= hi).to_numpy()
    cal = None if caliper is None else caliper * float(lscore.std(ddof=1))

    t_ids = score[treat & on_support].sort_values(ascending=False).index
    c_pool = lscore[~treat & on_support]
    available = pd.Series(True, index=c_pool.index)
    matches = []
    for i in t_ids:
        cand = c_pool[available] if not replace else c_pool
        if cand.empty:
            break
        dist = (cand - lscore[i]).abs()
        j = dist.idxmin()
        if cal is not None and dist[j] > cal:
            continue
        matches.append({"treated_unit": i, "control_unit": j, "pscore_treated": score[i],
                        "pscore_control": score[j], "logit_distance": float(dist[j])})
        if not replace:
            available[j] = False
    m = pd.DataFrame(matches, columns=["treated_unit", "control_unit", "pscore_treated", "pscore_control",
                                       "logit_distance"])
    if m.empty:
        raise NotEstimable("no treated unit found a control within the caliper")
    balance = _balance(base, treat, base.loc[m["treated_unit"]], base.loc[m["control_unit"]])

    # The matched panel: every matched treated unit and each use of a control as its own pseudo-unit.
    pieces = [df[df[unit].isin(m["treated_unit"])].assign(_uid=lambda t: t[unit].astype(str), _cl=lambda t: t[cluster])]
    for c, cnt in m["control_unit"].value_counts().items():
        rows = df[df[unit] == c]
        pieces += [rows.assign(_uid=f"{c}#{r}", _cl=rows[cluster]) for r in range(cnt)]
    panel = pd.concat(pieces, ignore_index=True)
    panel["treated"] = (panel[time].to_numpy(dtype=float) >= panel["_g"].to_numpy()).astype(float)
    reg = twfe(panel, y=y, x=["treated"], controls=did_covariates, unit="_uid", time=time, cluster="_cl",
               model_id=model_id)
    notes = {"n_treated_units": int(treat.sum()), "n_matched_pairs": len(m),
             "n_off_support": int((~on_support).sum()), "n_unmatched_treated": int((treat & on_support).sum() - len(m)),
             "caliper_logit": cal, "replace": replace, "baseline": baseline,
             "logit_params": dict(zip(["const", *covariates], logit.params, strict=True)), "matches": m,
             "pscore": score}
    sample = SampleInfo.of_panel(panel, unit="_uid", time=time, group="_g", dropped=reg.sample.dropped if
                                 reg.sample else [], note=f"{len(m)} matched pairs of {int(treat.sum())} treated units")
    return DIDResult(
        model_id=model_id, dependent=y, params=reg.params, vcov=reg.vcov, nobs=reg.nobs, df_resid=reg.df_resid,
        n_clusters=reg.n_clusters, stats=reg.stats, fixed_effects=(unit, time), cluster=(cluster,),
        vcov_type=reg.vcov_type.replace("_cl", cluster), notes=notes,
        method="PSM-DID (logit, 1:1 nearest neighbour)", tables={"balance": balance}, sample=sample,
        model=reg.model)
