"""Green productivity by data envelopment analysis: directional distance, Luenberger, SBM, Malmquist bias.

Definitions follow Stata `teddf` / `gtfpch` (Wang, Du and Zhang 2022, Stata Journal 22(1)); docs/productivity.md
states every linear program. In short, for an evaluated point o = (x, y, b) and a reference set of observations:

- Technology: Σλ x ≤ x (inputs), Σλ y ≥ y (good outputs), Σλ b = b under weak disposability of the bad
  outputs (Färe et al. 1989) or Σλ b ≤ b under "strong" (the bad output treated like an input, as in Tone
  2003's SBM); λ ≥ 0, plus Σλ = 1 under variable returns to scale.
- Direction: `direction` maps each variable to the multiplier of its observed value, g_k = d_k v_ok
  ({"K": -1, "L": -1, "Y": 1, "CO2": -1} is g = (−K, −L, Y, −CO2)); a variable with multiplier 0 is held fixed.
- `measure="radial"`: D = max β with the point moved to v_o + β g (β free, so an observation outside a
  frontier of another period scores below 0). `measure="nonradial"`: D = max Σ_k w_k β_k, β_k ≥ 0, each
  variable moved by its own β_k g_k. With the default weights (each of inputs, good and bad outputs 1/3,
  split equally within the group) and g = observed values this is Fukuyama & Weber's (2009) slacks-based
  inefficiency (SBI), the measure seed 001 uses. D = 0 means efficient.
- `frontier="contemporaneous"`: each year's observations span that year's frontier; `"global"`: all years'.

Each LP family (one reference set, returns to scale, disposability, measure, direction) is built once in HiGHS
(highspy) and every distance is solved once (`_Frontiers` memoises D^t(t), D^G(t)). A point is settled, in
this order, by (1) an optimal basis found for an earlier point, when it is primal and dual feasible for this
one over the whole reference set (vectorised over all points waiting), (2) a Farkas ray of an earlier point
that proves this one infeasible, (3) HiGHS on the LP restricted to the λ columns that have entered so far,
with pricing against the whole reference set (column generation), (4) the LP over the whole reference set,
where (3) cannot decide. Each step is exact (`_DDFamily` says why); docs/productivity.md has the timings.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:        # highspy is imported where an LP is built: the definitions must load light
    import highspy

Rts = Literal["crs", "vrs"]
Disposability = Literal["weak", "strong"]
Measure = Literal["radial", "nonradial"]
Frontier = Literal["contemporaneous", "global"]
INF = float("inf")


# ---------------------------------------------------------------------------------------------- data
@dataclass(kw_only=True)
class _Panel:
    """The estimation frame as arrays: one row per (unit, time), columns inputs + good + bad."""

    frame: pd.DataFrame              # unit, time, and the variables, sorted, complete rows only
    variables: list[str]
    kinds: list[str]                 # "in" | "good" | "bad" per variable
    dropped: list[dict]

    @property
    def values(self) -> np.ndarray:
        """The variables as a float matrix (rows as in `frame`)."""
        return self.frame[self.variables].to_numpy(dtype=float)


def _panel(data: pd.DataFrame, *, inputs: Sequence[str], good: Sequence[str], bad: Sequence[str], unit: str,
           time: str, positive: bool = False) -> _Panel:
    """Check the columns, drop (and count) incomplete or negative rows, and refuse duplicated unit-times."""
    variables = [*inputs, *good, *bad]
    if not inputs or not good:
        raise ValueError("DEA needs at least one input and one good output")
    missing = [c for c in [unit, time, *variables] if c not in data]
    if missing:
        raise KeyError(f"columns {missing} are not in the data")
    frame = data[[unit, time, *variables]].copy()
    frame[variables] = frame[variables].apply(pd.to_numeric, errors="coerce")
    dropped = []
    incomplete = frame[variables].isna().any(axis=1) | frame[[unit, time]].isna().any(axis=1)
    dropped.append({"reason": "missing input or output", "rows": int(incomplete.sum())})
    frame = frame[~incomplete]
    bad_sign = (frame[variables] <= 0).any(axis=1) if positive else (frame[variables] < 0).any(axis=1)
    dropped.append({"reason": "non-positive value" if positive else "negative value", "rows": int(bad_sign.sum())})
    frame = frame[~bad_sign].sort_values([time, unit], kind="stable").reset_index(drop=True)
    dup = frame.duplicated([unit, time])
    if dup.any():
        raise ValueError(f"DEA: {int(dup.sum())} duplicated ({unit}, {time}) rows, e.g. "
                         f"{frame.loc[dup, [unit, time]].iloc[0].tolist()}")
    kinds = ["in"] * len(inputs) + ["good"] * len(good) + ["bad"] * len(bad)
    return _Panel(frame=frame, variables=variables, kinds=kinds, dropped=[d for d in dropped if d["rows"]])


def _direction(panel: _Panel, direction: Mapping[str, float]) -> np.ndarray:
    """Multipliers d_k per variable (g_k = d_k v_k); every variable must be named."""
    missing = [v for v in panel.variables if v not in direction]
    extra = [v for v in direction if v not in panel.variables]
    if missing or extra:
        raise ValueError(f"direction must name exactly the variables {panel.variables}; missing {missing}, "
                         f"unknown {extra}")
    d = np.array([float(direction[v]) for v in panel.variables])
    for v, k, dk in zip(panel.variables, panel.kinds, d, strict=True):
        if (k in ("in", "bad") and dk > 0) or (k == "good" and dk < 0):
            raise ValueError(f"direction of {v} ({k}) has the wrong sign: {dk}")
    if not (d != 0).any():
        raise ValueError("direction is zero for every variable")
    return d


def _weights(panel: _Panel, weights: Mapping[str, float] | None, measure: str) -> np.ndarray:
    """Non-radial weights: the given ones, or 1/(number of groups) split equally within each group."""
    if measure == "radial":
        if weights is not None:
            raise ValueError("weights apply to measure='nonradial' only")
        return np.ones(len(panel.variables))
    if weights is not None:
        missing = [v for v in panel.variables if v not in weights]
        if missing:
            raise ValueError(f"weights must name every variable; missing {missing}")
        return np.array([float(weights[v]) for v in panel.variables])
    groups = sorted(set(panel.kinds))
    counts = {k: panel.kinds.count(k) for k in groups}
    return np.array([1.0 / len(groups) / counts[k] for k in panel.kinds])


def _scale(values: np.ndarray) -> np.ndarray:
    """Column means (1 where a column is all zero), to put every variable on a unit scale."""
    m = values.mean(axis=0) if len(values) else np.ones(values.shape[1])
    return np.where(m > 0, m, 1.0)


def _tidy(panel: _Panel, unit: str, time: str, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Unit, time and value columns, with the dropped-row accounting in `attrs`."""
    out = panel.frame[[unit, time]].copy()
    for name, values in columns.items():
        out[name] = values
    out.attrs["dropped"] = panel.dropped
    return out


