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

`theil`, `gini` and `dagum` take one set of units. `theil_cells`, `gini_cells` and `dagum_cells` compute the
same numbers for every cell (e.g. every year, or every city-year) in one pass of array operations: per-cell sums
are bincounts over integer cell codes, the Gini's cumulative weight shares are segmented cumulative sums after
one sort by (cell, value), and Dagum's pairwise gaps are summed over all within-cell pairs of units at once.
`inequality_by` (per-cell Theil and Gini of a data frame) is built on them.
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


def _check_values(x: np.ndarray, w: np.ndarray, *, what: str) -> None:
    """Raise unless there are observations and every value and weight is finite and non-negative."""
    if len(x) == 0:
        raise ValueError(f"{what}: no observations")
    if not (np.isfinite(x).all() and np.isfinite(w).all()):
        raise ValueError(f"{what}: values and weights must be finite (drop missing rows first and record them)")
    if (x < 0).any() or (w < 0).any():
        raise ValueError(f"{what}: values and weights must be non-negative")


def _prepare(values: ArrayLike, weights: ArrayLike | None, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate values and weights: finite, non-negative, same length, positive total."""
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if x.ndim != 1 or w.shape != x.shape:
        raise ValueError(f"{what}: values and weights must be 1-d of the same length (got {x.shape}, {w.shape})")
    _check_values(x, w, what=what)
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


# ------------------------------------------------------------------------------------ per-cell (vectorised)
# Dagum's pairwise gaps are summed over all within-cell pairs of units, taken in batches of at most this many
# pairs (units in order, each with the units after it in its cell) so that memory stays bounded (~50 MB).
PAIR_BATCH = 1_000_000

CellLabels = ArrayLike | pd.DataFrame


def _codes(labels: ArrayLike, *, what: str, name: str) -> tuple[np.ndarray, pd.Index]:
    """Integer code per row (0.. in sorted label order) and the sorted labels; missing labels are an error."""
    codes, uniques = pd.factorize(pd.Series(labels).reset_index(drop=True), sort=True)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise ValueError(f"{what}: {name} must have one non-missing label per value (row {row} is missing)")
    return codes.astype(np.int64), pd.Index(uniques)


def _cell_codes(cells: CellLabels, *, what: str) -> tuple[np.ndarray, pd.Index]:
    """Cell code per row and the cell labels (a MultiIndex when `cells` is a frame of several key columns)."""
    if not isinstance(cells, pd.DataFrame):
        return _codes(cells, what=what, name="cells")
    if cells.isna().any(axis=None):
        raise ValueError(f"{what}: cell key columns {list(cells.columns)} must not be missing")
    raw = cells.groupby(list(cells.columns), sort=True).ngroup().to_numpy()
    _, first, codes = np.unique(raw, return_index=True, return_inverse=True)
    keys = cells.iloc[first].reset_index(drop=True)
    index = pd.MultiIndex.from_frame(keys) if keys.shape[1] > 1 else pd.Index(keys.iloc[:, 0])
    return codes.astype(np.int64), index


def _prepare_cells(values: ArrayLike, weights: ArrayLike | None, codes: np.ndarray, index: pd.Index, *,
                   what: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate values and weights as `_prepare` does, with a positive total weight and weighted total per cell."""
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if x.ndim != 1 or w.shape != x.shape or codes.shape != x.shape:
        raise ValueError(f"{what}: values, weights and cells must be 1-d of the same length "
                         f"(got {x.shape}, {w.shape}, {codes.shape})")
    _check_values(x, w, what=what)
    k = len(index)
    bad = (np.bincount(codes, w, k) <= 0) | (np.bincount(codes, w * x, k) <= 0)
    if bad.any():
        raise ValueError(f"{what}: the total weight and the weighted total must be positive in every cell "
                         f"(not in cell {index.to_list()[int(np.flatnonzero(bad)[0])]!r})")
    return x, w


def _theil_codes(x: np.ndarray, s: np.ndarray, codes: np.ndarray, k: int, measure: str) -> np.ndarray:
    """Theil L or T per cell of values x with weight shares s (Σ s = 1 within each cell)."""
    mu = np.bincount(codes, s * x, k)
    if measure == "L":
        keep = s > 0
        if (x[keep] <= 0).any():
            raise ValueError("Theil L (mean log deviation) is undefined when a weighted unit has a zero value")
        c = codes[keep]
        return np.bincount(c, s[keep] * np.log(mu[c] / x[keep]), k)
    e = s * x / mu[codes]
    keep = e > 0
    c = codes[keep]
    return np.bincount(c, e[keep] * np.log(x[keep] / mu[c]), k)


def _subcells(codes: np.ndarray, groups: ArrayLike, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Code per row of its (cell, group) pair, pairs sorted by cell then group label, and each pair's cell."""
    gcodes, glabels = _codes(groups, what=what, name="groups")
    if gcodes.shape != codes.shape:
        raise ValueError(f"{what}: groups must have one label per value")
    uniq, pair = np.unique(codes * len(glabels) + gcodes, return_inverse=True)
    return pair.astype(np.int64), uniq // len(glabels)


def theil_cells(values: ArrayLike, *, cells: CellLabels, weights: ArrayLike | None = None,
                groups: ArrayLike | None = None, measure: Literal["L", "T"] = "L") -> pd.DataFrame:
    """`theil` within every cell at once: total, between, within (by `groups`) and n, one row per cell label."""
    if measure not in ("L", "T"):
        raise ValueError(f"measure must be 'L' or 'T', got {measure!r}")
    codes, index = _cell_codes(cells, what="theil_cells")
    x, w = _prepare_cells(values, weights, codes, index, what="theil_cells")
    k = len(index)
    s = w / np.bincount(codes, w, k)[codes]
    total = _theil_codes(x, s, codes, k, measure)
    between, within = np.zeros(k), total
    if groups is not None:
        pair, pair_cell = _subcells(codes, groups, what="theil_cells")
        npair = len(pair_cell)
        mu = np.bincount(codes, s * x, k)[pair_cell]
        sg = np.bincount(pair, s, npair)
        mu_g = np.bincount(pair, s * x, npair) / sg
        t_g = _theil_codes(x, s / sg[pair], pair, npair, measure)
        eg = sg * mu_g / mu
        if measure == "L":
            between_g, within_g = sg * np.log(mu / mu_g), sg * t_g
        else:
            between_g, within_g = eg * np.log(mu_g / mu), eg * t_g
        between, within = np.bincount(pair_cell, between_g, k), np.bincount(pair_cell, within_g, k)
    return pd.DataFrame({"total": total, "between": between, "within": within,
                         "n": np.bincount(codes, minlength=k)}, index=index)


def _gini_codes(x: np.ndarray, w: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Gini per cell, as `gini`: one stable sort by (cell, value), cumulative weight shares within each cell."""
    s = w / np.bincount(codes, w, k)[codes]
    order = np.lexsort((x, codes))            # stable: ties keep their input order, as argsort(kind="stable")
    xs, ss, cs = x[order], s[order], codes[order]
    before = pd.Series(ss).groupby(cs, sort=False).cumsum().to_numpy() - ss
    after = 1.0 - before - ss
    mad = 2.0 * np.bincount(cs, ss * xs * (before - after), k)
    return mad / (2.0 * np.bincount(cs, ss * xs, k))


def gini_cells(values: ArrayLike, *, cells: CellLabels, weights: ArrayLike | None = None) -> pd.Series:
    """`gini` within every cell at once, indexed by the cell labels."""
    codes, index = _cell_codes(cells, what="gini_cells")
    x, w = _prepare_cells(values, weights, codes, index, what="gini_cells")
    return pd.Series(_gini_codes(x, w, codes, len(index)), index=index, name="gini")


def _ramp(length: np.ndarray) -> np.ndarray:
    """0, 1, .., n−1 for each n in `length`, concatenated."""
    return np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)


def _pairs_within(start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i, j), i < j, of the pairs inside each segment [start, start + length)."""
    rows = np.repeat(start, length) + _ramp(length)
    first = rows + 1
    count = np.repeat(start + length, length) - first
    return np.repeat(rows, count), np.repeat(first, count) + _ramp(count)


def _row_batches(cost: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive row ranges [lo, hi) whose summed cost stays within PAIR_BATCH (at least one row each)."""
    cum = np.concatenate([[0], np.cumsum(cost)])
    runs, lo = [], 0
    while lo < len(cost):
        hi = max(lo + 1, int(np.searchsorted(cum, cum[lo] + PAIR_BATCH, side="right")) - 1)
        runs.append((lo, hi))
        lo = hi
    return runs


def dagum_cells(values: ArrayLike, *, cells: CellLabels, groups: ArrayLike,
                weights: ArrayLike | None = None) -> pd.DataFrame:
    """`dagum` within every cell at once: gini, within, net_between, transvariation and n per cell label."""
    codes, index = _cell_codes(cells, what="dagum_cells")
    x, w = _prepare_cells(values, weights, codes, index, what="dagum_cells")
    k = len(index)
    pair, pair_cell = _subcells(codes, groups, what="dagum_cells")     # pair = (cell, group), by cell then label
    npair = len(pair_cell)
    s = w / np.bincount(codes, w, k)[codes]
    mu = np.bincount(codes, s * x, k)
    p_j = np.bincount(pair, s, npair)                          # weight share of each group in its cell
    m_j = np.bincount(pair, s * x, npair) / p_j                # group mean
    s_j = p_j * m_j / mu[pair_cell]                            # value share
    g_j = np.zeros(npair)                                      # within-group Gini (0 for a group of zeros)
    pos = m_j > 0
    if pos.any():
        rows = pos[pair]
        sub, sub_code = np.unique(pair[rows], return_inverse=True)
        g_j[sub] = _gini_codes(x[rows], w[rows], sub_code.astype(np.int64), len(sub))
    within = np.bincount(pair_cell, g_j * p_j * s_j, k)

    # gap[j, h] = Σ_{i ∈ j, r ∈ h} a_i a_r max(x_i − x_r, 0), a = w / (group total weight): a K_c × K_c block
    # per cell (K_c its number of groups), flattened; d_jh = gap[j, h] and p_jh = gap[h, j].
    n_c = np.bincount(codes, minlength=k)
    k_c = np.bincount(pair_cell, minlength=k)
    first_pair = np.cumsum(k_c) - k_c
    block = np.cumsum(k_c ** 2) - k_c ** 2
    # Units sorted by (cell, value): for positions u < v of one cell x_u ≤ x_v, so each unordered pair adds
    # a_u a_v (x_v − x_u) to gap[group of v, group of u] and nothing to the reverse (half the pairs, no clip).
    order = np.lexsort((x, codes))
    xo, po = x[order], pair[order]
    ao = (w / np.bincount(pair, w, npair)[pair])[order]
    unit_cell = pair_cell[po]
    local = po - first_pair[unit_cell]                         # the unit's group within its cell
    partners = np.cumsum(n_c)[unit_cell] - np.arange(1, len(x) + 1)     # units after it in its cell
    gap = np.zeros(int((k_c ** 2).sum()))
    for lo, hi in _row_batches(partners):
        u = np.repeat(np.arange(lo, hi), partners[lo:hi])
        v = u + 1 + _ramp(partners[lo:hi])
        cell = unit_cell[u]
        slot = block[cell] + local[v] * k_c[cell] + local[u]
        gap += np.bincount(slot, ao[u] * ao[v] * (xo[v] - xo[u]), len(gap))

    # group pairs a < b within each cell; j is the richer group (the earlier label on a tie), h the other
    a, b = _pairs_within(first_pair, k_c)
    j = np.where(m_j[a] >= m_j[b], a, b)
    h = a + b - j
    cell = pair_cell[a]
    lj, lh = j - first_pair[cell], h - first_pair[cell]
    d_jh = gap[block[cell] + lj * k_c[cell] + lh]
    p_jh = gap[block[cell] + lh * k_c[cell] + lj]
    g_jh = (d_jh + p_jh) / (m_j[j] + m_j[h])
    big_d = np.divide(d_jh - p_jh, d_jh + p_jh, out=np.zeros_like(d_jh), where=d_jh + p_jh > 0)
    cross = p_j[j] * s_j[h] + p_j[h] * s_j[j]
    return pd.DataFrame({"gini": _gini_codes(x, w, codes, k), "within": within,
                         "net_between": np.bincount(cell, g_jh * cross * big_d, k),
                         "transvariation": np.bincount(cell, g_jh * cross * (1 - big_d), k),
                         "n": n_c}, index=index)


def inequality_by(data: pd.DataFrame, *, value: str, by: str | Sequence[str], weight: str | None = None,
                  group: str | None = None, measure: Literal["L", "T"] = "L") -> pd.DataFrame:
    """Theil (with between/within by `group`) and Gini of `value` for each `by` cell (e.g. per year).

    Rows with a missing or non-positive value or weight are left out and counted in `n_dropped`; rows with a
    missing `by` key belong to no cell. Cells with fewer than two usable rows get NaN measures.
    """
    keys = [by] if isinstance(by, str) else list(by)
    cols = [value] + ([weight] if weight else []) + ([group] if group else [])
    missing = [c for c in keys + cols if c not in data]
    if missing:
        raise KeyError(f"inequality_by: columns {missing} not in the data")
    out_cols = [*keys, "n", "n_dropped", "theil", "theil_between", "theil_within", "gini"]
    raw = data.groupby(keys, sort=True).ngroup().to_numpy()       # NaN for a row with a missing key
    in_cell = ~np.isnan(raw) if raw.dtype.kind == "f" else np.ones(len(raw), dtype=bool)
    rows = data[in_cell]
    if rows.empty:
        return pd.DataFrame(columns=out_cols)
    _, first, codes = np.unique(raw[in_cell], return_index=True, return_inverse=True)
    k = len(first)
    ok = rows[cols].notna().all(axis=1).to_numpy() & (rows[value] > 0).to_numpy()
    if weight:
        ok &= (rows[weight] > 0).to_numpy()
    n = np.bincount(codes[ok], minlength=k)
    # key values as Python scalars, so the key columns get the dtypes a frame of records infers (int → int64)
    out = pd.DataFrame({key: rows[key].to_numpy()[first].tolist() for key in keys})
    out["n"], out["n_dropped"] = n, np.bincount(codes, minlength=k) - n
    for col in out_cols[len(keys) + 2:]:
        out[col] = np.nan
    use = ok & (n[codes] >= 2)
    if use.any():
        sub = rows[use]
        cell = codes[use]
        w = sub[weight] if weight else None
        t = theil_cells(sub[value], cells=cell, weights=w, groups=sub[group] if group else None, measure=measure)
        done = t.index.to_numpy()
        out.loc[done, "theil"], out.loc[done, "theil_between"] = t["total"].to_numpy(), t["between"].to_numpy()
        out.loc[done, "theil_within"] = t["within"].to_numpy()
        out.loc[done, "gini"] = gini_cells(sub[value], cells=cell, weights=w).to_numpy()
    return out
