"""Pooled quantile regression (pyfixest `quantreg`) returning the shared result API, one result per quantile.

Engine choice: pyfixest's Frisch–Newton interior-point `quantreg` (Portnoy & Koenker 1997, as R `quantreg`
"fn"), because it offers the standard errors a panel user needs in one place: "iid" (Koenker–Bassett with
a Powell kernel sparsity estimate), "nid" (Hendricks & Koenker 1992 sandwich, robust to heteroskedasticity)
and one-way cluster-robust errors (Parente & Santos Silva 2016). statsmodels' QuantReg offers iid and a
kernel sandwich but no clustering. A pairs bootstrap (resampling whole units when `cluster` is given) is
available with `vcov="bootstrap"`. Inference is on the normal distribution (`df_resid=None`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from analysis.results import EstimationResult, NotEstimable, SampleInfo

QuantVcov = Literal["iid", "nid", "cluster", "bootstrap"]


@dataclass(kw_only=True)
class QuantileResult(EstimationResult):
    """A quantile-regression fit: `quantile` is τ."""

    quantile: float = 0.5


def _frame(data: pd.DataFrame, cols: list[str], model_id: str) -> tuple[pd.DataFrame, SampleInfo]:
    """The complete rows of `cols`, with the dropped rows recorded."""
    missing = [c for c in cols if c not in data]
    if missing:
        raise KeyError(f"{model_id}: columns not in the data: {missing}")
    df = data[cols]
    ok = df.notna().all(axis=1)
    info = SampleInfo(nobs=int(ok.sum()))
    info.drop("rows with a missing value", int((~ok).sum()))
    if ok.sum() == 0:
        raise NotEstimable(f"{model_id}: no complete rows")
    return df[ok].reset_index(drop=True), info


def quantile_regression(data: pd.DataFrame, *, y: str, x: Sequence[str], controls: Sequence[str] = (),
                        quantiles: Sequence[float] = (0.5,), vcov: QuantVcov = "nid",
                        cluster: str | None = None, reps: int = 500, seed: int | None = None,
                        unit: str | None = None, time: str | None = None,
                        model_id: str = "qreg") -> list[QuantileResult]:
    """Pooled linear quantile regression of y on x and controls (with intercept) at each τ in `quantiles`."""
    import pyfixest as pf

    regs = list(dict.fromkeys([*x, *controls]))
    if not regs:
        raise ValueError("no regressors")
    if vcov == "cluster" and not cluster:
        raise ValueError("vcov='cluster' needs cluster=<column>")
    extra = [c for c in (cluster, unit, time) if c and c not in regs and c != y]
    df, info = _frame(data, list(dict.fromkeys([y, *regs, *extra])), model_id)
    if len(df) <= len(regs) + 1:
        raise NotEstimable(f"{model_id}: {len(df)} rows for {len(regs) + 1} coefficients")
    safe = {c: f"v{i}" for i, c in enumerate(dict.fromkeys([y, *regs]))}
    frame = pd.DataFrame({safe[c]: df[c].to_numpy(dtype=float) for c in safe})
    if cluster:
        frame["cl"] = pd.factorize(df[cluster])[0]
    fml = f"{safe[y]} ~ " + " + ".join(safe[r] for r in regs)
    back = {v: k for k, v in safe.items()} | {"Intercept": "const"}
    sample = SampleInfo.of_panel(df, unit=unit or cluster, time=time, dropped=info.dropped)
    results = []
    for tau in quantiles:
        if not 0 < tau < 1:
            raise ValueError(f"quantile must be in (0, 1), got {tau}")
        vc = {"CRV1": "cl"} if vcov == "cluster" else ("iid" if vcov == "bootstrap" else vcov)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pf.quantreg(fml, frame, quantile=float(tau), vcov=vc, tol=1e-10)
        names = [back[v] for v in fit.coef().index]
        params = pd.Series(fit.coef().to_numpy(), index=names)
        if vcov == "bootstrap":
            v = _bootstrap_vcov(frame, fml, float(tau), cluster="cl" if cluster else None, reps=reps, seed=seed)
            vcov_type = f"pairs bootstrap ({reps} draws{', by ' + cluster if cluster else ''})"
        else:
            v = np.asarray(fit._vcov)
            vcov_type = {"iid": "iid (Powell kernel sparsity)", "nid": "nid (Hendricks-Koenker sandwich)",
                         "cluster": f"cluster-robust by {cluster} (Parente-Santos Silva)"}[vcov]
        results.append(QuantileResult(
            model_id=f"{model_id}_q{round(tau * 100):02d}", method="pooled quantile regression (pyfixest quantreg)",
            dependent=y, params=params, vcov=pd.DataFrame(v, index=names, columns=names), nobs=len(df),
            df_resid=None, vcov_type=vcov_type, cluster=(cluster,) if cluster and vcov in ("cluster", "bootstrap")
            else (), n_clusters=int(df[cluster].nunique()) if cluster else None, sample=sample, quantile=float(tau),
            notes={"controls": list(controls)}))
    return results


def _bootstrap_vcov(frame: pd.DataFrame, fml: str, tau: float, *, cluster: str | None, reps: int,
                    seed: int | None) -> np.ndarray:
    """Covariance of the coefficients over `reps` pairs-bootstrap refits (whole clusters when given)."""
    import pyfixest as pf

    rng = np.random.default_rng(seed)
    ids = frame[cluster].to_numpy() if cluster else np.arange(len(frame))
    uniq = np.unique(ids)
    pos = {u: np.flatnonzero(ids == u) for u in uniq} if cluster else None
    draws = []
    for _ in range(reps):
        pick = rng.choice(uniq, size=len(uniq), replace=True)
        rows = np.concatenate([pos[u] for u in pick]) if pos is not None else pick
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            draws.append(pf.quantreg(fml, frame.iloc[rows].reset_index(drop=True), quantile=tau, vcov="iid",
                                     tol=1e-10).coef().to_numpy())
    return np.cov(np.asarray(draws), rowvar=False)
