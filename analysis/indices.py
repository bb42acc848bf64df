"""Composite indices: entropy weights, entropy-weight TOPSIS and a first-principal-component alternative.

`entropy_weights` is the raw weighting step on a non-negative matrix (no standardisation inside):
p_ij = x_ij / Σ_i x_ij, E_j = −Σ_i p_ij ln p_ij / ln n (0 ln 0 = 0), w_j = (1 − E_j) / Σ_k (1 − E_k).
`entropy_topsis` min–max standardises each indicator (x' = (x − min)/(max − min) for positive indicators,
(max − x)/(max − min) for negative ones; over all rows, or within each `by` cell), weights the standardised
matrix with `entropy_weights`, and scores closeness to the ideal: z = w x', D⁺ = ‖z − max z‖, D⁻ = ‖z − min z‖,
C = D⁻ / (D⁺ + D⁻) ∈ [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(kw_only=True)
class IndexResult:
    """A composite index per row and the weights (or loadings) behind it, per normalisation cell."""

    index: pd.Series            # aligned with the input rows; NaN where an indicator is missing
    weights: pd.DataFrame       # [by...], indicator, weight (and entropy or loading, explained share)
    method: str
    n_dropped: int = 0          # rows without a complete set of indicators


def entropy_weights(matrix: pd.DataFrame | np.ndarray) -> pd.Series:
    """Entropy weights of the columns of a non-negative matrix (rows = observations)."""
    x = np.asarray(matrix, dtype=float)
    names = list(matrix.columns) if isinstance(matrix, pd.DataFrame) else list(range(x.shape[1]))
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"entropy_weights: need a 2-d matrix with at least 2 rows, got shape {x.shape}")
    if not np.isfinite(x).all() or (x < 0).any():
        raise ValueError("entropy_weights: every entry must be finite and non-negative")
    col = x.sum(axis=0)
    if (col <= 0).any():
        bad = [names[j] for j in np.flatnonzero(col <= 0)]
        raise ValueError(f"entropy_weights: columns {bad} sum to zero (no variation to weight)")
    p = x / col
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    e = -plogp.sum(axis=0) / np.log(x.shape[0])
    d = 1.0 - e
    if d.sum() <= 0:
        raise ValueError("entropy_weights: every column has maximal entropy (all columns constant)")
    return pd.Series(d / d.sum(), index=names, name="weight")


def _cells(data: pd.DataFrame, by: str | Sequence[str] | None) -> list[tuple[dict, pd.Index]]:
    """Row groups for normalisation: one pooled cell, or one per `by` value."""
    if by is None:
        return [({}, data.index)]
    keys = [by] if isinstance(by, str) else list(by)
    return [(dict(zip(keys, k if isinstance(k, tuple) else (k,), strict=True)), idx)
            for k, idx in data.groupby(keys, sort=True).groups.items()]


def _complete(data: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The rows with every indicator present (the caller counts the rest)."""
    missing = [c for c in cols if c not in data]
    if missing:
        raise KeyError(f"indicators {missing} are not columns of the data")
    return data[data[cols].notna().all(axis=1)]


def entropy_topsis(data: pd.DataFrame, *, positive: Sequence[str], negative: Sequence[str] = (),
                   by: str | Sequence[str] | None = None) -> IndexResult:
    """Entropy-weight TOPSIS index of the indicators (normalised pooled, or within each `by` cell)."""
    pos, neg = list(positive), list(negative)
    cols = pos + neg
    if not cols:
        raise ValueError("entropy_topsis: give at least one indicator")
    use = _complete(data, cols)
    index = pd.Series(np.nan, index=data.index, name="index")
    weights = []
    for key, idx in _cells(use, by):
        cell = use.loc[idx, cols].astype(float)
        lo, hi = cell.min(), cell.max()
        span = (hi - lo).replace(0, np.nan)
        if span.isna().any():
            raise ValueError(f"entropy_topsis: indicators {list(span.index[span.isna()])} are constant in cell {key}")
        std = pd.concat([(cell[pos] - lo[pos]) / span[pos], (hi[neg] - cell[neg]) / span[neg]], axis=1)[cols]
        w = entropy_weights(std)
        z = std.to_numpy() * w.to_numpy()
        d_plus = np.sqrt(((z - z.max(axis=0)) ** 2).sum(axis=1))
        d_minus = np.sqrt(((z - z.min(axis=0)) ** 2).sum(axis=1))
        index.loc[idx] = d_minus / (d_plus + d_minus)
        weights.extend({**key, "indicator": c, "weight": float(w[c]), "n": len(idx)} for c in cols)
    return IndexResult(index=index, weights=pd.DataFrame(weights), method="entropy_topsis",
                       n_dropped=len(data) - len(use))


def pca_index(data: pd.DataFrame, *, positive: Sequence[str], negative: Sequence[str] = (),
              by: str | Sequence[str] | None = None) -> IndexResult:
    """First principal component of the z-scored indicators (negative ones sign-flipped), per `by` cell.

    The component is oriented so that its loadings sum to a positive number (a higher index = more of the
    positive indicators); `weights` holds the loadings and the share of variance the component explains.
    """
    pos, neg = list(positive), list(negative)
    cols = pos + neg
    if len(cols) < 2:
        raise ValueError("pca_index: give at least two indicators")
    use = _complete(data, cols)
    index = pd.Series(np.nan, index=data.index, name="index")
    weights = []
    for key, idx in _cells(use, by):
        cell = use.loc[idx, cols].astype(float)
        cell[neg] = -cell[neg]
        sd = cell.std(ddof=1).replace(0, np.nan)
        if sd.isna().any():
            raise ValueError(f"pca_index: indicators {list(sd.index[sd.isna()])} are constant in cell {key}")
        z = ((cell - cell.mean()) / sd).to_numpy()
        _, sing, vt = np.linalg.svd(z, full_matrices=False)
        load = vt[0] * (1.0 if vt[0].sum() >= 0 else -1.0)
        index.loc[idx] = z @ load
        share = float(sing[0] ** 2 / (sing ** 2).sum())
        weights.extend({**key, "indicator": c, "weight": float(load[j]), "explained_share": share, "n": len(idx)}
                       for j, c in enumerate(cols))
    return IndexResult(index=index, weights=pd.DataFrame(weights), method="pca_first_component",
                       n_dropped=len(data) - len(use))