# ---------------------------------------------------------------------------------------------- LP families
def _new_highs() -> highspy.Highs:
    """A silent HiGHS model for small LPs re-solved many times from a warm basis."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")       # tiny LPs re-solved from a warm basis: presolve only costs
    # One LP at a time: with HiGHS's thread pool (threads = 0 on 2 cores) a warm re-solve costs ~3x as much.
    h.setOptionValue("threads", _THREADS[0])
    return h


_THREADS = [1]


def _hull_vertices(ref: np.ndarray) -> np.ndarray:
    """Rows of the reference set that are vertices of its convex hull (all rows if Qhull cannot build it).

    Why dropping the other rows leaves every LP of the family unchanged: a row a_j inside the hull is a convex
    combination Σ μ_v a_v of vertices (μ ≥ 0, Σ μ = 1), so λ_j a_j can be replaced by Σ λ_j μ_v a_v with
    exactly the same row activities Σλ v_k and the same Σλ (VRS): the set of reachable (activities, β) is
    the same, whatever the measure, disposability or direction, hence the same optimum or infeasibility.
    The hull of 4,731 sample observations in 4 variables has ~120 vertices.
    """
    from scipy.spatial import ConvexHull, QhullError

    n, k = ref.shape
    if n <= k + 1:
        return np.arange(n)
    try:
        # no joggle ("QJ"): vertices must be rows of the data as given
        return np.sort(ConvexHull(ref).vertices)
    except QhullError:      # flat data (a constant or collinear variable): keep every row
        return np.arange(n)


def _run(h: highspy.Highs) -> None:
    """h.run(); if this thread's HiGHS scheduler was started with another thread count, use that one from now on."""
    import highspy

    if h.run() == highspy.HighsStatus.kError and h.getModelStatus() == highspy.HighsModelStatus.kNotset \
            and h.getOptionValue("threads") != 0:
        # HiGHS fixes the thread count of a thread's scheduler at its first run; 0 accepts the existing one
        _THREADS[0] = 0
        h.setOptionValue("threads", 0)
        h.run()


# Column generation: a left-out λ column enters when its reduced cost (or its term in a Farkas certificate) is
# beyond this, relative to the size of the dual vector; columns entering per pricing round.
PRICING_TOL = 1e-9
ENTER_PER_ROUND = 8
RAY_CLEAN = 1e-12       # relative size below which an entry of a dual ray (or a_j·r) is rounding noise
# Reference sets from this size on are cut to their convex hull's vertices: pricing is O(rows) per point, and
# below it importing Qhull (0.4 s) costs more than it saves (0.1 s at 4,731 rows; 4 s at 21,280).
HULL_MIN_ROWS = 8000


@dataclass(kw_only=True)
class _Basis:
    """A simplex basis of an LP family, prepared for testing many points at once (see `_DDFamily._certify`).

    Positions of B are the basic variables (λ of reference rows, z columns, row activities); the index arrays
    point into the per-point tables of `_Points`.
    """

    inv: np.ndarray               # B⁻¹
    primal: np.ndarray            # x_B = rhs @ primal (B⁻¹ applied to the bounds of the non-basic row activities)
    lb: np.ndarray                # bound-table columns of each basic variable's lower / upper bound
    ub: np.ndarray
    cost: np.ndarray              # cost-table column of each basic variable (0 for λ and rows)
    pick: np.ndarray              # y @ pick: the y-part of the reduced costs of the non-basic z and rows
    dcost: np.ndarray             # cost-table column of each of those (their own cost)
    dlb: np.ndarray               # dual-bound-table columns of their reduced cost's lower / upper bound
    dub: np.ndarray


@dataclass(kw_only=True)
class _Points:
    """The points being solved, as tables the basis test gathers from."""

    rhs: np.ndarray               # row bound values per point: the point's values (and 1 in the VRS row)
    bounds: np.ndarray            # columns 0, +inf, z lower, z upper, row lower, row upper (see _DDFamily._points)
    cost: np.ndarray              # columns 0, z costs
    dual_bounds: np.ndarray       # columns −inf, +inf, 0, lower and upper bound of each z's reduced cost
    tol: np.ndarray               # primal tolerance per point


