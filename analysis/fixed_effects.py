"""Linear regression with absorbed fixed effects, on pyfixest as the engine (reghdfe-compatible inference).

pyfixest (`feols`) absorbs any number of fixed-effect sets, takes weights, one- and two-way clustered
errors and matches Stata `reghdfe`: CRV1 with the small-sample factor G/(G-1)·(N-1)/(N-K), where K
counts the regressors and the fixed-effect levels not nested in the clusters, inference on t(G-1)
(t(min G - 1) for two-way clustering). Singletons are dropped first, as reghdfe does.

This module adds what a panel user needs around it: column names that need not be formula-safe
(`rel_time::-1`), sample accounting (rows dropped for missing values and as singletons, each with its
reason), identification checks that name the problem (a regressor without variation inside the fixed
effects, collinear regressors) instead of a bare "singular matrix", and the shared result object.
`demean` (alternating projections) stays for estimators that need the within transformation itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.results import EstimationResult, NotEstimable, SampleInfo

VcovKind = Literal["iid", "hetero", "cluster"]


@dataclass(kw_only=True)
class RegressionResult(EstimationResult):
    """A fitted fixed-effects regression; the pyfixest model stays attached for residuals and effects."""

    model: Any = None

    def resid(self) -> pd.Series:
        """Residuals of the estimation sample."""
        if self.model is None:
            raise ValueError("the fitted model is not attached (result loaded from storage)")
        return pd.Series(self.model.resid(), name="resid")

    def fixef(self) -> dict[str, dict[Any, float]]:
        """Estimated fixed effects by set (pyfixest `fixef`)."""
        if self.model is None:
            raise ValueError("the fitted model is not attached (result loaded from storage)")
        return self.model.fixef()


def _drop_singletons(df: pd.DataFrame, fes: list[str]) -> tuple[pd.DataFrame, int]:
    """Iteratively drop observations that are alone in any fixed-effect group (as reghdfe)."""
    dropped = 0
    while True:
        keep = np.ones(len(df), dtype=bool)
        for fe in fes:
            keep &= df.groupby(fe, observed=True)[fe].transform("size").to_numpy() > 1
        if keep.all():
            return df, dropped
        dropped += int((~keep).sum())
        df = df[keep]


def demean(values: np.ndarray, groups: list[np.ndarray], tol: float = 1e-13, max_iter: int = 10_000,
           weights: np.ndarray | None = None) -> np.ndarray:
    """Remove several sets of fixed effects by alternating (weighted) projections (Gauss-Seidel)."""
    out = values.astype(float).copy()
    w = np.ones(len(out)) if weights is None else np.asarray(weights, dtype=float)
    counts = [np.bincount(g, weights=w) for g in groups]
    for _ in range(max_iter):
        prev = out.copy()
        for g, n in zip(groups, counts, strict=True):
            for j in range(out.shape[1]):
                out[:, j] -= (np.bincount(g, weights=w * out[:, j]) / n)[g]
        if np.max(np.abs(out - prev)) < tol * (1 + np.max(np.abs(out))):
            return out
    raise RuntimeError("fixed-effect demeaning did not converge")


def _as_tuple(v: str | Sequence[str] | None) -> tuple[str, ...]:
    """A column name or list of names as a tuple (None -> empty)."""
    if v is None:
        return ()
    return (v,) if isinstance(v, str) else tuple(v)


def feols(
    data: pd.DataFrame,
    *,
    y: str,
    x: Sequence[str],
    controls: Sequence[str] = (),
    fe: str | Sequence[str] = (),
    cluster: str | Sequence[str] | None = None,
    vcov: VcovKind = "cluster",
    weights: str | None = None,
    model_id: str = "feols",
    unit: str | None = None,
    time: str | None = None,
    group: str | None = None,
) -> RegressionResult:
    """OLS of y on x and controls with absorbed fixed effects `fe`; CRV1 errors by `cluster` (one or two-way).

    `unit`, `time` and `group` only describe the sample (units, periods, cohort sizes) in the result.
    """
    import pyfixest as pf

    x, controls, fes, clusters = list(x), [c for c in controls if c not in x], list(_as_tuple(fe)), _as_tuple(cluster)
    if vcov == "cluster" and not clusters:
        raise ValueError("vcov='cluster' needs cluster=<column> (or vcov='iid' / 'hetero')")
    regs = [*x, *controls]
    if not regs:
        raise ValueError("no regressors")
    cols = list(dict.fromkeys([y, *regs, *fes, *clusters, *([weights] if weights else []),
                               *(c for c in (unit, time, group) if c)]))
    missing_cols = [c for c in cols if c not in data.columns]
    if missing_cols:
        raise KeyError(f"{model_id}: columns not in the data: {missing_cols}")
    need = list(dict.fromkeys([y, *regs, *fes, *clusters, *([weights] if weights else [])]))
    complete = np.ones(len(data), dtype=bool)
    for c in need:
        complete &= data[c].notna().to_numpy()
    sample = SampleInfo(nobs=0)
    df = data if complete.all() else data[complete]
    if not complete.all():
        nulls = {c: int(data[c].isna().sum()) for c in need if data[c].isna().any()}
        sample.drop("rows with a missing value (" + ", ".join(f"{k}: {v}" for k, v in nulls.items()) + ")",
                    int((~complete).sum()))
    if len(df) == 0:
        raise NotEstimable(f"{model_id}: no observation left after dropping rows with missing values")

    # pyfixest reads a formula: give every column a safe name (terms such as `rel_time::-1` are not) and
    # map the terms back. Singletons are dropped by pyfixest (iteratively, as reghdfe) and counted here.
    safe = {c: f"v{i}" for i, c in enumerate(need)}
    frame = pd.DataFrame({safe[c]: df[c].to_numpy() for c in need}, copy=False)
    rhs = " + ".join(safe[r] for r in regs)
    fml = f"{safe[y]} ~ {rhs}" + (f" | {' + '.join(safe[f] for f in fes)}" if fes else "")
    vc: str | dict[str, str] = {"CRV1": "+".join(safe[c] for c in clusters)} if vcov == "cluster" else vcov
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = pf.feols(fml, frame, vcov=vc, weights=safe[weights] if weights else None,
                           fixef_rm="singleton" if fes else "none", copy_data=False, demeaner_backend="rust")
        except ValueError as exc:
            # pyfixest refuses a design in which every regressor is collinear (e.g. a treatment that no
            # unit in the sample switches): an identification failure, said with the variables' names.
            if "collinear" not in str(exc):
                raise
            raise NotEstimable(f"{model_id}: {_collinearity_reason(df, regs, fes)}") from exc
    n_single = len(frame) - int(fit._N)
    if n_single:
        sample.drop("singletons in a fixed-effect group (as reghdfe)", n_single)
        keep = np.ones(len(df), dtype=bool)
        keep[np.fromiter(fit._na_index, dtype=np.int64)] = False
        df = df[keep]
    back = {v: k for k, v in safe.items()}
    dropped = [back.get(v, v) for v in (fit._collin_vars or [])]
    if dropped:
        raise NotEstimable(f"{model_id}: {_collinearity_reason(df, dropped, fes)}")
    # Without fixed effects pyfixest adds "Intercept", which has no safe-name mapping.
    params = pd.Series(fit.coef().to_numpy(), index=[back.get(v, v) for v in fit.coef().index])
    v = pd.DataFrame(np.asarray(fit._vcov), index=params.index, columns=params.index)
    # Inference on pyfixest's t degrees of freedom: G-1 (min G-1 with two-way clustering), else N-K.
    df_resid = int(fit._df_t)
    n_clusters = df_resid + 1 if vcov == "cluster" else None
    vcov_type = f"CRV1 ({' + '.join(clusters)})" if vcov == "cluster" else {"iid": "iid", "hetero": "HC1"}[vcov]
    sample = SampleInfo.of_panel(df, unit=unit or (fes[0] if fes else None), time=time, group=group,
                                 dropped=sample.dropped)
    r2w = float(getattr(fit, "_r2_within", np.nan)) if fes else float(fit._r2)
    return RegressionResult(
        model_id=model_id, method="OLS with absorbed fixed effects (pyfixest feols)" if fes else "OLS",
        dependent=y, params=params, vcov=v, nobs=int(fit._N), df_resid=df_resid, vcov_type=vcov_type,
        cluster=clusters if vcov == "cluster" else (), n_clusters=n_clusters, fixed_effects=tuple(fes),
        sample=sample, stats={"r2_within": r2w, "r2": float(fit._r2)}, model=fit,
        notes={"controls": controls, "weights": weights},
    )


def twfe(
    data: pd.DataFrame,
    *,
    y: str,
    x: Sequence[str],
    unit: str,
    time: str,
    controls: Sequence[str] = (),
    cluster: str | Sequence[str] | None = None,
    vcov: VcovKind = "cluster",
    weights: str | None = None,
    model_id: str = "twfe",
) -> RegressionResult:
    """Two-way fixed effects (unit and time) OLS; clustered by unit unless `cluster` says otherwise."""
    res = feols(data, y=y, x=x, controls=controls, fe=(unit, time), cluster=cluster or unit, vcov=vcov,
                weights=weights, model_id=model_id, unit=unit, time=time)
    res.method = "TWFE (pyfixest feols)"
    return res


def _collinearity_reason(df: pd.DataFrame, dropped: list[str], fes: list[str]) -> str:
    """Say why each dropped regressor is not identified: constant, absorbed by a fixed effect, or collinear."""
    reasons = []
    for r in dropped:
        v = df[r].to_numpy(dtype=float)
        absorbed = [f for f in fes if df.groupby(f, observed=True)[r].nunique().max() <= 1]
        if np.std(v) == 0:
            reasons.append(f"{r!r} is constant in the estimation sample ({len(df):,} rows)")
        elif absorbed:
            reasons.append(f"{r!r} does not vary within {absorbed[0]!r}: that fixed effect absorbs it")
        else:
            reasons.append(f"{r!r} is collinear with the other regressors and fixed effects")
    return "; ".join(reasons)
