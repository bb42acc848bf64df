"""Feasible GLS for panels (Stata `xtgls`-style) and control-variable time trends.

`fgls` estimates y = Xβ + e by two-step feasible GLS:
1. pooled OLS residuals e;
2. `corr="ar1"`: one common ρ = Σ e_it e_i,t−1 / Σ e²_i,t−1 over consecutive periods (xtgls `rhotype(regress)`),
   and the Prais–Winsten transform within each run of consecutive periods of a unit (first row
   × √(1 − ρ²), later rows v_t − ρ v_{t−1}); `corr="independent"` leaves the data as they are;
3. `panels="heteroskedastic"`: σ²_i = mean squared residual of unit i from OLS on the (transformed) data,
   every row of unit i divided by σ_i; `panels="iid"`: one σ²;
4. OLS on the transformed data; V = σ²(X*'X*)⁻¹ with σ² = 1 after the heteroskedastic rescaling and the
   ML estimate e*'e*/N under `panels="iid"` (xtgls reports ML variances, normal inference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from analysis.results import EstimationResult, NotEstimable, SampleInfo


@dataclass(kw_only=True)
class FGLSResult(EstimationResult):
    """A feasible-GLS fit: `rho` (AR(1)) and the per-unit standard deviations used."""

    rho: float | None = None
    sigma: pd.Series | None = None


def _prais_winsten(v: np.ndarray, units: np.ndarray, times: np.ndarray, rho: float) -> np.ndarray:
    """Prais–Winsten transform of the rows (sorted by unit, time) within each run of consecutive periods."""
    out = v.astype(float).copy()
    cont = np.r_[False, (units[1:] == units[:-1]) & (times[1:] - times[:-1] == 1)]
    out[cont] = v[cont] - rho * v[np.flatnonzero(cont) - 1]
    out[~cont] = v[~cont] * np.sqrt(1.0 - rho ** 2)
    return out


def fgls(data: pd.DataFrame, *, y: str, x: Sequence[str], unit: str, time: str, controls: Sequence[str] = (),
         panels: Literal["iid", "heteroskedastic"] = "heteroskedastic",
         corr: Literal["independent", "ar1"] = "ar1", model_id: str = "fgls") -> FGLSResult:
    """Feasible GLS with heteroskedastic panels and/or a common AR(1) disturbance (xtgls-style)."""
    regs = list(dict.fromkeys([*x, *controls]))
    cols = list(dict.fromkeys([y, *regs, unit, time]))
    missing = [c for c in cols if c not in data]
    if missing:
        raise KeyError(f"{model_id}: columns not in the data: {missing}")
    ok = data[cols].notna().all(axis=1)
    df = data.loc[ok, cols].sort_values([unit, time], kind="stable").reset_index(drop=True)
    if df.duplicated([unit, time]).any():
        raise ValueError(f"{model_id}: duplicated ({unit}, {time}) rows")
    units, times = pd.factorize(df[unit])[0], df[time].to_numpy(dtype=float)
    X = np.column_stack([np.ones(len(df)), df[regs].to_numpy(dtype=float)])
    yv = df[y].to_numpy(dtype=float)
    if len(df) <= X.shape[1] or np.linalg.matrix_rank(X) < X.shape[1]:
        raise NotEstimable(f"{model_id}: regressors collinear or too few rows ({len(df)})")
    beta = np.linalg.lstsq(X, yv, rcond=None)[0]
    e = yv - X @ beta
    rho = None
    if corr == "ar1":
        cont = np.r_[False, (units[1:] == units[:-1]) & (times[1:] - times[:-1] == 1)]
        lag = np.flatnonzero(cont) - 1
        rho = float(e[cont] @ e[lag] / (e[lag] @ e[lag]))
        if not abs(rho) < 1:
            raise NotEstimable(f"{model_id}: estimated AR(1) coefficient {rho:.3f} is not inside (-1, 1)")
        X = np.column_stack([_prais_winsten(X[:, j], units, times, rho) for j in range(X.shape[1])])
        yv = _prais_winsten(yv, units, times, rho)
        e = yv - X @ np.linalg.lstsq(X, yv, rcond=None)[0]
    sigma = None
    if panels == "heteroskedastic":
        s2 = np.bincount(units, weights=e ** 2) / np.bincount(units)
        if (s2 <= 0).any():
            raise NotEstimable(f"{model_id}: a unit has zero residual variance (one row or a perfect fit)")
        sigma = pd.Series(np.sqrt(s2), index=pd.unique(df[unit]), name="sigma")
        X, yv = X / np.sqrt(s2)[units, None], yv / np.sqrt(s2)[units]
    xtx_inv = np.linalg.inv(X.T @ X)
    beta = xtx_inv @ X.T @ yv
    resid = yv - X @ beta
    scale = 1.0 if panels == "heteroskedastic" else float(resid @ resid / len(yv))
    names = ["const", *regs]
    info = SampleInfo.of_panel(df, unit=unit, time=time)
    info.drop("rows with a missing value", int((~ok).sum()))
    return FGLSResult(
        model_id=model_id, method=f"FGLS (panels={panels}, corr={corr})", dependent=y,
        params=pd.Series(beta, index=names), vcov=pd.DataFrame(scale * xtx_inv, index=names, columns=names),
        nobs=len(df), df_resid=None, vcov_type="FGLS (ML variance, normal inference)", sample=info,
        rho=rho, sigma=sigma, notes={"controls": list(controls)})


def control_trends(data: pd.DataFrame, *, columns: Sequence[str], time: str, degree: int = 1,
                   base: float | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Add `<column>_x_trend[^k]` = column × (time − base)^k for k = 1..degree; return the frame and the new names."""
    t = pd.to_numeric(data[time], errors="raise").astype(float)
    t0 = float(t.min()) if base is None else float(base)
    out, names = data.copy(), []
    for c in columns:
        for k in range(1, degree + 1):
            name = f"{c}_x_trend" + (f"{k}" if k > 1 else "")
            out[name] = data[c] * (t - t0) ** k
            names.append(name)
    return out, names