class _DDFamily:
    """One directional-distance LP family (reference set, RTS, disposability, measure, direction) in HiGHS.

    The LP of a point o is: max Σ w_k β_k (radial: one β) over λ ≥ 0 (Σλ = 1 under VRS) with, per variable k,
    Σ_r λ_r v_rk − β_k g_k  (≤ | ≥ | =)  v_ok and g_k = d_k v_ok. It is written with z_k = β_k g_k, so that the
    coefficient of z_k is a constant −1 and a new point changes only row bounds, the costs −w_k/g_k and the
    bounds of z (sign of g_k; z_k = 0 when g_k = 0): HiGHS keeps its factorisation and re-solves from the
    previous basis in a few iterations. A radial β moving several variables keeps per-point coefficients.

    Why the model holds only some λ columns (`fast=True`, delayed column generation): the LP over a subset
    S of the reference set is the full LP with λ_j = 0 forced for j ∉ S. (a) If it is optimal with row duals y,
    (y, the same column duals) is dual feasible for the full LP as soon as every left-out column has a
    non-negative reduced cost c_j − a_j·y = −a_j·y (λ has cost 0), and then the two LPs have the same optimum by
    weak duality; otherwise the most violating columns enter and the LP is re-solved. (b) If it is infeasible,
    HiGHS's dual ray r certifies it (sup over the column box of rᵀAx < inf over the row box of rᵀ(row)); the
    certificate holds for the full LP iff no left-out λ column has a_j·r > 0, else those enter. (c) Unbounded
    over S means unbounded over the full set (a larger feasible set). Each round adds at least one column, so
    this ends with the full LP's optimum, infeasibility or unboundedness; anything else (no ray, an unclear
    certificate, a solver failure) is settled by the LP over the whole reference set. Only the frontier's
    supporting observations ever enter, so the LPs stay small (tens of columns instead of up to n·T). In
    advance, a large reference set is cut only to its convex hull's vertices (`_hull_vertices`: exact for every
    measure, disposability and direction, and one Qhull call); cutting it to "efficient" observations would
    need one LP per observation and a definition of efficiency right for each measure and disposability (with
    Σλb = b the technology is not free-disposable in b), while column generation certifies each point.

    Why a basis found for one point settles others (`_certify`): a point changes only row bounds, z costs and z
    bounds, so every basis of the family is a candidate for every point; when x_B = B⁻¹b is within bounds and
    all reduced costs (every λ of the whole reference set included) have the right sign, it is optimal for the
    full LP by the simplex optimality conditions. Likewise a Farkas ray with a_j·r ≤ 0 for all λ columns
    proves infeasibility for any point whose bounds satisfy its inequality (`_refute`). Points no basis or ray
    settles go to HiGHS; its optimal basis and its rays then serve the points after it.
    """

    def __init__(self, ref: np.ndarray, kinds: Sequence[str], *, rts: Rts, bad_disposability: Disposability,
                 measure: Measure, weights: np.ndarray, d: np.ndarray, fast: bool = True) -> None:
        """Set up the rows and the β (z) columns; λ columns enter on demand (all at once, no re-use, if not `fast`)."""
        import highspy

        if fast and len(ref) >= HULL_MIN_ROWS:
            ref = ref[_hull_vertices(ref)]
        self.n, self.k = ref.shape
        self.vrs, self.measure, self.d, self.w = rts == "vrs", measure, np.asarray(d, float), np.asarray(weights, float)
        self.m = self.k + self.vrs
        self.args = dict(kinds=list(kinds), rts=rts, bad_disposability=bad_disposability, measure=measure,
                         weights=self.w, d=self.d)
        self.ref = ref
        # coefficients of each λ column: its values, and 1 in the Σλ = 1 row under VRS
        self.cols = np.column_stack([ref, np.ones(self.n)]) if self.vrs else np.ascontiguousarray(ref, dtype=float)
        self.cols_t = np.ascontiguousarray(self.cols.T)
        # Row senses: inputs (and strongly disposable bads) ≤ v, good outputs ≥ v, weakly disposable bads = v.
        self.lower_open = np.array([k == "in" or (k == "bad" and bad_disposability == "strong") for k in kinds])
        self.upper_open = np.array([k == "good" for k in kinds])
        # the row activity has an upper bound v (≤ or =) / a lower bound v (≥ or =); the VRS row is = 1
        self.row_le = np.append(~self.upper_open, np.ones(int(self.vrs), dtype=bool))
        self.row_ge = np.append(~self.lower_open, np.ones(int(self.vrs), dtype=bool))
        self.rows = np.arange(self.k, dtype=np.int32)
        moving = np.flatnonzero(self.d != 0)
        # z columns: one per variable (non-radial), or the one moving variable's (radial); None: generic radial β
        self.zrows = self.rows if measure == "nonradial" else (moving.astype(np.int32) if len(moving) == 1 else None)
        self.h = h = _new_highs()
        h.addRows(self.m, np.full(self.m, -INF), np.full(self.m, INF), 0, np.array([], np.int32),
                  np.array([], np.int32), np.array([], float))
        if self.vrs:
            h.changeRowBounds(self.k, 1.0, 1.0)
        if self.zrows is not None:
            nz = len(self.zrows)
            h.addCols(nz, np.zeros(nz), np.zeros(nz), np.zeros(nz), nz, np.arange(nz, dtype=np.int32), self.zrows,
                      -np.ones(nz))
        else:       # β free with cost −1 (maximise); its coefficients −g_k are set per point
            h.addCols(1, np.array([-1.0]), np.array([-INF]), np.array([INF]), self.k, np.array([0], np.int32),
                      self.rows, np.ones(self.k))
        self.nz = h.getNumCol()
        self.zcols = np.arange(self.nz, dtype=np.int32)
        self.active = np.zeros(self.n, dtype=bool)
        self.col_ref = np.zeros(0, dtype=np.int64)      # reference observation of each λ column, in model order
        self.pool: list[_Basis] = []
        self.pool_keys: set[tuple] = set()
        self.status = highspy.HighsModelStatus
        self.full: _DDFamily | None = None
        self.now: tuple[np.ndarray, ...] = ()      # bounds of the point being solved: rows, z, and its g
        self.rays: list[np.ndarray] = []           # Farkas rays valid for the whole reference set
        self.last_ray: np.ndarray | None = None
        self.fast = fast
        if not fast:
            self._enter(np.arange(self.n))

    def _enter(self, idx: np.ndarray) -> None:
        """Add the reference observations `idx` as λ columns."""
        cnt = len(idx)
        self.h.addCols(cnt, np.zeros(cnt), np.zeros(cnt), np.full(cnt, INF), cnt * self.m,
                       (np.arange(cnt) * self.m).astype(np.int32), np.tile(np.arange(self.m, dtype=np.int32), cnt),
                       self.cols[idx].ravel())
        self.active[idx] = True
        self.col_ref = np.append(self.col_ref, idx)

    def _price(self, y: np.ndarray) -> np.ndarray:
        """a_j·y for every reference column j (y one vector or one per row of a matrix)."""
        # einsum, not BLAS: a threaded OpenBLAS gemm on these thin products costs 10x more on a busy machine
        return np.einsum("...m,mn->...n", y, self.cols_t)

    def _entering(self, score: np.ndarray, scale: float) -> np.ndarray:
        """Left-out columns whose score (a_j·y or a_j·r) is positive beyond the tolerance, the largest first."""
        score = np.where(self.active, -INF, score)
        cand = np.flatnonzero(score > PRICING_TOL * max(1.0, scale))
        if len(cand) > ENTER_PER_ROUND:
            cand = cand[np.argpartition(-score[cand], ENTER_PER_ROUND)[:ENTER_PER_ROUND]]
        return cand

    def solve(self, points: np.ndarray) -> np.ndarray:
        """D of each point (rows of `points`); NaN when the point cannot reach this frontier (or it is unbounded)."""
        h, k = self.h, self.k
        pts = np.asarray(points, dtype=float)
        g = self.d * pts
        lower = np.where(self.lower_open, -INF, pts)
        upper = np.where(self.upper_open, INF, pts)
        out = np.full(len(pts), np.nan)
        todo = np.ones(len(pts), dtype=bool)
        # the bounds of every row activity, with Σλ = 1 under VRS (for the infeasibility certificate)
        row_lo = np.column_stack([lower, np.ones(len(pts))]) if self.vrs else lower
        row_hi = np.column_stack([upper, np.ones(len(pts))]) if self.vrs else upper
        if self.zrows is not None:
            gz = g[:, self.zrows]
            w = self.w[self.zrows] if self.measure == "nonradial" else np.ones(1)
            cost = -np.divide(w, gz, out=np.zeros_like(gz), where=gz != 0)
            if self.measure == "nonradial":        # β_k ≥ 0: z_k has the sign of g_k
                zlo, zhi = np.where(gz < 0, -INF, 0.0), np.where(gz > 0, INF, 0.0)
            else:                                  # β free; with g = 0 the β column is empty: unbounded or infeasible
                zlo, zhi = np.where(gz != 0, -INF, 0.0), np.where(gz != 0, INF, 0.0)
                todo &= (gz != 0).any(axis=1)
        reuse = self.fast and self.zrows is not None
        if reuse:
            ctx = self._points(np.column_stack([pts, np.ones(len(pts))]) if self.vrs else pts, cost, gz)
            for ray in self.rays:
                if not todo.any():
                    break
                self._refute(ray, row_lo, row_hi, zlo, zhi, todo)
            hits = []
            for j, basis in enumerate(self.pool):
                if not todo.any():
                    break
                if self._certify(basis, ctx, todo, out):
                    hits.append(j)
            # bases that served this batch are tried first next time (points of a frontier share few facets)
            self.pool = [self.pool[j] for j in hits] + [b for j, b in enumerate(self.pool) if j not in set(hits)]
        for i in np.flatnonzero(todo):
            if not todo[i]:           # certified by a basis found since the loop started
                continue
            h.changeRowsBounds(k, self.rows, lower[i], upper[i])
            if self.zrows is not None:
                h.changeColsCost(self.nz, self.zcols, cost[i])
                h.changeColsBounds(self.nz, self.zcols, zlo[i], zhi[i])
                self.now = (row_lo[i], row_hi[i], zlo[i], zhi[i], g[i])
            else:
                for r in range(k):
                    h.changeCoeff(r, 0, float(-g[i, r]))
                self.now = (row_lo[i], row_hi[i], np.array([-INF]), np.array([INF]), g[i])
            self.last_ray = None
            out[i] = self._run(pts[i]) if self.fast else self._run_full(pts[i])
            todo[i] = False
            if reuse and self.last_ray is not None and todo.any():
                self.rays.append(self.last_ray)
                self._refute(self.last_ray, row_lo, row_hi, zlo, zhi, todo)
            if reuse and np.isfinite(out[i]) and todo.any():
                basis = self._basis()
                if basis is not None:
                    self.pool.append(basis)
                    self._certify(basis, ctx, todo, out)
        return out

    def _points(self, rhs: np.ndarray, cost: np.ndarray, gz: np.ndarray) -> _Points:
        """Bound, cost and dual-bound tables of the points (z_q ≥ 0 if g_q > 0, ≤ 0 if < 0, = 0 if 0; radial: free)."""
        u = len(rhs)
        s = np.sign(gz) if self.measure == "nonradial" else np.full(gz.shape, np.nan)
        zlo = np.where(s < 0, -INF, np.where(np.isnan(s), -INF, 0.0))
        zhi = np.where(s > 0, INF, np.where(np.isnan(s), INF, 0.0))
        # reduced cost of a non-basic z at 0: ≥ 0 at its lower bound, ≤ 0 at its upper bound, free if fixed, 0 if free
        dlo = np.where(s > 0, 0.0, np.where(np.isnan(s), 0.0, -INF))
        dhi = np.where(s < 0, 0.0, np.where(np.isnan(s), 0.0, INF))
        row_lo = np.where(self.row_ge, rhs, -INF)
        row_hi = np.where(self.row_le, rhs, INF)
        bounds = np.column_stack([np.zeros(u), np.full(u, INF), zlo, zhi, row_lo, row_hi])
        dual = np.column_stack([np.full(u, -INF), np.full(u, INF), np.zeros(u), dlo, dhi])
        return _Points(rhs=rhs, bounds=bounds, cost=np.column_stack([np.zeros(u), cost]), dual_bounds=dual,
                       tol=PRICING_TOL * np.maximum(1.0, np.abs(rhs).max(axis=1)))

    def _basis(self) -> _Basis | None:
        """The optimal basis HiGHS just found, in terms of reference observations, z columns and rows."""
        basic = np.sort(self.h.getBasicVariables()[1])     # column j ≥ 0, row i as −(i + 1)
        lam = self.col_ref[basic[basic >= self.nz] - self.nz]
        z = basic[(basic >= 0) & (basic < self.nz)]
        rows = -1 - basic[basic < 0][::-1]
        key = (lam.tobytes(), z.tobytes(), rows.tobytes())
        if key in self.pool_keys or len(lam) + len(z) + len(rows) != self.m:
            return None
        self.pool_keys.add(key)
        m, nz, nl = self.m, self.nz, len(lam)
        mat = np.zeros((m, m))
        mat[:, :nl] = self.cols[lam].T
        mat[self.zrows[z], nl + np.arange(len(z))] = -1.0
        mat[rows, nl + len(z) + np.arange(len(rows))] = -1.0
        try:
            inv = np.linalg.inv(mat)
        except np.linalg.LinAlgError:
            return None
        if np.abs(mat).sum(0).max() * np.abs(inv).sum(0).max() > 1e10:     # ill-conditioned: leave it to HiGHS
            return None
        nonbasic_row = np.ones(m, dtype=bool)
        nonbasic_row[rows] = False
        nonbasic_z = np.setdiff1d(np.arange(nz), z)
        nb_rows = np.flatnonzero(nonbasic_row)
        # bound-table columns: 0 → 0, 1 → +inf, 2 + q → z_q lower, 2 + nz + q → upper, 2 + 2nz + i → row i lower, …
        lb = np.concatenate([np.zeros(nl, int), 2 + z, 2 + 2 * nz + rows])
        ub = np.concatenate([np.ones(nl, int), 2 + nz + z, 2 + 2 * nz + m + rows])
        pick = np.zeros((m, len(nonbasic_z) + len(nb_rows)))
        pick[self.zrows[nonbasic_z], np.arange(len(nonbasic_z))] = 1.0       # z_q (column −e): c_q + y_row
        pick[nb_rows, len(nonbasic_z) + np.arange(len(nb_rows))] = 1.0       # row activity (column −e): y_i
        # a non-basic row activity sits at its bound v: reduced cost ≤ 0 at an upper bound, ≥ 0 at a lower one
        at_upper = (self.row_le & ~self.row_ge)[nb_rows]
        at_lower = (self.row_ge & ~self.row_le)[nb_rows]
        return _Basis(inv=inv, primal=nonbasic_row[:, None] * inv.T,
                      lb=lb, ub=ub, cost=np.concatenate([np.zeros(nl, int), 1 + z, np.zeros(len(rows), int)]),
                      pick=pick, dcost=np.concatenate([1 + nonbasic_z, np.zeros(len(nb_rows), int)]),
                      dlb=np.concatenate([3 + nonbasic_z, np.where(at_lower, 2, 0)]),
                      dub=np.concatenate([3 + nz + nonbasic_z, np.where(at_upper, 2, 1)]))

    def _certify(self, basis: _Basis, ctx: _Points, todo: np.ndarray, out: np.ndarray) -> bool:
        """Settle the points for which `basis` is optimal over the whole reference set; whether any was.

        Simplex optimality: x_B = B⁻¹ b within the bounds of the basic variables, and with yᵀ = c_Bᵀ B⁻¹ every
        non-basic variable's reduced cost c_j − a_jᵀy has the sign its bound allows; for every λ_j of the whole
        reference set that is −a_j·y ≥ 0. The point's D is then −c_Bᵀ x_B, the full LP's optimum.
        """
        idx = np.flatnonzero(todo)
        tol = ctx.tol[idx, None]
        x = ctx.rhs[idx] @ basis.primal
        bounds = ctx.bounds[idx]
        ok = ((x >= bounds[:, basis.lb] - tol) & (x <= bounds[:, basis.ub] + tol)).all(axis=1)
        if not ok.any():
            return False
        idx, x = idx[ok], x[ok]
        cost = ctx.cost[idx]
        cb = cost[:, basis.cost]
        y = cb @ basis.inv
        dtol = PRICING_TOL * np.maximum(1.0, np.abs(y).max(axis=1))[:, None]
        d = y @ basis.pick + cost[:, basis.dcost]
        dual = ctx.dual_bounds[idx]
        ok = ((d >= dual[:, basis.dlb] - dtol) & (d <= dual[:, basis.dub] + dtol)).all(axis=1)
        if ok.any():
            sub = np.flatnonzero(ok)
            ok[sub] = self._price(y[sub]).max(axis=1) <= dtol[sub, 0]
        if not ok.any():
            return False
        done = idx[ok]
        out[done] = -(cb[ok] * x[ok]).sum(axis=1)
        todo[done] = False
        return True

    def _run_full(self, point: np.ndarray) -> float:
        """Solve the LP over the whole reference set."""
        h = self.h
        _run(h)
        status = h.getModelStatus()
        if status not in (self.status.kOptimal, self.status.kInfeasible):
            h.clearSolver()       # a warm basis can stall on a hard point: retry once from scratch
            _run(h)
            status = h.getModelStatus()
        if status == self.status.kOptimal:
            return -h.getObjectiveValue()
        if status in (self.status.kInfeasible, self.status.kUnboundedOrInfeasible, self.status.kUnbounded):
            h.clearSolver()       # drop the failed basis before the next point
            return float("nan")
        raise RuntimeError(f"HiGHS returned {status} for point {point.tolist()}")

    def _run(self, point: np.ndarray) -> float:
        """Column generation for the point whose bounds and costs are set (see the class docstring)."""
        h, s = self.h, self.status
        retried = False
        while True:
            _run(h)
            status = h.getModelStatus()
            if status == s.kOptimal:
                y = np.asarray(h.getSolution().row_dual)
                enter = self._entering(self._price(y), float(np.abs(y).max(initial=0.0)))
                if not len(enter):
                    return -h.getObjectiveValue()
            elif status == s.kInfeasible:
                ray = self._farkas()
                if ray is None:
                    return self._settle(point)
                enter = self._entering(self._price(ray), float(np.abs(ray).max()))
                if not len(enter):
                    self.last_ray = ray     # it certifies infeasibility over the whole reference set
                    return float("nan")
            elif status == s.kUnbounded:
                return float("nan")
            elif status == s.kUnboundedOrInfeasible or retried:
                return self._settle(point)
            else:
                h.clearSolver()   # a warm basis can stall on a hard point: retry once from scratch
                retried = True
                continue
            self._enter(enter)

    def _farkas(self) -> np.ndarray | None:
        """HiGHS's dual ray, oriented and checked as a certificate that the LP over the active columns is infeasible.

        With row multipliers r: every x in the column box has rᵀAx ≤ Σ_j sup(a_j·r x_j), every admissible row
        activity has rᵀ(row) ≥ Σ_i (r_i > 0 ? r_i L_i : r_i U_i); infeasible when the first is below the second.
        """
        _, has_ray, ray = self.h.getDualRay()
        if not has_ray:
            return None
        row_lo, row_hi, z_lo, z_hi, g = self.now
        col_lo = np.concatenate([z_lo, np.zeros(len(self.col_ref))])
        col_hi = np.concatenate([z_hi, np.full(len(self.col_ref), INF)])
        lam = self.cols[self.col_ref]
        ray = np.asarray(ray, dtype=float)
        size = np.abs(ray).max(initial=0.0)
        # rounding leaves ±1e-16-sized entries where the ray is 0; one of them against an infinite bound would
        # void the certificate, so entries below 1e-12 of the largest count as 0 (HiGHS's tolerances are 1e-7)
        ray = np.where(np.abs(ray) > RAY_CLEAN * size, ray, 0.0)
        for r in (ray, -ray):
            # a_j·r for every column of the model: z (−e_k, or the radial β's −g), then the active λ
            z = -r[self.zrows] if self.zrows is not None else np.array([-(g @ r[:self.k])])
            coef = np.concatenate([z, lam @ r])
            coef[np.abs(coef) <= RAY_CLEAN * size * max(1.0, float(np.abs(lam).max(initial=0.0)))] = 0.0
            with np.errstate(invalid="ignore"):
                sup = np.where(coef > 0, coef * col_hi, np.where(coef < 0, coef * col_lo, 0.0)).sum()
                low = np.where(r > 0, r * row_lo, np.where(r < 0, r * row_hi, 0.0)).sum()
            if np.isfinite(low) and sup < low - PRICING_TOL * max(1.0, abs(low)):
                return r
        return None

    def _refute(self, ray: np.ndarray, row_lo: np.ndarray, row_hi: np.ndarray, z_lo: np.ndarray, z_hi: np.ndarray,
                todo: np.ndarray) -> None:
        """Mark the points (left NaN) whose LP the ray proves infeasible over the whole reference set.

        The ray has a_j·r ≤ 0 for every λ column of the reference set (checked when it was found); what depends on
        the point is the z columns' box (the sign of g) and the row bounds (its values): see `_farkas`.
        """
        idx = np.flatnonzero(todo)
        coef = -ray[self.zrows]
        with np.errstate(invalid="ignore"):
            sup = np.where(coef > 0, coef * z_hi[idx], np.where(coef < 0, coef * z_lo[idx], 0.0)).sum(axis=1)
            low = np.where(ray > 0, ray * row_lo[idx], np.where(ray < 0, ray * row_hi[idx], 0.0)).sum(axis=1)
        proved = np.isfinite(low) & (sup < low - PRICING_TOL * np.maximum(1.0, np.abs(low)))
        todo[idx[proved]] = False

    def _settle(self, point: np.ndarray) -> float:
        """The point's value from the LP over the whole reference set (the rare cases pricing cannot decide)."""
        if self.full is None:
            self.full = _DDFamily(self.ref, fast=False, **self.args)
        return float(self.full.solve(point[None, :])[0])


