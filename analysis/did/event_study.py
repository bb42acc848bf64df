"""TWFE event study with relative-time dummies, endpoint binning and reghdfe-compatible CRV1 errors.

    y_it = α_i + λ_t + Σ_{e ∉ ref} β_e · 1{t − G_i = e} + X_it'γ + ε_it

Never-treated units (group 0 / NaN) have every dummy at zero and serve as controls. With `min_e`/`max_e`
the leads below `min_e` and the lags above `max_e` are binned into the endpoint dummies (Schmidheiny &
Siegloch 2023: binning keeps the omitted tails from loading on the reference period). Estimation and
inference are `analysis.fixed_effects.twfe`, so the errors equal pyfixest `feols(... i(rel, ref=-1) | unit + time,
vcov={"CRV1": cluster})`. Under heterogeneous effects the β_e are contaminated by other periods' effects
(Sun & Abraham 2021): use `sun_abraham`, `two_stage` or `stacked` for a robust event study.

The helpers `cohort_values`, `relative_time` and `event_dummies` are shared by the other DID modules.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.did.results import EventStudyResult
from analysis.fixed_effects import feols
from analysis.results import NotEstimable


def cohort_values(data: pd.DataFrame, group: str) -> np.ndarray:
    """First-treated period per row as float; never treated (0, NaN, NA, inf) -> NaN."""
    g = pd.to_numeric(data[group], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(g) & (g != 0), g, np.nan)


def relative_time(data: pd.DataFrame, time: str, group: str) -> np.ndarray:
    """Event time t − G_i (NaN for never-treated rows)."""
    return data[time].to_numpy(dtype=float) - cohort_values(data, group)


def refs_of(ref: int | Sequence[int]) -> tuple[int, ...]:
    """Reference period(s) as a tuple."""
    return (int(ref),) if np.isscalar(ref) else tuple(int(r) for r in ref)  # type: ignore[union-attr]


def term(e: int) -> str:
    """Column/term name of the event-time-e dummy (the label pyfixest's `i(rel_time)` uses)."""
    return f"rel_time::{e}"


def bin_event_time(rel: np.ndarray, min_e: int | None, max_e: int | None) -> np.ndarray:
    """Clip event time into [min_e, max_e] (endpoint binning); NaN (never treated) stays NaN."""
    lo = -np.inf if min_e is None else min_e
    hi = np.inf if max_e is None else max_e
    return np.where(np.isnan(rel), np.nan, np.clip(rel, lo, hi))


def event_dummies(rel: np.ndarray, ref: tuple[int, ...]) -> pd.DataFrame:
    """One 0/1 column per observed event time except the reference period(s), ordered by event time."""
    levels = sorted(int(e) for e in np.unique(rel[~np.isnan(rel)]) if int(e) not in ref)
    return pd.DataFrame({term(e): (rel == e).astype(float) for e in levels})


def event_study(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    group: str,
    controls: Sequence[str] = (),
    cluster: str | Sequence[str] | None = None,
    ref: int | Sequence[int] = -1,
    min_e: int | None = None,
    max_e: int | None = None,
    weights: str | None = None,
    model_id: str = "event_study",
) -> EventStudyResult:
    """TWFE event study of `y` on event-time dummies (never treated as controls), CRV1 errors by `cluster`."""
    controls = list(controls)
    clusters = [cluster] if isinstance(cluster, str) else list(cluster or [unit])
    refs = refs_of(ref)
    if (min_e is not None and min(refs) < min_e) or (max_e is not None and max(refs) > max_e):
        raise ValueError(f"reference period(s) {refs} lie outside the event window [{min_e}, {max_e}]")
    cols = list(dict.fromkeys([y, unit, time, group, *clusters, *controls, *([weights] if weights else [])]))
    df = data[cols].reset_index(drop=True)
    rel = bin_event_time(relative_time(data, time, group), min_e, max_e)
    dummies = event_dummies(rel, refs)
    if dummies.empty:
        raise NotEstimable(f"no treated observations outside the reference period(s) in {group!r}")
    df = pd.concat([df, dummies], axis=1)
    reg = feols(df, y=y, x=list(dummies.columns), controls=controls, fe=(unit, time), cluster=clusters,
                weights=weights, model_id=model_id, unit=unit, time=time, group=group)

    names = list(dummies.columns)
    events = [int(n.split("::")[1]) for n in names]
    params = pd.Series(reg.params[names].to_numpy(), index=events, name="estimate")
    cov = pd.DataFrame(reg.vcov.loc[names, names].to_numpy(), index=events, columns=events)
    binned_low = min_e is not None and bool(np.nanmin(relative_time(data, time, group)) < min_e)
    binned_high = max_e is not None and bool(np.nanmax(relative_time(data, time, group)) > max_e)
    return EventStudyResult(
        model_id=model_id, method="TWFE event study", dependent=y, params=params, vcov=cov, reference=refs,
        nobs=reg.nobs, n_clusters=reg.n_clusters, df_resid=reg.df_resid, cluster=reg.cluster,
        vcov_type=reg.vcov_type, fixed_effects=reg.fixed_effects, sample=reg.sample, stats=reg.stats,
        binned=(binned_low, binned_high), regression=reg,
        notes={"controls": controls, "min_e": min_e, "max_e": max_e, "comparison": "never treated"},
    )
