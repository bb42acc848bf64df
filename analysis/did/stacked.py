"""Stacked DID (Cengiz, Dube, Lindner & Zipperer 2019): one clean sub-experiment per treatment cohort.

Sub-experiment g keeps the periods t ∈ [g + lo, g + hi] (the event window), the units first treated in g,
and the clean controls: never-treated units and, with `controls="not_yet"`, units first treated after
g + hi (untreated throughout the window). The sub-experiments are stacked and the regression has
sub-experiment x unit and sub-experiment x time fixed effects, so every comparison is within a
sub-experiment and no already-treated unit serves as a control. Errors are CRV1 clustered by the original
unit (a unit appears in several sub-experiments): `analysis.fixed_effects.twfe` on the stacked data.

Weighting: the unweighted stacked regression averages the sub-experiment DIDs with weights
ω_g ∝ N_g^T N_g^C / (N_g^T + N_g^C) (the variance of the treated indicator within sub-experiment g;
exact for a balanced stack without covariates), not with cohort shares. `tables["sub_experiments"]`
reports them; Wing, Freedman & Hollingsworth (2024) give corrective weights that recover cohort-share
weighting (not implemented here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from analysis.did.event_study import cohort_values, event_dummies, refs_of
from analysis.did.results import DIDResult, EventStudyResult
from analysis.fixed_effects import twfe
from analysis.results import NotEstimable, SampleInfo


def stack(
    data: pd.DataFrame,
    unit: str,
    time: str,
    group: str,
    window: tuple[int, int],
    control_group: Literal["never", "notyet"] = "notyet",
    require_full_window: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stacked data (with `_sub`, `_sub_unit`, `_sub_time`, `_rel`, `_treated`) and one row per sub-experiment."""
    lo, hi = window
    g = cohort_values(data, group)
    t = data[time].to_numpy(dtype=float)
    t_min, t_max = np.nanmin(t), np.nanmax(t)
    frames, info = [], []
    for cohort in np.unique(g[np.isfinite(g)]):
        if require_full_window and (cohort + lo < t_min or cohort + hi > t_max):
            info.append({"cohort": int(cohort), "included": False, "reason": "event window not fully observed"})
            continue
        clean = np.isnan(g) | ((g > cohort + hi) if control_group == "notyet" else False)
        keep = ((g == cohort) | clean) & (t >= cohort + lo) & (t <= cohort + hi)
        sub = data.loc[keep].copy()
        if not clean[keep].any():
            info.append({"cohort": int(cohort), "included": False, "reason": "no clean controls"})
            continue
        is_t = g[keep] == cohort
        sub["_sub"] = int(cohort)
        sub["_rel"] = np.where(is_t, sub[time].to_numpy(dtype=float) - cohort, np.nan)
        sub["_treated"] = (sub["_rel"] >= 0).astype(float)
        frames.append(sub)
        n_t = sub.loc[is_t, unit].nunique()
        n_c = sub.loc[~is_t, unit].nunique()
        info.append({"cohort": int(cohort), "included": True, "reason": "", "n_treated": n_t, "n_controls": n_c,
                     "implicit_weight": n_t * n_c / (n_t + n_c)})
    if not frames:
        raise NotEstimable("no cohort has a complete event window with clean controls")
    stacked_df = pd.concat(frames, ignore_index=True)
    # Integer keys for sub-experiment x unit and sub-experiment x time (linearmodels wants a numeric time index).
    stacked_df["_sub_unit"] = pd.factorize(pd.MultiIndex.from_arrays([stacked_df["_sub"], stacked_df[unit]]))[0]
    stacked_df["_sub_time"] = pd.factorize(pd.MultiIndex.from_arrays([stacked_df["_sub"], stacked_df[time]]))[0]
    subs = pd.DataFrame(info)
    inc = subs["included"]
    subs.loc[inc, "implicit_weight"] = subs.loc[inc, "implicit_weight"] / subs.loc[inc, "implicit_weight"].sum()
    return stacked_df, subs


def stacked(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    group: str,
    window: int | tuple[int, int] = 2,
    controls: Sequence[str] = (),
    cluster: str | None = None,
    control_group: Literal["never", "notyet"] = "notyet",
    event_study: bool = False,
    ref: int | Sequence[int] = -1,
    require_full_window: bool = True,
    model_id: str = "stacked",
) -> DIDResult | EventStudyResult:
    """Stacked DID over cohort sub-experiments with window [-k, +k] (or (lo, hi)); static or event study."""
    if control_group not in ("never", "notyet"):
        raise ValueError("control_group must be 'never' or 'notyet'")
    covariates = list(controls)
    cluster = cluster or unit
    win = (-window, window) if isinstance(window, int) else (int(window[0]), int(window[1]))
    if win[0] >= 0 or win[1] < 0:
        raise ValueError(f"the event window {win} must contain pre-periods and period 0")
    cols = list(dict.fromkeys([y, unit, time, group, cluster, *covariates]))
    df, subs = stack(data[cols], unit, time, group, win, control_group, require_full_window)
    refs = refs_of(ref)
    if event_study:
        x = event_dummies(df["_rel"].to_numpy(), refs)
        df = pd.concat([df, x], axis=1)
        names = list(x.columns)
    else:
        names = ["_treated"]
    reg = twfe(df, y=y, x=names, controls=covariates, unit="_sub_unit", time="_sub_time", cluster=cluster,
               model_id=model_id)
    notes = {"window": win, "control_group": control_group, "controls": covariates,
             "n_sub_experiments": int(subs["included"].sum())}
    vcov = f"{reg.vcov_type}; FE sub-experiment x {unit} and sub-experiment x {time}"
    fes = (f"sub x {unit}", f"sub x {time}")
    sample = SampleInfo.of_panel(df, unit="_sub_unit", time=time, note=f"{len(df):,} stacked rows")
    if not event_study:
        params = reg.params.rename({"_treated": "treated"})
        return DIDResult(
            model_id=model_id, dependent=y, params=params, vcov=reg.vcov.rename(index={"_treated": "treated"},
                                                                               columns={"_treated": "treated"}),
            nobs=reg.nobs, df_resid=reg.df_resid, n_clusters=reg.n_clusters, stats=reg.stats,
            fixed_effects=fes, cluster=reg.cluster, vcov_type=vcov, notes=notes, sample=sample,
            method=f"Stacked DID (Cengiz et al. 2019), window {win}", tables={"sub_experiments": subs},
            model=reg.model)
    events = [int(n.split("::")[1]) for n in names]
    return EventStudyResult(
        model_id=model_id, method="Stacked DID event study", dependent=y,
        params=pd.Series(reg.params[names].to_numpy(), index=events, name="estimate"),
        vcov=pd.DataFrame(reg.vcov.loc[names, names].to_numpy(), index=events, columns=events), reference=refs,
        nobs=reg.nobs, n_clusters=reg.n_clusters, df_resid=reg.df_resid, cluster=reg.cluster, regression=reg,
        fixed_effects=fes, vcov_type=vcov, sample=sample, tables={"sub_experiments": subs}, notes=notes)