class _Frontiers:
    """Lazily built LP families keyed by (reference period, returns to scale), with every distance solved once."""

    def __init__(self, panel: _Panel, *, time: str, frontier: Frontier, bad_disposability: Disposability,
                 measure: Measure, weights: np.ndarray, d: np.ndarray) -> None:
        """Index the panel's rows by period; families are built on first use."""
        # Every measure here is invariant to the units of a variable; dividing by the column mean keeps the
        # LPs well scaled (capital in 万元 next to employment in 万人 differs by 1e7).
        self.scale = _scale(panel.values)
        self.values, self.kinds = panel.values / self.scale, panel.kinds
        self.t = panel.frame[time].to_numpy()
        self.frontier, self.disp, self.measure, self.weights, self.d = frontier, bad_disposability, measure, weights, d
        self.cache: dict[tuple, _DDFamily] = {}
        # D of panel row r against a frontier: D^t(t) appears in the pairs (t−1, t) and (t, t+1), D^G(t) likewise
        self.memo: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def _key(self, period: object, rts: Rts) -> tuple:
        """Cache key of a frontier: the period, or 'global'."""
        return ("global" if self.frontier == "global" else period, rts)

    def family(self, period: object, rts: Rts) -> _DDFamily:
        """The LP family of `period`'s frontier (or the global one) under `rts`."""
        key = self._key(period, rts)
        if key not in self.cache:
            ref = self.values if self.frontier == "global" else self.values[self.t == period]
            self.cache[key] = _DDFamily(ref, self.kinds, rts=rts, bad_disposability=self.disp, measure=self.measure,
                                        weights=self.weights, d=self.d)
        return self.cache[key]

    def distance(self, rows: np.ndarray, period: object, rts: Rts) -> np.ndarray:
        """D of the given panel rows against `period`'s frontier, each (frontier, row) solved once."""
        key = self._key(period, rts)
        if key not in self.memo:
            self.memo[key] = (np.full(len(self.values), np.nan), np.zeros(len(self.values), dtype=bool))
        values, done = self.memo[key]
        todo = rows[~done[rows]]
        if len(todo):
            values[todo] = self.family(period, rts).solve(self.values[todo])
            done[todo] = True
        return values[rows]

    def point_distance(self, points: np.ndarray, period: object, rts: Rts) -> np.ndarray:
        """D of explicit points (in the data's units) against `period`'s frontier."""
        return self.family(period, rts).solve(points / self.scale)

