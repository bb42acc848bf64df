"""Inequality measures: Theil (with its exact between/within decomposition), Gini and Dagum's Gini decomposition.

Formulas (x_i the value of unit i, w_i its weight, s_i = w_i / Σ w the weight share, μ = Σ s_i x_i):

- Theil L, population-weighted mean log deviation (seed 000 eq. 1, Theil & Uribe 1967):
  T_L = Σ_i s_i ln(μ / x_i) = Σ_i s_i ln(s_i / e_i), e_i = s_i x_i / μ the unit's share of the total.
  With groups g (weight share S_g, mean μ_g): T_L = Σ_g S_g ln(μ / μ_g) [between] + Σ_g S_g T_L,g [within].
- Theil T: T_T = Σ_i e_i ln(e_i / s_i); between Σ_g E_g ln(E_g / S_g), within Σ_g E_g T_T,g.
- Gini: G = Σ_i Σ_j s_i s_j |x_i − x_j| / (2 μ) (seed 001 eqs. 4–5 with equal weights).
- Dagum (1997): G = G_w + G_nb + G_t, with G_jh = Σ_i Σ_r s|x_ji − x_hr| / (μ_j + μ_h) the (weighted)
  Gini between groups j and h, p_j the weight share and s_j the value share of group j,
  G_w = Σ_j G_jj p_j s_j, G_nb = Σ_{j≠h, μ_j>μ_h} G_jh (p_j s_h + p_h s_j) D_jh,
  G_t = Σ_{j≠h, μ_j>μ_h} G_jh (p_j s_h + p_h s_j) (1 − D_jh), D_jh = (d_jh − p_jh) / (d_jh + p_jh),
  d_jh the mean of max(x_j − x_h, 0) over cross-group pairs and p_jh the mean of max(x_h − x_j, 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

ArrayLike = Sequence[float] | np.ndarray | pd.Series


@dataclass(kw_only=True)
class TheilResult:
    """A Theil index with its between/within split and per-group parts (empty without groups)."""

    total: float
    between: float
    within: float
    measure: str
    # group, weight_share, value_share, mean, theil, within_contribution, between_contribution
    groups: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(kw_only=True)
class DagumResult:
    """Dagum's decomposition of a Gini: within, net between, transvariation, and the pairwise Gini table."""

    gini: float
    within: float
    net_between: float
    transvariation: float
    groups: pd.DataFrame          # group, n, weight_share, value_share, mean, gini (within-group)
    pairs: pd.DataFrame           # group_j (richer), group_h, gini_jh, d_jh, p_jh, D_jh

    def shares(self) -> dict[str, float]:
        """Contribution shares of the three parts (sum to 1)."""
        return {k: getattr(self, k) / self.gini for k in ("within", "net_between", "transvariation")}


