"""Gardner (2022) two-stage DID with GMM standard errors, extended with Butts (2023) ring spillovers.

Stage 1 (seed 002, eq. 3): y_it = μ_i + λ_t + X_it'γ + ε_it, estimated on the observations that are
untreated and, with `rings`, also unexposed (every ring indicator 0).
Stage 2 (eq. 4-5): ỹ_it = y_it − μ̂_i − λ̂_t − X_it'γ̂ for every observation, regressed (no intercept) on
the treatment indicator 1{t ≥ G_i} (or event-time dummies) plus one indicator per ring.

Standard errors: the two stages are one GMM problem; the stage-2 covariance corrects for the estimated
stage-1 effects (Gardner 2022; Butts & Gardner 2022, the `did2s` R package):
    V = (X₂'X₂)⁻¹ [Σ_g W_g W_g'] (X₂'X₂)⁻¹,   W_g = X₂g'û₂g − (X₂'X₁)(X₁₀'X₁₀)⁻¹ X₁₀g'û₁g
with X₁ the stage-1 design (unit and time dummies, covariates) on all rows, X₁₀ the same with the rows
outside the stage-1 sample set to zero, û₁ = y − X₁θ̂₁ and û₂ the stage-2 residuals, clustered by `cluster`.
No small-sample factor is applied (as did2s and pyfixest `did2s`); inference uses t(G−1).

Units (periods) with no stage-1 observation have unidentified effects and cannot be imputed: they are
dropped (listed in `notes`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import splu

from analysis.did.event_study import bin_event_time, event_dummies, refs_of, relative_time
from analysis.did.results import DIDResult, EventStudyResult
from analysis.results import NotEstimable, SampleInfo


def _dummies(codes: np.ndarray, n_levels: int) -> sparse.csr_matrix:
    """Sparse 0/1 indicator matrix of integer codes."""
    n = len(codes)
    return sparse.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, n_levels))


def _stage1_sample(df: pd.DataFrame, clean: np.ndarray, unit: str, time: str) -> tuple[pd.DataFrame, list, list]:
    """Drop units and periods without stage-1 (clean) observations, repeatedly, until every FE is identified."""
    dropped_units: list = []
    dropped_times: list = []
    keep = np.ones(len(df), dtype=bool)
    while True:
        c = pd.Series(clean & keep)
        bad_u = set(df.loc[keep, unit]) - set(df.loc[c.to_numpy(), unit])
        bad_t = set(df.loc[keep, time]) - set(df.loc[c.to_numpy(), time])
        if not bad_u and not bad_t:
            return df[keep].reset_index(drop=True), dropped_units, dropped_times
        dropped_units += sorted(bad_u)
        dropped_times += sorted(bad_t)
        keep &= ~df[unit].isin(bad_u).to_numpy() & ~df[time].isin(bad_t).to_numpy()


def two_stage(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    group: str,
    controls: Sequence[str] = (),
    cluster: str | None = None,
    rings: Sequence[str] | None = None,
    event_study: bool = False,
    ref: int | Sequence[int] = -1,
    min_e: int | None = None,
    max_e: int | None = None,
    model_id: str = "two_stage",
) -> DIDResult | EventStudyResult:
    """Two-stage DID (static, or event study with `event_study=True`), optionally with Butts ring spillovers."""
    covariates, rings = list(controls), list(rings or [])
    cluster = cluster or unit
    cols = list(dict.fromkeys([y, unit, time, cluster, *covariates, *rings]))
    df = data[cols].copy()
    df["_rel"] = relative_time(data, time, group)
    df["_treated"] = (df["_rel"] >= 0).astype(float)          # NaN (never treated) >= 0 is False
    df = df.dropna(subset=cols).reset_index(drop=True)
    ring_mat = df[rings].to_numpy(dtype=float) if rings else np.zeros((len(df), 0))
    clean = (df["_treated"].to_numpy() == 0) & ~(ring_mat != 0).any(axis=1)
    n_complete = len(df)
    df, dropped_units, dropped_times = _stage1_sample(df, clean, unit, time)
    if not clean.any() or len(df) == 0:
        raise NotEstimable("no untreated (and unexposed) observation to estimate the first stage")
    ring_mat = df[rings].to_numpy(dtype=float) if rings else np.zeros((len(df), 0))
    clean = (df["_treated"].to_numpy() == 0) & ~(ring_mat != 0).any(axis=1)
    n = len(df)

    # Stage 1 on the clean rows: θ̂₁ = (X₁₀'X₁₀)⁻¹ X₁₀'y with one time dummy dropped (the sets of unit and
    # time dummies share one redundant direction), solved by sparse LU.
    ui, n_u = pd.factorize(df[unit])[0], df[unit].nunique()
    ti, n_t = pd.factorize(df[time], sort=True)[0], df[time].nunique()
    blocks = [sparse.csr_matrix(df[covariates].to_numpy(dtype=float))] if covariates else []
    x1 = sparse.hstack([*blocks, _dummies(ui, n_u), _dummies(ti, n_t)[:, 1:]]).tocsr()
    x10 = sparse.diags(clean.astype(float)) @ x1
    lu = splu((x10.T @ x10).tocsc())
    yv = df[y].to_numpy(dtype=float)
    theta1 = lu.solve(np.asarray(x10.T @ yv).ravel())
    u1 = yv - x1 @ theta1                                   # the residualised outcome ỹ on every row

    # Stage 2: ỹ on treatment (or event-time dummies) and rings, no intercept.
    refs = refs_of(ref)
    if event_study:
        rel = bin_event_time(df["_rel"].to_numpy(), min_e, max_e)
        x2_df = event_dummies(rel, refs)
    else:
        x2_df = df[["_treated"]].rename(columns={"_treated": "treated"})
    x2_df = pd.concat([x2_df.reset_index(drop=True), df[rings].astype(float)], axis=1)
    names = list(x2_df.columns)
    x2 = x2_df.to_numpy(dtype=float)
    xtx2 = x2.T @ x2
    beta = np.linalg.solve(xtx2, x2.T @ u1)
    u2 = u1 - x2 @ beta

    # GMM covariance: per-cluster scores of both stages, stage-1 scores mapped through Γ = (X₁₀'X₁₀)⁻¹X₁'X₂.
    cl = pd.factorize(df[cluster])[0]
    g_count = int(cl.max() + 1)
    c_mat = _dummies(cl, g_count).T.tocsr()                  # G x n
    gamma = lu.solve(np.asarray(x1.T @ x2))
    gamma = gamma.reshape(x1.shape[1], x2.shape[1])
    s1 = c_mat @ (x10.multiply(u1[:, None])).tocsr()         # G x p1: Σ_{it∈g} x₁₀ û₁
    w = c_mat @ (x2 * u2[:, None]) - np.asarray(s1 @ gamma)
    bread = np.linalg.inv(xtx2)
    cov = bread @ (w.T @ w) @ bread

    notes = {"first_stage_nobs": int(clean.sum()), "dropped_units": dropped_units, "dropped_periods": dropped_times,
             "controls": covariates, "rings": rings,
             "first_stage_coefs": dict(zip(covariates, theta1[:len(covariates)], strict=True))}
    vcov_type = f"GMM two-stage (Gardner 2022), clustered by {cluster}"
    sample = SampleInfo.of_panel(df.assign(_grp=df[time] - df["_rel"]), unit=unit, time=time, group="_grp")
    sample.drop("rows with a missing value", len(data) - n_complete)
    sample.drop("rows of units or periods without an untreated observation (effects not identified)",
                n_complete - n)
    reg = DIDResult(
        model_id=model_id, dependent=y, params=pd.Series(beta, index=names), vcov=pd.DataFrame(cov, names, names),
        nobs=n, df_resid=g_count - 1, n_clusters=g_count, fixed_effects=(unit, time),
        cluster=(cluster,), vcov_type=vcov_type, notes=notes, sample=sample,
        method="Two-stage DID (Gardner 2022)" + (" with ring spillovers (Butts 2023)" if rings else ""))
    if not event_study:
        return reg
    ev_names = [c for c in names if c.startswith("rel_time::")]
    events = [int(c.split("::")[1]) for c in ev_names]
    raw_rel = df["_rel"].to_numpy()
    return EventStudyResult(
        model_id=model_id, method=reg.method, dependent=y,
        params=pd.Series(reg.params[ev_names].to_numpy(), index=events, name="estimate"),
        vcov=pd.DataFrame(reg.vcov.loc[ev_names, ev_names].to_numpy(), index=events, columns=events),
        reference=refs, nobs=n, n_clusters=g_count, df_resid=g_count - 1, cluster=(cluster,),
        fixed_effects=(unit, time), vcov_type=vcov_type, sample=sample,
        binned=(min_e is not None and bool(np.nanmin(raw_rel) < min_e),
                max_e is not None and bool(np.nanmax(raw_rel) > max_e)),
        regression=reg, notes=notes)