# ---------------------------------------------------------------------------------------------- public API
def directional_distance(data: pd.DataFrame, *, inputs: Sequence[str], good: Sequence[str], bad: Sequence[str] = (),
                         unit: str, time: str, direction: Mapping[str, float], rts: Rts = "crs",
                         bad_disposability: Disposability = "weak", measure: Measure = "radial",
                         weights: Mapping[str, float] | None = None,
                         frontier: Frontier = "contemporaneous") -> pd.DataFrame:
    """Directional-distance inefficiency of every unit-time against its frontier (0 = efficient).

    Returns columns unit, time, `ddf`; rows with a missing or negative variable are left out and counted in
    `attrs["dropped"]`.
    """
    panel = _panel(data, inputs=inputs, good=good, bad=bad, unit=unit, time=time)
    d = _direction(panel, direction)
    w = _weights(panel, weights, measure)
    fr = _Frontiers(panel, time=time, frontier=frontier, bad_disposability=bad_disposability, measure=measure,
                    weights=w, d=d)
    t = panel.frame[time].to_numpy()
    out = np.full(len(t), np.nan)
    for period in np.unique(t):
        rows = np.flatnonzero(t == period)
        out[rows] = fr.distance(rows, period, rts)
    return _tidy(panel, unit, time, {"ddf": out})


