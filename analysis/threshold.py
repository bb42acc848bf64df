"""Hansen (1999) fixed-effects panel threshold regression: one to three thresholds, bootstrap tests, LR intervals.

Model: y_it = mu_i + x_it' b_1 1(q_it <= g_1) + x_it' b_2 1(g_1 < q_it <= g_2) + ... + z_it' d + e_it, with
the regime regressors x (`regime_x`), the threshold variable q and controls z (plus time dummies with
`time_effects=True`). The conventions follow Hansen's own code (the GAUSS/Matlab/R programs of the paper)
and Stata `xthreg` (Wang 2015):

- grid="hansen": candidates are `n_grid` (400) quantile points of the *distinct* values of q between `trim`
  and 1 - trim (Hansen's `qq1`); later thresholds exclude the `n_grid * trim` grid points on either side of
  a threshold already found. The within transformation demeans by unit and then drops each unit's last
  period (the demeaned rows are linearly dependent), so the SSE is computed on n(T-1) rows.
  grid="all" (every distinct value) and grid="quantile" (n_grid quantiles of q) use the plain within
  transformation and require every regime to hold at least `trim` of the observations.
- F_j = (S_{j-1} - S_j) / sigma_j^2 with sigma_j^2 = S_j / (n(T-1)); LR_j(g) = (S_j(g) - S_j) / sigma_j^2,
  and the confidence set {g: LR(g) <= -2 ln(1 - sqrt(level))} (Hansen 1999, eq. 11; reported as its
  smallest and largest grid point, as Hansen and xthreg do).
- Sequential estimation: g_2 given g_1, then g_1 re-estimated given g_2 (Hansen's refinement, xthreg's
  Th-21/Th-22), g_3 given both.
- Bootstrap p-value of F_j: Hansen's fixed-regressor bootstrap. Residuals of the model under the null
  (j-1 thresholds) are grouped by unit; each draw resamples n units' residual vectors with replacement and
  adds them to the null fit; the draw re-runs the sequential search (1, ..., j thresholds) and records
  F_j. p = share of draws with F_j* > F_j; critical values are the 90/95/99% order statistics.

Speed: for fixed thresholds already in the model, the SSE at every candidate g follows from the
Frisch-Waugh-Lovell identity SSE(g) = e'e - g_c' H_c^{-1} g_c, where D(g) = x 1(q <= g) is the new regressor,
e the residual of the base model and H_c = D'M'M D - D'M'W~ (W~'W~)^{-1} W~'M'M D. With the observations sorted
by q, each candidate adds a block of rows to D, so every term is a cumulative sum over the sorted rows
(the within transformation enters through running sums of x inside each unit). One pass is O(N k p); a
bootstrap draw changes only e, so all draws of a search are one cumulative sum of an N x B matrix.
Regime coefficients are then estimated with `analysis.fixed_effects.feols` at the estimated thresholds
(unit fixed effects, CRV1 errors clustered by unit unless `cluster` says otherwise: reghdfe-compatible),
as `xthreg` runs `xtreg, fe` at its thresholds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from analysis.fixed_effects import feols
from analysis.results import EstimationResult, NotEstimable, SampleInfo

GridKind = Literal["hansen", "all", "quantile"]
TEST_NAMES = ("single", "double", "triple")


def lr_critical_value(level: float) -> float:
    """Hansen's (1999) asymptotic critical value of the threshold LR statistic: -2 ln(1 - sqrt(level))."""
    return -2.0 * math.log(1.0 - math.sqrt(level))


