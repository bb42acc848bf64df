"""Sun & Abraham (2021) interaction-weighted (IW) event-study estimator.

Step 1 (the "saturated" TWFE): regress y on cohort x event-time interactions for every treated
cohort g outside the control cohort C and every event time e except the reference period(s), with unit
and time fixed effects (and optional covariates). δ̂_{g,e} estimates CATT_{g,e}.

Step 2 (the IW average): ν̂_e = Σ_g Pr̂(G = g | G ∈ cohorts observed at e) · δ̂_{g,e}, the cohort shares
counted in the estimation sample (the weights of pyfixest's `compute_period_weights` and Stata
`eventstudyinteract`).

Inference: δ̂ carries reghdfe-compatible CRV1 errors (`analysis.fixed_effects.twfe`). The IW variance
is the delta method of Sun & Abraham (2021) as in their Stata implementation `eventstudyinteract`:
    Var(ν̂) = W V_δ W' + J V_w J'
where W holds the shares, J the δ̂ each share multiplies, and V_w the covariance of the share estimates.
`eventstudyinteract` takes V_w heteroskedasticity-robust (HC0, `avar`); here it is cluster-robust from the
per-cluster influence functions of the ratio-of-means share estimator, times G/(G-1). With one observation
per unit and event time (a panel clustered by unit) the two agree up to that factor. As in
`eventstudyinteract`, the covariance between δ̂ and the shares is ignored. The first term alone is the
conditional-on-weights variance (pyfixest's `aggregate()`), reported in `notes["std_error_conditional"]`.

Control cohort: "never" (never-treated units, the default) or "last" (the last-treated cohort; every
period from its first treatment year on is dropped, so it is untreated throughout; never-treated units,
if any, stay in as controls too). Units treated in or before the first period have no pre-period and are
dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from analysis.did.event_study import cohort_values, refs_of
from analysis.did.results import EventStudyResult
from analysis.fixed_effects import _drop_singletons, twfe
from analysis.results import NotEstimable, SampleInfo


def _name(g: float, e: int) -> str:
    """Interaction term name (cohort, event time)."""
    return f"cohort::{int(g)}:rel_time::{e}"


def sun_abraham(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    group: str,
    controls: Sequence[str] = (),
    cluster: str | None = None,
    control_group: Literal["never", "last"] = "never",
    ref: int | Sequence[int] = -1,
    model_id: str = "sun_abraham",
) -> EventStudyResult:
    """Interaction-weighted event study (cohort-share weights) with delta-method CRV1 errors."""
    covariates = list(controls)
    control = control_group
    cluster = cluster or unit
    refs = refs_of(ref)
    cols = list(dict.fromkeys([y, unit, time, cluster, *covariates]))
    df = data[cols].reset_index(drop=True)
    df["_g"] = cohort_values(data, group)
    dropped_always = sorted(df.loc[df["_g"] <= df[time].min(), unit].unique().tolist())
    df = df[~df[unit].isin(dropped_always)]

    if control == "last":
        g_last = df["_g"].max()
        if not np.isfinite(g_last):
            raise NotEstimable("control_group='last' needs at least one treated cohort")
        df = df[df[time] < g_last]
        df.loc[df["_g"] == g_last, "_g"] = np.nan          # the control cohort: no interactions
    elif control != "never":
        raise ValueError("control_group must be 'never' or 'last'")
    if not df["_g"].isna().any():
        raise NotEstimable("no control units: there are no never-treated units (use control_group='last')")

    # The estimation sample of `twfe` (complete cases, then reghdfe's iterative singleton drop): the
    # cohort shares of step 2 are counted on exactly the observations the regression uses.
    df = df.dropna(subset=cols)
    df, _ = _drop_singletons(df, [unit, time])
    df = df.reset_index(drop=True)
    df["_e"] = df[time] - df["_g"]
    cells = (df.dropna(subset=["_e"]).astype({"_e": int})
             .groupby(["_g", "_e"]).size().rename("n").reset_index())
    cells = cells[~cells["_e"].isin(refs)].sort_values(["_e", "_g"]).reset_index(drop=True)
    names = [_name(g, e) for g, e in zip(cells["_g"], cells["_e"], strict=True)]
    inter = pd.DataFrame({n: ((df["_g"] == g) & (df["_e"] == e)).astype(float).to_numpy()
                          for n, g, e in zip(names, cells["_g"], cells["_e"], strict=True)})
    if not names:
        raise NotEstimable(f"no treated cohort x event-time cell outside the reference period(s) in {group!r}")
    reg = twfe(pd.concat([df, inter], axis=1), y=y, x=names, controls=covariates, unit=unit, time=time,
               cluster=cluster, model_id=model_id)
    delta = reg.params[names].to_numpy()
    v_delta = reg.vcov.loc[names, names].to_numpy()

    # Step 2: shares of each cohort among the observations at event time e.
    cells["weight"] = cells["n"] / cells.groupby("_e")["n"].transform("sum")
    events = sorted(cells["_e"].unique().tolist())
    w_mat = np.zeros((len(events), len(cells)))
    j_mat = np.zeros_like(w_mat)
    for k, (e, w, d) in enumerate(zip(cells["_e"], cells["weight"], delta, strict=True)):
        w_mat[events.index(e), k] = w
        j_mat[events.index(e), k] = d
    nu = w_mat @ delta
    v_cond = w_mat @ v_delta @ w_mat.T

    # Influence of cluster c on the share ŵ_{g,e} = n_{g,e}/n_e (a ratio of means):
    # ψ_c = Σ_{it∈c, e_it=e} (1{G_i=g} − ŵ_{g,e}) / n_e; V_w = G/(G−1) Σ_c ψ_c ψ_c'.
    cl = pd.factorize(df[cluster])[0]
    n_cl = int(cl.max() + 1)
    n_e = cells.groupby("_e")["n"].transform("sum").to_numpy()
    psi = np.zeros((n_cl, len(cells)))
    treated = df.dropna(subset=["_e"])
    for k, (g, e, w) in enumerate(zip(cells["_g"], cells["_e"], cells["weight"], strict=True)):
        at_e = (treated["_e"] == e).to_numpy()
        contrib = (treated["_g"].to_numpy()[at_e] == g).astype(float) - w
        np.add.at(psi[:, k], cl[treated.index.to_numpy()[at_e]], contrib / n_e[k])
    v_w = n_cl / (n_cl - 1) * psi.T @ psi
    v_nu = v_cond + j_mat @ v_w @ j_mat.T

    se_d = np.sqrt(np.diag(v_delta))
    by_cohort = pd.DataFrame({"cohort": cells["_g"].astype(int), "event_time": cells["_e"].astype(int),
                              "estimate": delta, "std_error": se_d, "weight": cells["weight"], "n_obs": cells["n"],
                              "term": names})
    params = pd.Series(nu, index=events, name="estimate")
    return EventStudyResult(
        model_id=model_id, method="Sun-Abraham IW", dependent=y, params=params,
        vcov=pd.DataFrame(v_nu, index=events, columns=events), reference=refs, nobs=reg.nobs,
        n_clusters=reg.n_clusters, df_resid=reg.df_resid, cluster=reg.cluster, by_cohort=by_cohort,
        regression=reg, fixed_effects=reg.fixed_effects, stats=reg.stats,
        sample=SampleInfo.of_panel(df, unit=unit, time=time, group="_g", dropped=[
            {"reason": "rows of units treated in the first period (always treated)",
             "rows": int(data[unit].isin(dropped_always).sum())}] if dropped_always else []),
        vcov_type=f"{reg.vcov_type} + delta method for cohort shares (Sun & Abraham 2021)",
        notes={
               "std_error_conditional": pd.Series(np.sqrt(np.diag(v_cond)), index=events),
               "cov_conditional": pd.DataFrame(v_cond, index=events, columns=events),
               "control": control, "dropped_always_treated": dropped_always, "covariates": covariates},
    )