LUENBERGER_COLUMNS = ["luenberger", "lpec", "lsec", "lptp", "ltpsc", "ec", "tc"]
FRONTIERS = ("contemporaneous", "global")


def luenberger(data: pd.DataFrame, *, inputs: Sequence[str], good: Sequence[str], bad: Sequence[str] = (),
               unit: str, time: str, direction: Mapping[str, float], rts: Rts = "crs",
               bad_disposability: Disposability = "weak", measure: Measure = "radial",
               weights: Mapping[str, float] | None = None,
               frontier: Frontier | Sequence[Frontier] = "contemporaneous") -> pd.DataFrame:
    """Luenberger productivity indicator between consecutive periods and its four-part decomposition.

    With D^s_c(r) / D^s_v(r) the CRS / VRS distance of period r's point to period s's frontier:
    L = ½[(D^{t+1}_c(t) − D^{t+1}_c(t+1)) + (D^t_c(t) − D^t_c(t+1))];
    LPEC = D^t_v(t) − D^{t+1}_v(t+1); LSEC = [D^t_c(t) − D^t_v(t)] − [D^{t+1}_c(t+1) − D^{t+1}_v(t+1)];
    LPTP = ½[(D^{t+1}_v(t) − D^t_v(t)) + (D^{t+1}_v(t+1) − D^t_v(t+1))];
    LTPSC = ½[(S^{t+1}(t) − S^t(t)) + (S^{t+1}(t+1) − S^t(t+1))], S^s(r) = D^s_c(r) − D^s_v(r);
    EC = LPEC + LSEC, TC = LPTP + LTPSC, L = EC + TC (Epure, Kerstens & Prior 2011). With the global
    frontier G, L = D^G_c(t) − D^G_c(t+1) and the cross-period terms D^{t+1}(t), D^t(t+1) are replaced by
    best-practice gaps: TC = [D^G_c(t) − D^t_c(t)] − [D^G_c(t+1) − D^{t+1}_c(t+1)], LPTP the same under VRS.
    `rts` is not used (both are computed). Returns unit, time (the later period), time_from and the columns
    luenberger, lpec, lsec, lptp, ltpsc, ec, tc; NaN where a cross-period LP is infeasible (VRS). With a
    sequence of frontiers, the results are stacked in that order with a `frontier` column, and the distances
    they share (D^t(t)) are solved once.
    """
    several = not isinstance(frontier, str)
    frontiers = list(frontier) if several else [frontier]
    unknown = [f for f in frontiers if f not in FRONTIERS]
    if unknown or not frontiers:
        raise ValueError(f"frontier must be one or more of {FRONTIERS}; got {frontier!r}")
    panel = _panel(data, inputs=inputs, good=good, bad=bad, unit=unit, time=time)
    d = _direction(panel, direction)
    w = _weights(panel, weights, measure)
    spec = dict(time=time, bad_disposability=bad_disposability, measure=measure, weights=w, d=d)
    own = _Frontiers(panel, frontier="contemporaneous", **spec)
    glob = _Frontiers(panel, frontier="global", **spec) if "global" in frontiers else None
    f = panel.frame
    periods = np.sort(f[time].unique())
    rows_by_t = {p: pd.Series(np.flatnonzero(f[time].to_numpy() == p), index=f.loc[f[time] == p, unit].to_numpy())
                 for p in periods}
    frames: dict[str, list[pd.DataFrame]] = {fr: [] for fr in frontiers}
    for t0, t1 in itertools.pairwise(periods):
        units = rows_by_t[t0].index.intersection(rows_by_t[t1].index, sort=False)
        if not len(units):
            continue
        r0, r1 = rows_by_t[t0][units].to_numpy(), rows_by_t[t1][units].to_numpy()
        c, v = ({("t", "t"): own.distance(r0, t0, rts_), ("t1", "t1"): own.distance(r1, t1, rts_)}
                for rts_ in ("crs", "vrs"))
        lpec = v["t", "t"] - v["t1", "t1"]
        lsec = (c["t", "t"] - v["t", "t"]) - (c["t1", "t1"] - v["t1", "t1"])
        for fr in frontiers:
            if fr == "contemporaneous":
                for dist, rts_ in ((c, "crs"), (v, "vrs")):
                    dist["t1", "t"] = own.distance(r0, t1, rts_)      # frontier t+1, point t
                    dist["t", "t1"] = own.distance(r1, t0, rts_)      # frontier t, point t+1
                lptp = 0.5 * ((v["t1", "t"] - v["t", "t"]) + (v["t1", "t1"] - v["t", "t1"]))
                s = {k: c[k] - v[k] for k in c}
                ltpsc = 0.5 * ((s["t1", "t"] - s["t", "t"]) + (s["t1", "t1"] - s["t", "t1"]))
                total = 0.5 * ((c["t1", "t"] - c["t1", "t1"]) + (c["t", "t"] - c["t", "t1"]))
            else:
                assert glob is not None
                for dist, rts_ in ((c, "crs"), (v, "vrs")):
                    dist["G", "t"] = glob.distance(r0, None, rts_)
                    dist["G", "t1"] = glob.distance(r1, None, rts_)
                lptp = (v["G", "t"] - v["t", "t"]) - (v["G", "t1"] - v["t1", "t1"])
                tc = (c["G", "t"] - c["t", "t"]) - (c["G", "t1"] - c["t1", "t1"])
                ltpsc = tc - lptp
                total = c["G", "t"] - c["G", "t1"]
            frames[fr].append(pd.DataFrame({unit: units.to_numpy(), time: t1, "time_from": t0, "luenberger": total,
                                            "lpec": lpec, "lsec": lsec, "lptp": lptp, "ltpsc": ltpsc,
                                            "ec": lpec + lsec, "tc": lptp + ltpsc}))
    empty = pd.DataFrame(columns=[unit, time, "time_from", *LUENBERGER_COLUMNS])
    parts = [(pd.concat(frames[fr], ignore_index=True) if frames[fr] else empty.copy()) for fr in frontiers]
    out = pd.concat([p.assign(frontier=fr) for p, fr in zip(parts, frontiers, strict=True)],
                    ignore_index=True) if several else parts[0]
    out.attrs["dropped"] = panel.dropped
    return out