@dataclass(kw_only=True)
class ThresholdResult(EstimationResult):
    """A panel threshold model: thresholds with LR intervals, F tests with bootstrap p-values, regime slopes."""

    thresholds: tuple[float, ...] = ()

    def threshold_table(self) -> pd.DataFrame:
        """Threshold estimates with their LR confidence intervals (xthreg's Th-1, Th-21, Th-22, Th-3)."""
        return self.tables["thresholds"]

    def test_table(self) -> pd.DataFrame:
        """F statistics, bootstrap p-values and critical values for one, two and three thresholds."""
        return self.tables["threshold_tests"]

    def _compact(self) -> EstimationResult:
        """The same result without the long LR curve table (kept for `plot` and storage, not for tables)."""
        return replace(self, tables={k: v for k, v in self.tables.items() if k != "lr"})

    def to_markdown(self) -> str:
        """Markdown coefficient table with the threshold, test and regime tables (not the LR curve)."""
        return EstimationResult.to_markdown(self._compact())

    def to_latex(self) -> str:
        """LaTeX tabulars: coefficients, thresholds, tests, regimes (not the LR curve)."""
        return EstimationResult.to_latex(self._compact())

    def to_html(self) -> str:
        """HTML: coefficients, thresholds, tests, regimes (not the LR curve)."""
        return EstimationResult.to_html(self._compact())

    def plot(self, step: str | None = None, title: str | None = None,
             figsize: tuple[float, float] = (7.0, 4.0)) -> Any:
        """The LR statistic against the candidate threshold, with the critical value line; an Agg Figure."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        curves = self.tables["lr"]
        steps = [step] if step else list(dict.fromkeys(curves["step"]))
        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for k, s in enumerate(steps):
            sub = curves[curves["step"] == s]
            ax.plot(sub["gamma"], sub["lr"], color=f"C{k}", lw=1, label=s)
        crit = float(self.notes["lr_critical_value"])
        ax.axhline(crit, color="black", ls="--", lw=0.8, label=f"{self.notes['level']:.0%} critical value")
        ax.set_xlabel(f"threshold ({self.notes['q']})")
        ax.set_ylabel("LR statistic")
        ax.set_title(title or f"Panel threshold: {self.dependent}")
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        return fig


@dataclass
class _Panel:
    """Estimation arrays sorted by unit and time, plus the within transformation M and its adjoint."""

    y: np.ndarray          # (n,)
    x: np.ndarray          # (n, k) regime regressors
    z: np.ndarray          # (n, p0) controls and time dummies
    q: np.ndarray          # (n,)
    starts: np.ndarray     # first row of each unit
    sizes: np.ndarray      # rows per unit (T_i)
    keep: np.ndarray       # (n,) rows kept after the transform (Hansen drops each unit's last period)
    unit_codes: np.ndarray  # (n,)

    def within(self, a: np.ndarray) -> np.ndarray:
        """M a: demean by unit, then keep the rows of the transform."""
        a2 = a.reshape(len(a), -1)
        means = np.add.reduceat(a2, self.starts, axis=0) / self.sizes[:, None]
        out = (a2 - np.repeat(means, self.sizes, axis=0))[self.keep]
        return out.reshape((out.shape[0], *a.shape[1:]))

    def adjoint(self, b: np.ndarray) -> np.ndarray:
        """M' b: put transformed rows back in place (zeros at dropped rows), then demean by unit."""
        b2 = b.reshape(len(b), -1)
        full = np.zeros((len(self.y), b2.shape[1]))
        full[self.keep] = b2
        means = np.add.reduceat(full, self.starts, axis=0) / self.sizes[:, None]
        return full - np.repeat(means, self.sizes, axis=0)


