"""Shift-share (Bartik) diagnostics: Rotemberg weights (Goldsmith-Pinkham, Sorkin & Swift 2020, AER 110(8)).

With a Bartik instrument B_lt = Σ_k z_lk g_kt (time-invariant base shares z, industry shifts g), the 2SLS
estimate of y on x (after partialling out fixed effects and controls, ~) decomposes as

    β_Bartik = (B'ỹ) / (B'x̃) = Σ_k α_k β_k,
    α_k = Σ_t g_kt Σ_l z_lk x̃_lt / B'x̃        (Rotemberg weight of industry k; Σ_k α_k = 1),
    β_k = Σ_t g_kt Σ_l z_lk ỹ_lt / Σ_t g_kt Σ_l z_lk x̃_lt   (the just-identified IV with industry k alone).

α_k is the sum over periods of GPSS's α_kt, which is what they report for panels. Industries with large |α_k|
drive the instrument; negative weights flag where β_Bartik is not a convex combination of the β_k.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

WEIGHT_COLUMNS = ["industry", "alpha", "beta", "shift_mean", "share_mean", "share_sd", "rank"]


def _residualise(values: np.ndarray, data: pd.DataFrame, *, fe: Sequence[str], controls: Sequence[str]) -> np.ndarray:
    """Partial fixed effects (alternating projections) and then controls (OLS) out of each column of values."""
    from analysis.fixed_effects import demean  # linearmodels sits behind this module; import only when used

    cols = np.column_stack([values, data[list(controls)].to_numpy(float)]) if controls else values
    cols = demean(cols, [pd.factorize(data[c])[0] for c in fe]) if fe else cols - cols.mean(axis=0)
    out, w = cols[:, :values.shape[1]], cols[:, values.shape[1]:]
    if w.shape[1]:
        out = out - w @ np.linalg.lstsq(w, out, rcond=None)[0]
    return out


def rotemberg_weights(data: pd.DataFrame, *, y: str, x: str, shares: pd.DataFrame, shifts: pd.DataFrame,
                      unit: str, time: str, industry: str = "industry", share: str = "share",
                      shift: str = "shift", controls: Sequence[str] = (), fe: Sequence[str] = ()) -> pd.DataFrame:
    """Rotemberg weights and per-industry IV estimates of a Bartik design, one row per industry (tidy).

    `shares`: one row per (unit, industry) with the base share; `shifts`: one row per (industry, time). The
    returned frame is sorted by |alpha| (rank 1 = largest) and carries attrs `beta_bartik`, `nobs`,
    `negative_weight_sum`.
    """
    df = data[list(dict.fromkeys([unit, time, y, x, *controls, *fe]))].dropna().reset_index(drop=True)
    z = shares.pivot_table(index=unit, columns=industry, values=share, aggfunc="sum")
    g = shifts.pivot_table(index=time, columns=industry, values=shift, aggfunc="sum")
    inds = sorted(set(z.columns) & set(g.columns))
    if not inds:
        raise ValueError("shares and shifts have no industry in common")
    missing_units = sorted(set(df[unit]) - set(z.index))
    missing_times = sorted(set(df[time]) - set(g.index))
    if missing_units or missing_times:
        raise ValueError(f"no base shares for units {missing_units[:10]} / no shifts for periods {missing_times[:10]}")
    z_rows = z.reindex(columns=inds).fillna(0.0).loc[df[unit]].to_numpy(float)
    g_rows = g.reindex(columns=inds).loc[df[time]].to_numpy(float)
    if np.isnan(g_rows).any():
        bad = [inds[j] for j in np.flatnonzero(np.isnan(g_rows).any(axis=0))]
        raise ValueError(f"shifts are missing for some periods of industries {bad[:10]}")
    zg = z_rows * g_rows                                   # row l,t: z_lk g_kt
    yt, xt = _residualise(df[[y, x]].to_numpy(float), df, fe=fe, controls=controls).T
    num_x, num_y = zg.T @ xt, zg.T @ yt                    # Σ_t g_kt Z_k' x̃ and ... ỹ
    denom = num_x.sum()                                    # B'x̃
    with np.errstate(invalid="ignore", divide="ignore"):
        beta_k = np.where(num_x != 0, num_y / num_x, np.nan)
    alpha = num_x / denom
    out = pd.DataFrame({"industry": inds, "alpha": alpha, "beta": beta_k,
                        "shift_mean": g.reindex(columns=inds).mean().to_numpy(float),
                        "share_mean": z.reindex(columns=inds).fillna(0.0).mean().to_numpy(float),
                        "share_sd": z.reindex(columns=inds).fillna(0.0).std(ddof=1).to_numpy(float)})
    out = out.reindex(out["alpha"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out.attrs.update(beta_bartik=float(num_y.sum() / denom), nobs=len(df),
                     negative_weight_sum=float(alpha[alpha < 0].sum()))
    return out[WEIGHT_COLUMNS]