def sbm(data: pd.DataFrame, *, inputs: Sequence[str], good: Sequence[str], bad: Sequence[str] = (), unit: str,
        time: str, rts: Rts = "crs", frontier: Frontier = "contemporaneous") -> pd.DataFrame:
    """Non-oriented slacks-based efficiency ρ (Tone 2001; with undesirable outputs, Tone 2003) per unit-time.

    ρ = min (1 − (1/m) Σ s⁻_i/x_io) / (1 + (1/(s₁+s₂)) (Σ s^g_r/y_ro + Σ s^b_j/b_jo)) subject to
    x_o = Xλ + s⁻, y_o = Yλ − s^g, b_o = Bλ + s^b, λ, s ≥ 0 (Σλ = 1 under VRS), solved in the
    Charnes–Cooper linear form. Every variable must be positive. Returns unit, time, `rho` (1 = efficient).
    """
    panel = _panel(data, inputs=inputs, good=good, bad=bad, unit=unit, time=time, positive=True)
    vals, t = panel.values / _scale(panel.values), panel.frame[time].to_numpy()   # ρ is units-invariant
    m, s_out = len(inputs), len(good) + len(bad)
    rho = np.full(len(t), np.nan)
    groups = [(None, np.arange(len(t)))] if frontier == "global" else [(p, np.flatnonzero(t == p))
                                                                        for p in np.unique(t)]
    for _, rows in groups:
        fam = _SBMFamily(vals[rows], panel.kinds, rts=rts, m=m, s=s_out)
        rho[rows] = [fam.solve(p) for p in vals[rows]]
    return _tidy(panel, unit, time, {"rho": rho})