class _Design:
    """Everything a threshold search needs for one set of thresholds already in the model (fixed)."""

    def __init__(self, panel: _Panel, fixed: tuple[float, ...], order: np.ndarray, cuts: np.ndarray) -> None:
        p = panel
        cols = [p.x, p.z] + [p.x * (p.q <= f)[:, None] for f in fixed]
        w = np.column_stack(cols) if cols else np.empty((len(p.y), 0))
        wt = p.within(w)
        self.q_mat, r = np.linalg.qr(wt)
        diag = np.abs(np.diag(r))
        if len(diag) and diag.min() <= 1e-10 * max(diag.max(), 1.0):
            raise NotEstimable("panel threshold: the regime regressors and controls are collinear after the "
                               "within transformation (a regressor without variation within units?)")
        self.r = r
        self.panel, self.order, self.cuts = p, order, cuts
        xs = p.x[order]                                    # (n, k) in q order
        cw = p.adjoint(wt)[order]                          # C W = M'M W, rows in q order
        k = xs.shape[1]
        b_all = np.cumsum(xs[:, :, None] * cw[:, None, :], axis=0)[cuts - 1]     # (C, k, p): D'CW
        # D'CD by running sums inside units: C = M'M has C_lj = e_l d_lj - (e_l + e_j)/T + m/T^2.
        units = p.unit_codes[order]
        e = p.keep[order].astype(float)
        t = p.sizes[units].astype(float)
        m = np.bincount(p.unit_codes, weights=p.keep.astype(float))[units]
        frame = pd.DataFrame(np.column_stack([xs, xs * e[:, None]]))
        run = frame.groupby(units).cumsum().to_numpy() - frame.to_numpy()       # sums of earlier rows
        s_before, se_before = run[:, :k], run[:, k:]
        v = -se_before / t[:, None] + (m / t ** 2 - e / t)[:, None] * s_before
        c_jj = e - 2 * e / t + m / t ** 2
        delta = c_jj[:, None, None] * xs[:, :, None] * xs[:, None, :] + v[:, :, None] * xs[:, None, :] \
            + xs[:, :, None] * v[:, None, :]
        a_all = np.cumsum(delta, axis=0)[cuts - 1]                                 # (C, k, k): D'CD
        kr = np.linalg.solve(r.T[None, :, :], np.swapaxes(b_all, 1, 2)) if r.size else np.zeros((len(cuts), 0, k))
        h = a_all - np.einsum("cpk,cpl->ckl", kr, kr)
        scale = np.einsum("ckk->c", a_all)
        # A candidate whose new regime is (numerically) empty adds nothing: leave it out.
        self.valid = np.linalg.det(h) > (1e-10 * np.maximum(scale, 1e-300)) ** k
        h[~self.valid] = np.eye(k)
        self.h_inv = np.linalg.inv(h)
        self.xs = xs

    def residuals(self, yt: np.ndarray) -> np.ndarray:
        """Residuals of the base model (no new threshold) for transformed outcomes (m,) or (m, B)."""
        # einsum rather than BLAS: a tall-skinny product that threaded OpenBLAS slows down badly on a busy machine.
        coef = np.einsum("mp,m...->p...", self.q_mat, yt)
        return yt - np.einsum("mp,p...->m...", self.q_mat, coef)

    def sse(self, yt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SSE at every candidate cut (C, B) and the base SSE (B,), for transformed outcomes (m, B)."""
        e0 = self.residuals(yt)
        base = np.einsum("mb,mb->b", e0, e0)
        u = self.panel.adjoint(e0)[self.order]                           # (n, B)
        g = np.cumsum(self.xs[:, :, None] * u[:, None, :], axis=0)[self.cuts - 1]     # (C, k, B)
        gain = np.einsum("ckb,ckl,clb->cb", g, self.h_inv, g)
        out = base[None, :] - gain
        out[~self.valid] = np.nan
        return out, base


class _Searcher:
    """Sequential threshold search on one panel, with designs cached by the thresholds already fixed."""

    def __init__(self, panel: _Panel, *, grid: GridKind, trim: float, n_grid: int) -> None:
        self.panel, self.grid, self.trim, self.n_grid = panel, grid, trim, n_grid
        self.order = np.argsort(panel.q, kind="stable")
        q_sorted = panel.q[self.order]
        distinct = np.unique(panel.q)
        if grid == "hansen":
            qnt = n_grid * trim
            count = round(n_grid - 2 * qnt) + 1
            sq = trim + np.arange(count) / n_grid
            pos = np.floor(sq * len(distinct) + 1e-9).astype(int)
            cand = distinct[pos[pos >= 1] - 1]                  # Hansen's qq1 (R/GAUSS 1-based indexing)
        elif grid == "all":
            cand = distinct
        elif grid == "quantile":
            levels = np.linspace(trim, 1 - trim, n_grid)
            cand = np.unique(np.quantile(panel.q, levels, method="inverted_cdf"))
        else:
            raise ValueError(f"grid must be 'hansen', 'all' or 'quantile', not {grid!r}")
        self.candidates = cand
        self.cut_all = np.searchsorted(q_sorted, cand, side="right")
        ok = (self.cut_all >= 1) & (self.cut_all < len(q_sorted))
        self.candidates, self.cut_all = cand[ok], self.cut_all[ok]
        if len(self.candidates) < 2:
            raise NotEstimable(f"panel threshold: the threshold variable has {len(distinct)} distinct values; "
                               "too few for a grid search")
        self.n = len(q_sorted)
        self._designs: dict[tuple[float, ...], _Design] = {}

    def design(self, fixed: tuple[float, ...]) -> _Design:
        """The cached search design for thresholds `fixed` already in the model."""
        key = tuple(sorted(fixed))
        if key not in self._designs:
            self._designs[key] = _Design(self.panel, key, self.order, self.cut_all)
        return self._designs[key]

    def allowed(self, fixed: tuple[float, ...]) -> np.ndarray:
        """Which candidates may be the next threshold given `fixed` (trimming rules of the grid)."""
        cand = self.candidates
        ok = np.ones(len(cand), dtype=bool)
        if self.grid == "hansen":
            # Hansen: drop the n_grid*trim grid points on either side of each threshold already found.
            qnt = self.n_grid * self.trim
            i = np.arange(1, len(cand) + 1)
            for f in fixed:
                nn = int(np.sum(cand < f))
                ok &= ~((i >= nn - qnt) & (i < nn + qnt))
            return ok
        # Other grids: both regimes that the new threshold splits keep at least trim * N observations.
        min_obs = math.ceil(self.trim * self.n)
        edges = np.unique([0, self.n, *(int(np.searchsorted(self.panel.q[self.order], f, side="right"))
                                        for f in fixed)])
        pos = np.searchsorted(edges, self.cut_all, side="right")
        lower, upper = edges[pos - 1], edges[np.minimum(pos, len(edges) - 1)]
        return (self.cut_all - lower >= min_obs) & (upper - self.cut_all >= min_obs)

    def search(self, yt: np.ndarray, fixed: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """SSE over candidates (C, B) for transformed outcomes (m, B); the argmin index and the base SSE."""
        design = self.design(fixed)
        sse, base = design.sse(yt)
        sse[~self.allowed(fixed)] = np.nan
        if np.all(np.isnan(sse)):
            raise NotEstimable("panel threshold: no admissible candidate threshold left after trimming")
        return sse, np.nanargmin(sse, axis=0), base


def _prepare(data: pd.DataFrame, *, y: str, regime_x: Sequence[str], q: str, controls: Sequence[str], unit: str,
             time: str, time_effects: bool, hansen_transform: bool, balance: str,
             ) -> tuple[_Panel, pd.DataFrame, SampleInfo]:
    """Complete, balanced estimation frame sorted by unit and time, and its arrays."""
    cols = list(dict.fromkeys([y, *regime_x, q, *controls, unit, time]))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"panel threshold: columns not in the data: {missing}")
    df = data[cols].copy()
    info = SampleInfo(nobs=0)
    need = [y, *regime_x, q, *controls]
    for c in need:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    complete = df[[*need, unit, time]].notna().all(axis=1)
    if not complete.all():
        nulls = {c: int(df[c].isna().sum()) for c in need if df[c].isna().any()}
        info.drop("rows with a missing value (" + ", ".join(f"{k}: {v}" for k, v in nulls.items()) + ")",
                  int((~complete).sum()))
        df = df[complete]
    if df.duplicated([unit, time]).any():
        raise ValueError(f"panel threshold: ({unit}, {time}) does not identify rows; "
                         f"{int(df.duplicated([unit, time]).sum())} duplicates")
    n_periods = df[time].nunique()
    size = df.groupby(unit)[time].transform("size")
    if (size < n_periods).any():
        short = int(df.loc[size < n_periods, unit].nunique())
        if balance == "require":
            raise NotEstimable(f"panel threshold needs a balanced panel (Hansen 1999, xthreg): {short} of "
                               f"{df[unit].nunique()} units lack some of the {n_periods} periods; pass "
                               "balance='drop_units' to keep only complete units")
        info.drop("units not observed in every period (balanced panel required)", int((size < n_periods).sum()))
        df = df[size == n_periods]
    if df[unit].nunique() < 2 or n_periods < 2:
        raise NotEstimable("panel threshold: fewer than two units or periods")
    df = df.sort_values([unit, time], kind="stable").reset_index(drop=True)
    codes = pd.factorize(df[unit])[0]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, len(df)])
    keep = np.ones(len(df), dtype=bool)
    if hansen_transform:
        keep[starts + sizes - 1] = False
    z = df[list(controls)].to_numpy(dtype=float) if controls else np.empty((len(df), 0))
    if time_effects:
        dummies = pd.get_dummies(df[time], drop_first=True, dtype=float).to_numpy()
        z = np.column_stack([z, dummies])
    panel = _Panel(y=df[y].to_numpy(dtype=float), x=df[list(regime_x)].to_numpy(dtype=float), z=z,
                   q=df[q].to_numpy(dtype=float), starts=starts, sizes=sizes, keep=keep, unit_codes=codes)
    return panel, df, info


def panel_threshold(
    data: pd.DataFrame,
    *,
    y: str,
    regime_x: str | Sequence[str],
    q: str,
    controls: Sequence[str],
    unit: str,
    time: str,
    n_thresholds: int = 1,
    trim: float | Sequence[float] = 0.01,
    grid: GridKind = "hansen",
    n_grid: int = 400,
    bootstrap: int | Sequence[int] = 300,
    seed: int | None = None,
    time_effects: bool = False,
    transform: Literal["hansen", "within"] | None = None,
    level: float = 0.95,
    balance: Literal["require", "drop_units"] = "require",
    cluster: str | Sequence[str] | None = None,
    progress: bool = True,
    model_id: str = "panel_threshold",
) -> ThresholdResult:
    """Hansen (1999) fixed-effects panel threshold model with 1-3 thresholds, bootstrap F tests and LR intervals.

    `trim` and `bootstrap` take one value or one per threshold (Hansen: trim 0.01, 0.01, 0.05; 300 draws
    each). `transform` defaults to Hansen's (drop each unit's last period) with grid="hansen" and to the
    plain within transformation otherwise. Regime coefficients are named `<x>_regime<j>`, j = 1 for the
    lowest values of q.
    """
    xs = [regime_x] if isinstance(regime_x, str) else list(regime_x)
    if not 1 <= n_thresholds <= 3:
        raise ValueError("n_thresholds must be 1, 2 or 3")
    trims = [float(trim)] * n_thresholds if np.isscalar(trim) else [float(t) for t in trim]   # type: ignore[arg-type]
    boots = [int(bootstrap)] * n_thresholds if np.isscalar(bootstrap) else [int(b) for b in bootstrap]  # type: ignore[arg-type]
    if len(trims) != n_thresholds or len(boots) != n_thresholds:
        raise ValueError("trim and bootstrap need one value or one per threshold")
    if any(not 0 < t < 0.5 for t in trims):
        raise ValueError("trim must be in (0, 0.5)")
    controls = [c for c in controls if c not in xs]
    hansen_transform = (transform or ("hansen" if grid == "hansen" else "within")) == "hansen"
    panel, df, info = _prepare(data, y=y, regime_x=xs, q=q, controls=controls, unit=unit, time=time,
                               time_effects=time_effects, hansen_transform=hansen_transform, balance=balance)
    n_units, n_t = len(panel.sizes), int(panel.sizes[0])
    nu = n_units * (n_t - 1)                   # n(T-1): Hansen's (and xthreg's) denominator of sigma^2
    yt = panel.within(panel.y)[:, None]
    searchers = {t: _Searcher(panel, grid=grid, trim=t, n_grid=n_grid) for t in set(trims)}
    crit = lr_critical_value(level)

    def step(fixed: tuple[float, ...], trim_j: float, name: str) -> tuple[float, float, float, pd.DataFrame]:
        """Search one threshold given `fixed`: estimate, its SSE, base SSE, and the LR curve."""
        s = searchers[trim_j]
        sse, idx, base = s.search(yt, fixed)
        sse, i = sse[:, 0], int(idx[0])
        s_min = float(sse[i])
        ok = np.isfinite(sse)
        lr = (sse[ok] / s_min - 1) * nu
        curve = pd.DataFrame({"step": name, "gamma": s.candidates[ok], "sse": sse[ok], "lr": lr})
        return float(s.candidates[i]), s_min, float(base[0]), curve

    e_lin = searchers[trims[0]].design(()).residuals(yt)[:, 0]
    s0 = float(e_lin @ e_lin)                  # SSE of the linear (no-threshold) model
    th_rows, curves, tests = [], [], []
    g1, s1, _, c1 = step((), trims[0], "Th-1")
    curves.append(c1)
    th_rows.append(("Th-1", g1, s1, *_ci(c1, crit)))
    tests.append({"sse_null": s0, "sse": s1, "fixed": ()})
    final: tuple[float, ...] = (g1,)
    if n_thresholds >= 2:
        g2, s2, base2, c22 = step((g1,), trims[1], "Th-22")
        g1r, _, _, c21 = step((g2,), trims[1], "Th-21")
        curves += [c21, c22]
        th_rows += [("Th-21", g1r, float(c21["sse"].min()), *_ci(c21, crit)),
                    ("Th-22", g2, s2, *_ci(c22, crit))]
        tests.append({"sse_null": base2, "sse": s2, "fixed": (g1,)})
        final = (g1r, g2)
    if n_thresholds == 3:
        g3, s3, base3, c3 = step(final, trims[2], "Th-3")
        curves.append(c3)
        th_rows.append(("Th-3", g3, s3, *_ci(c3, crit)))
        tests.append({"sse_null": base3, "sse": s3, "fixed": final})
        final = (*final, g3)
    final = tuple(sorted(final))

    rng = np.random.default_rng(seed)
    bar = tqdm(total=sum(boots), disable=not progress, desc=f"threshold bootstrap {y}", unit="draw")
    test_rows = []
    for j, t in enumerate(tests):
        f_stat = (t["sse_null"] - t["sse"]) / (t["sse"] / nu)
        draws = _bootstrap(panel, searchers, [trims[j]] * (j + 1), yt[:, 0], t["fixed"], boots[j], nu, rng, bar) \
            if boots[j] > 0 else np.array([])
        row = {"test": TEST_NAMES[j], "rss": t["sse"], "mse": t["sse"] / nu, "f_stat": f_stat,
               "p_value": float(np.mean(draws > f_stat)) if len(draws) else np.nan, "draws": len(draws)}
        srt = np.sort(draws)
        for lab, lev in (("crit10", 0.90), ("crit5", 0.95), ("crit1", 0.99)):
            row[lab] = float(srt[math.ceil(lev * len(srt)) - 1]) if len(srt) else np.nan
        test_rows.append(row)
    bar.close()

    # Regime coefficients at the estimated thresholds: FE regression with clustered (CRV1) errors.
    regimes = np.searchsorted(np.asarray(final), df[q].to_numpy(dtype=float), side="left")   # 0 = q <= g_1
    frame = df.copy()
    terms = []
    for r_ in range(len(final) + 1):
        for x in xs:
            name = f"{x}_regime{r_ + 1}"
            frame[name] = frame[x] * (regimes == r_)
            terms.append(name)
    fe = (unit, time) if time_effects else (unit,)
    fit = feols(frame, y=y, x=terms, controls=controls, fe=fe, cluster=cluster or unit, vcov="cluster",
                model_id=model_id, unit=unit, time=time)
    bounds = [-np.inf, *final, np.inf]
    regime_table = pd.DataFrame({
        "regime": [f"regime{r_ + 1}" for r_ in range(len(final) + 1)],
        "lower": bounds[:-1], "upper": bounds[1:],
        "rule": [_rule(q, lo, hi) for lo, hi in itertools.pairwise(bounds)],
        "nobs": [int((regimes == r_).sum()) for r_ in range(len(final) + 1)]})
    th_table = pd.DataFrame(th_rows, columns=["threshold", "estimate", "rss", "ci_lower", "ci_upper"]).set_index(
        "threshold")
    test_table = pd.DataFrame(test_rows).set_index("test")
    sample = SampleInfo.of_panel(df, unit=unit, time=time, dropped=info.dropped + (fit.sample.dropped if fit.sample
                                                                                    else []))
    stats = {**fit.stats}
    for j, row in enumerate(test_rows):
        stats[f"F{j + 1}"] = row["f_stat"]
        stats[f"p(F{j + 1})"] = row["p_value"]
    for j, g in enumerate(final):
        stats[f"threshold_{j + 1}"] = g
    return ThresholdResult(
        model_id=model_id, method=f"Hansen (1999) panel threshold, {len(final)} threshold(s)", dependent=y,
        params=fit.params, vcov=fit.vcov, nobs=fit.nobs, df_resid=fit.df_resid, vcov_type=fit.vcov_type,
        cluster=fit.cluster, n_clusters=fit.n_clusters, fixed_effects=fit.fixed_effects, sample=sample,
        stats=stats, thresholds=final,
        tables={"thresholds": th_table, "threshold_tests": test_table, "regimes": regime_table,
                "lr": pd.concat(curves, ignore_index=True)},
        notes={"q": q, "regime_x": xs, "controls": controls, "grid": grid, "n_grid": n_grid, "trim": trims,
               "bootstrap": boots, "seed": seed, "transform": "hansen" if hansen_transform else "within",
               "time_effects": time_effects, "level": level, "lr_critical_value": crit,
               "sigma2_denominator": nu},
    )


def _ci(curve: pd.DataFrame, crit: float) -> tuple[float, float]:
    """Smallest and largest candidate whose LR statistic does not exceed the critical value."""
    inside = curve.loc[curve["lr"] <= crit, "gamma"]
    return float(inside.min()), float(inside.max())


def _rule(q: str, lo: float, hi: float) -> str:
    """Human-readable regime rule such as '0.12 < q <= 0.35'."""
    if np.isinf(lo):
        return f"{q} <= {hi:.6g}"
    if np.isinf(hi):
        return f"{q} > {lo:.6g}"
    return f"{lo:.6g} < {q} <= {hi:.6g}"


def _bootstrap(panel: _Panel, searchers: dict[float, _Searcher], trims: list[float], yt: np.ndarray,
               null_fixed: tuple[float, ...], draws: int, nu: int, rng: np.random.Generator,
               bar: Any, chunk: int = 300) -> np.ndarray:
    """Hansen's fixed-regressor bootstrap of F_j (j = len(trims)) under the null of the thresholds `null_fixed`.

    As in Hansen's code, every search inside a draw uses the trimming of the test being bootstrapped.
    """
    null = searchers[trims[-1]].design(null_fixed)
    resid = null.residuals(yt)
    fitted = yt - resid
    n_units = len(panel.sizes)
    blocks = resid.reshape(n_units, -1)               # balanced, sorted by unit: one row per unit
    out = []
    done = 0
    while done < draws:
        size = min(chunk, draws - done)
        pick = rng.integers(0, n_units, size=(size, n_units))
        yb = fitted[:, None] + blocks[pick].reshape(size, -1).T          # (m, B)
        found: list[tuple[float, ...]] = [()] * size
        prev = cur = None
        for s, trim_s in enumerate(trims):
            searcher = searchers[trim_s]
            new_cur = np.empty(size)
            new_found: list[tuple[float, ...]] = [()] * size
            base_all = np.empty(size)
            groups: dict[tuple[float, ...], list[int]] = {}
            for b, f in enumerate(found):
                groups.setdefault(tuple(sorted(f)), []).append(b)
            for key, members in groups.items():
                sse, idx, base = searcher.search(yb[:, members], key)
                cols = np.arange(len(members))
                new_cur[members] = sse[idx, cols]
                base_all[members] = base
                for mb, i in zip(members, idx, strict=True):
                    new_found[mb] = (*key, float(searcher.candidates[i]))
            prev = base_all if s == 0 else cur
            cur, found = new_cur, new_found
        out.append((prev / cur - 1) * nu)
        done += size
        bar.update(size)
    return np.concatenate(out)