def _prepare(values: ArrayLike, weights: ArrayLike | None, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate values and weights: finite, non-negative, same length, positive total."""
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if x.ndim != 1 or w.shape != x.shape:
        raise ValueError(f"{what}: values and weights must be 1-d of the same length (got {x.shape}, {w.shape})")
    if len(x) == 0:
        raise ValueError(f"{what}: no observations")
    if not (np.isfinite(x).all() and np.isfinite(w).all()):
        raise ValueError(f"{what}: values and weights must be finite (drop missing rows first and record them)")
    if (x < 0).any() or (w < 0).any():
        raise ValueError(f"{what}: values and weights must be non-negative")
    if w.sum() <= 0 or (w * x).sum() <= 0:
        raise ValueError(f"{what}: the total weight and the weighted total must be positive")
    return x, w


def _theil_one(x: np.ndarray, s: np.ndarray, measure: str) -> float:
    """Theil L or T of values x with weight shares s (Σ s = 1)."""
    mu = float(s @ x)
    if measure == "L":
        if (x[s > 0] <= 0).any():
            raise ValueError("Theil L (mean log deviation) is undefined when a weighted unit has a zero value")
        keep = s > 0
        return float(s[keep] @ np.log(mu / x[keep]))
    e = s * x / mu
    keep = e > 0
    return float(e[keep] @ np.log(x[keep] / mu))


def theil(values: ArrayLike, weights: ArrayLike | None = None, groups: ArrayLike | None = None, *,
          measure: Literal["L", "T"] = "L") -> TheilResult:
    """Theil index of `values` weighted by `weights` (L = seed 000's population-weighted form), split by `groups`."""
    if measure not in ("L", "T"):
        raise ValueError(f"measure must be 'L' or 'T', got {measure!r}")
    x, w = _prepare(values, weights, what="theil")
    s = w / w.sum()
    total = _theil_one(x, s, measure)
    if groups is None:
        return TheilResult(total=total, between=0.0, within=total, measure=measure)
    g = pd.Series(np.asarray(groups)).reset_index(drop=True)
    if len(g) != len(x) or g.isna().any():
        raise ValueError("theil: groups must have one non-missing label per value")
    mu = float(s @ x)
    rows = []
    for label, idx in g.groupby(g, sort=True).indices.items():
        sg = s[idx].sum()
        mu_g = float(s[idx] @ x[idx]) / sg
        t_g = _theil_one(x[idx], s[idx] / sg, measure)
        eg = sg * mu_g / mu
        weight = sg if measure == "L" else eg
        between_g = sg * np.log(mu / mu_g) if measure == "L" else eg * np.log(mu_g / mu)
        rows.append({"group": label, "weight_share": sg, "value_share": eg, "mean": mu_g, "theil": t_g,
                     "within_contribution": weight * t_g, "between_contribution": between_g})
    parts = pd.DataFrame(rows)
    return TheilResult(total=total, between=float(parts["between_contribution"].sum()),
                       within=float(parts["within_contribution"].sum()), measure=measure, groups=parts)


def gini(values: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Gini coefficient Σ_i Σ_j s_i s_j |x_i − x_j| / (2 μ), with weight shares s (equal by default)."""
    x, w = _prepare(values, weights, what="gini")
    s = w / w.sum()
    order = np.argsort(x, kind="stable")
    xs, ss = x[order], s[order]
    before = np.cumsum(ss) - ss          # weight share strictly below in the sort order
    after = 1.0 - before - ss            # weight share strictly above
    # Σ_i Σ_j s_i s_j |x_i − x_j| = 2 Σ_i s_i x_i (below_i − above_i): each pair counted from its larger member
    mad = 2.0 * float(np.sum(ss * xs * (before - after)))
    return mad / (2.0 * float(ss @ xs))


def _mean_pair_gaps(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray) -> tuple[float, float]:
    """Weighted means over pairs (a_i, b_r) of max(a − b, 0) and max(b − a, 0)."""
    diff = a[:, None] - b[None, :]
    pw = (wa / wa.sum())[:, None] * (wb / wb.sum())[None, :]
    return float((pw * np.clip(diff, 0, None)).sum()), float((pw * np.clip(-diff, 0, None)).sum())


def dagum(values: ArrayLike, groups: ArrayLike, weights: ArrayLike | None = None) -> DagumResult:
    """Dagum (1997) decomposition of the Gini of `values` by `groups` into within, net between and transvariation."""
    x, w = _prepare(values, weights, what="dagum")
    g = pd.Series(np.asarray(groups)).reset_index(drop=True)
    if len(g) != len(x) or g.isna().any():
        raise ValueError("dagum: groups must have one non-missing label per value")
    s = w / w.sum()
    mu = float(s @ x)
    idx = g.groupby(g, sort=True).indices
    info = []
    for label, i in idx.items():
        pj = s[i].sum()
        mj = float(s[i] @ x[i]) / pj
        info.append({"group": label, "n": len(i), "weight_share": pj, "value_share": pj * mj / mu, "mean": mj,
                     "gini": gini(x[i], w[i]) if mj > 0 else 0.0})
    groups_df = pd.DataFrame(info)
    within = float((groups_df["gini"] * groups_df["weight_share"] * groups_df["value_share"]).sum())
    # G_jj = 2 μ_j G_j / (2 μ_j) = G_j, so the within part uses each group's own Gini.
    pairs, nb, tv = [], 0.0, 0.0
    rec = groups_df.set_index("group")
    labels = list(idx)
    for a_pos, ja in enumerate(labels):
        for jb in labels[a_pos + 1:]:
            j, h = (ja, jb) if rec.at[ja, "mean"] >= rec.at[jb, "mean"] else (jb, ja)
            d_jh, p_jh = _mean_pair_gaps(x[idx[j]], w[idx[j]], x[idx[h]], w[idx[h]])
            g_jh = (d_jh + p_jh) / (rec.at[j, "mean"] + rec.at[h, "mean"])
            big_d = (d_jh - p_jh) / (d_jh + p_jh) if d_jh + p_jh > 0 else 0.0
            cross = (rec.at[j, "weight_share"] * rec.at[h, "value_share"]
                     + rec.at[h, "weight_share"] * rec.at[j, "value_share"])
            nb += g_jh * cross * big_d
            tv += g_jh * cross * (1 - big_d)
            pairs.append({"group_j": j, "group_h": h, "gini_jh": g_jh, "d_jh": d_jh, "p_jh": p_jh, "D_jh": big_d})
    return DagumResult(gini=gini(x, w), within=within, net_between=nb, transvariation=tv, groups=groups_df,
                       pairs=pd.DataFrame(pairs, columns=["group_j", "group_h", "gini_jh", "d_jh", "p_jh", "D_jh"]))


def inequality_by(data: pd.DataFrame, *, value: str, by: str | Sequence[str], weight: str | None = None,
                  group: str | None = None, measure: Literal["L", "T"] = "L") -> pd.DataFrame:
    """Theil (with between/within by `group`) and Gini of `value` for each `by` cell (e.g. per year).

    Rows with a missing or non-positive value or weight are left out and counted in `n_dropped`.
    """
    keys = [by] if isinstance(by, str) else list(by)
    cols = [value] + ([weight] if weight else []) + ([group] if group else [])
    missing = [c for c in keys + cols if c not in data]
    if missing:
        raise KeyError(f"inequality_by: columns {missing} not in the data")
    out = []
    for key, cell in data.groupby(keys, sort=True):
        ok = cell[cols].notna().all(axis=1) & (cell[value] > 0)
        if weight:
            ok &= cell[weight] > 0
        use = cell[ok]
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row.update({"n": len(use), "n_dropped": int((~ok).sum())})
        if len(use) >= 2:
            w = use[weight] if weight else None
            t = theil(use[value], w, use[group] if group else None, measure=measure)
            row.update({"theil": t.total, "theil_between": t.between, "theil_within": t.within,
                        "gini": gini(use[value], w)})
        else:
            row.update({"theil": np.nan, "theil_between": np.nan, "theil_within": np.nan, "gini": np.nan})
        out.append(row)
    return pd.DataFrame(out)