class _SBMFamily:
    """Tone's SBM in Charnes–Cooper form for one reference set; per point only t's column, costs and one row change."""

    def __init__(self, ref: np.ndarray, kinds: Sequence[str], *, rts: Rts, m: int, s: int) -> None:
        """Columns τ, Λ (reference), one slack per variable; rows: one per variable, normalisation (+ ΣΛ = τ)."""
        import highspy

        self.n, self.k = ref.shape
        self.kinds, self.m, self.s = list(kinds), m, s
        self.h = h = _new_highs()
        vrs = rts == "vrs"
        n_rows = self.k + 1 + vrs          # variable rows, normalisation row (index k), ΣΛ − τ = 0
        h.addRows(n_rows, np.zeros(n_rows), np.zeros(n_rows), 0, np.array([], np.int32), np.array([], np.int32),
                  np.array([], float))
        h.changeRowBounds(self.k, 1.0, 1.0)
        # τ column (index 0): coefficients set per point (v_o in the variable rows, 1 in normalisation, −1 in VRS)
        tau_rows = np.arange(self.k + 1 + vrs, dtype=np.int32)
        h.addCols(1, np.array([1.0]), np.array([0.0]), np.array([INF]), len(tau_rows), np.array([0], np.int32),
                  tau_rows, np.r_[np.ones(self.k), 1.0, [-1.0] * vrs])
        # Λ columns: −v_r in each variable row (v_o τ − Σ Λ v = ± slack), 1 in the VRS row
        rows = np.arange(self.k, dtype=np.int32)
        per = self.k + vrs
        idx = np.tile(np.append(rows, self.k + 1) if vrs else rows, self.n).astype(np.int32)
        vals = np.column_stack([-ref, np.ones(self.n)]) if vrs else -ref
        h.addCols(self.n, np.zeros(self.n), np.zeros(self.n), np.full(self.n, INF), self.n * per,
                  (np.arange(self.n) * per).astype(np.int32), idx, vals.ravel().astype(float))
        # slacks: inputs and bads x_o τ = XΛ + s (coefficient −1), good outputs y_o τ = YΛ − s (+1)
        sign = np.array([1.0 if k == "good" else -1.0 for k in self.kinds])
        self.slack0 = 1 + self.n
        idx = np.repeat(rows, 2)
        idx[1::2] = self.k
        vals = np.empty(2 * self.k)
        vals[0::2] = sign
        vals[1::2] = 0.0               # normalisation coefficients set per point (good and bad outputs)
        h.addCols(self.k, np.zeros(self.k), np.zeros(self.k), np.full(self.k, INF), 2 * self.k,
                  (2 * np.arange(self.k)).astype(np.int32), idx.astype(np.int32), vals)
        self.is_input = np.array([k == "in" for k in self.kinds])
        self.status = highspy.HighsModelStatus

    def solve(self, point: np.ndarray) -> float:
        """ρ of one point: objective τ − (1/m) Σ s⁻/x_o, normalisation τ + (1/s) Σ s⁺/y_o = 1."""
        h = self.h
        for r in range(self.k):
            h.changeCoeff(r, 0, float(point[r]))
            col = self.slack0 + r
            if self.is_input[r]:
                h.changeColCost(col, float(-1.0 / (self.m * point[r])))
            else:
                h.changeCoeff(self.k, col, float(1.0 / (self.s * point[r])))
        _run(h)
        if h.getModelStatus() != self.status.kOptimal:
            raise RuntimeError(f"SBM LP not solved ({h.getModelStatus()}) for point {point.tolist()}")
        return float(h.getInfo().objective_function_value)


def malmquist_bias(data: pd.DataFrame, *, inputs: Sequence[str], good: Sequence[str], bad: Sequence[str] = (),
                   unit: str, time: str, bad_disposability: Disposability = "weak") -> pd.DataFrame:
    """Malmquist index with Färe et al. (1997) input-biased technical change, and the factor-bias classification.

    D^s(x, y) is the CRS Shephard output distance against period s's frontier, 1 / (1 + β) with β the radial
    distance in the direction of the good outputs (inputs and bad outputs held at their values).
    EFFCH = D^{t+1}(x^{t+1}, y^{t+1}) / D^t(x^t, y^t); TECH = [D^t(x^{t+1},y^{t+1}) / D^{t+1}(x^{t+1},y^{t+1})
    · D^t(x^t,y^t) / D^{t+1}(x^t,y^t)]^½; MATECH = D^t(x^t,y^t) / D^{t+1}(x^t,y^t);
    IBTECH = [D^{t+1}(x^t,y^t) / D^t(x^t,y^t) · D^t(x^{t+1},y^t) / D^{t+1}(x^{t+1},y^t)]^½;
    OBTECH = TECH / (IBTECH · MATECH); MALM = EFFCH · TECH. For each pair of inputs (a, b) the column
    `bias_a_b` names the input technical change favours (seed 000 Table 3): with the ratio a/b falling,
    IBTECH > 1 favours b and IBTECH < 1 favours a; with it rising, the reverse; "neutral" when IBTECH = 1
    or the ratio does not change.
    """
    panel = _panel(data, inputs=inputs, good=good, bad=bad, unit=unit, time=time, positive=True)
    d = np.array([1.0 if k == "good" else 0.0 for k in panel.kinds])
    fr = _Frontiers(panel, time=time, frontier="contemporaneous", bad_disposability=bad_disposability,
                    measure="radial", weights=np.ones(len(d)), d=d)
    f, vals = panel.frame, panel.values
    n_in = len(inputs)
    periods = np.sort(f[time].unique())
    frames = []
    for t0, t1 in itertools.pairwise(periods):
        a, b = f.loc[f[time] == t0], f.loc[f[time] == t1]
        units = pd.Index(a[unit]).intersection(pd.Index(b[unit]), sort=False)
        if not len(units):
            continue
        r0 = a.index[pd.Index(a[unit]).get_indexer(units)].to_numpy()
        r1 = b.index[pd.Index(b[unit]).get_indexer(units)].to_numpy()
        p0, p1 = vals[r0], vals[r1]
        mixed = p1.copy()
        mixed[:, n_in:] = p0[:, n_in:]       # (x^{t+1}, y^t, b^t)

        def shephard(rows: np.ndarray, period: object) -> np.ndarray:
            """Output distance 1 / (1 + β) of panel rows against `period`'s CRS frontier (D^t(t) solved once)."""
            return 1.0 / (1.0 + fr.distance(rows, period, "crs"))

        d00, d11 = shephard(r0, t0), shephard(r1, t1)
        d10, d01 = shephard(r0, t1), shephard(r1, t0)      # D^{t+1}(t), D^t(t+1)
        dm0, dm1 = (1.0 / (1.0 + fr.point_distance(mixed, t_, "crs")) for t_ in (t0, t1))
        effch = d11 / d00
        tech = np.sqrt((d01 / d11) * (d00 / d10))
        matech = d00 / d10
        ibtech = np.sqrt((d10 / d00) * (dm0 / dm1))
        out = pd.DataFrame({unit: units.to_numpy(), time: t1, "time_from": t0, "malmquist": effch * tech,
                            "effch": effch, "tech": tech, "ibtech": ibtech, "obtech": tech / (ibtech * matech),
                            "matech": matech})
        for i, j in itertools.combinations(range(n_in), 2):
            ratio_change = np.sign(p1[:, i] / p1[:, j] - p0[:, i] / p0[:, j])
            out[f"bias_{inputs[i]}_{inputs[j]}"] = _bias_label(ibtech, ratio_change, inputs[i], inputs[j])
        frames.append(out)
    res = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    res.attrs["dropped"] = panel.dropped
    return res


def _bias_label(ibtech: np.ndarray, ratio_change: np.ndarray, a: str, b: str) -> np.ndarray:
    """Seed 000 Table 3: the favoured input of the pair (a, b) from IBTECH and the sign of Δ(a/b)."""
    up = np.sign(ibtech - 1.0)
    # ratio a/b falls (−1): C > 1 → b, C < 1 → a; ratio rises (+1): C > 1 → a, C < 1 → b
    favoured = np.where(up * ratio_change > 0, a, b)
    label = np.where((up == 0) | (ratio_change == 0), "neutral", favoured).astype(object)
    label[np.isnan(ibtech)] = None
    return label
