"""Lagged-regressor, moderation (interaction) and split-sample heterogeneity models on the fixed-effects engine.

- `add_lags` builds lags within unit by the value of the time column, so a gap in a unit's years gives
  a missing lag rather than the value of an older year (a row shift would do that silently).
- `lagged` estimates the same fixed-effects regression with x lagged 0, 1, 2, ... periods.
- `moderation` estimates y on x, the moderator and their product (optionally mean-centred, so the main
  effect of x is its effect at the mean moderator) and the marginal effect of x across moderator values
  with delta-method errors from the clustered covariance.
- `split_sample` estimates the regression in each of two subsamples and tests the coefficient difference
  two ways: seemingly unrelated estimation (Stata `suest`: the two models' influence functions stacked,
  summed by cluster, times G/(G-1); clusters that span both groups make the two estimates correlated)
  and a Fisher permutation test that reassigns the groups at random (across units when the grouping is
  constant within unit) and re-estimates the difference. The draws are solved together: rows are pooled
  into cells a reassignment never splits, each draw's within-group normal equations are sums of cell
  moments (one fixed effect swept out exactly, the others as dummies partialled out), so the test costs a
  few matrix products instead of two fixed-effects regressions per draw; the draws equal the per-draw
  regressions to rounding (tests/test_heterogeneity_permutation.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from analysis.fixed_effects import RegressionResult, VcovKind, _as_tuple, demean, feols
from analysis.results import EstimationResult, NotEstimable, SampleInfo, critical_value


def add_lags(data: pd.DataFrame, *, columns: str | Sequence[str], unit: str, time: str,
             lags: int | Sequence[int] = 1, suffix: str = "_lag{k}") -> pd.DataFrame:
    """A copy of `data` with `<col>_lag<k>` = the unit's value k periods earlier (missing across a gap)."""
    cols = list(_as_tuple(columns))
    ks = [lags] if isinstance(lags, int) else list(lags)
    if any(k < 1 for k in ks):
        raise ValueError("lags must be positive integers (use the column itself for lag 0)")
    if data.duplicated([unit, time]).any():
        raise ValueError(f"add_lags: ({unit}, {time}) does not identify rows; lags would be ambiguous")
    t = pd.to_numeric(data[time], errors="raise")
    if not np.allclose(t, np.round(t)):
        raise ValueError(f"add_lags: {time!r} must hold integer periods (years)")
    out = data.copy()
    base = data[[unit, *cols]].assign(_t=t.astype(np.int64))
    key = pd.MultiIndex.from_arrays([data[unit], t.astype(np.int64)])
    for k in ks:
        shifted = base.assign(_t=base["_t"] + k).set_index([unit, "_t"])[cols]
        vals = shifted.reindex(key)
        for c in cols:
            out[c + suffix.format(k=k)] = vals[c].to_numpy()
    return out


def lagged(data: pd.DataFrame, *, y: str, x: str | Sequence[str], unit: str, time: str,
           lags: Sequence[int] = (0, 1, 2, 3), controls: Sequence[str] = (), lag_controls: bool = False,
           fe: str | Sequence[str] | None = None, cluster: str | Sequence[str] | None = None,
           vcov: VcovKind = "cluster", model_id: str = "lagged") -> dict[int, RegressionResult]:
    """The fixed-effects regression of y on x lagged k periods (and controls, lagged too if asked), per k.

    Fixed effects default to unit and time; errors are clustered by unit unless `cluster` is given.
    """
    xs = list(_as_tuple(x))
    fes = _as_tuple(fe) if fe is not None else (unit, time)
    out: dict[int, RegressionResult] = {}
    positive = sorted({k for k in lags if k > 0})
    frame = add_lags(data, columns=xs + (list(controls) if lag_controls else []), unit=unit, time=time,
                     lags=positive) if positive else data
    for k in lags:
        xk = [c if k == 0 else f"{c}_lag{k}" for c in xs]
        ck = [c if (k == 0 or not lag_controls) else f"{c}_lag{k}" for c in controls]
        res = feols(frame, y=y, x=xk, controls=ck, fe=fes, cluster=cluster or unit, vcov=vcov,
                    model_id=f"{model_id}_L{k}", unit=unit, time=time)
        res.notes["lag"] = k
        out[k] = res
    return out


@dataclass(kw_only=True)
class ModerationResult(RegressionResult):
    """A regression with an x-by-moderator interaction and the marginal effect of x across the moderator."""

    interaction: str = ""

    def marginal_effects(self) -> pd.DataFrame:
        """dy/dx at the chosen moderator values, with delta-method standard errors and intervals."""
        return self.tables["marginal_effects"]


def moderation(data: pd.DataFrame, *, y: str, x: str, moderator: str, controls: Sequence[str] = (),
               fe: str | Sequence[str] = (), cluster: str | Sequence[str] | None = None,
               vcov: VcovKind = "cluster", center: bool = True, at: Sequence[float] | None = None,
               level: float = 0.95, unit: str | None = None, time: str | None = None,
               model_id: str = "moderation") -> ModerationResult:
    """y on x, moderator and x*moderator (mean-centred if `center`); marginal effect of x at moderator values.

    `at` are moderator values on the original scale (default: its 10th, 25th, 50th, 75th, 90th percentiles
    and mean in the estimation sample).
    """
    need = list(dict.fromkeys([y, x, moderator, *controls, *_as_tuple(fe), *_as_tuple(cluster)]))
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise KeyError(f"{model_id}: columns not in the data: {missing}")
    frame = data.copy()
    complete = frame[need].notna().all(axis=1)
    means = frame.loc[complete, [x, moderator]].mean() if center else pd.Series({x: 0.0, moderator: 0.0})
    xc, mc = (f"{x}_c", f"{moderator}_c") if center else (x, moderator)
    if center:
        frame[xc] = frame[x] - means[x]
        frame[mc] = frame[moderator] - means[moderator]
    inter = f"{xc}×{mc}"
    frame[inter] = frame[xc] * frame[mc]
    fit = feols(frame, y=y, x=[xc, mc, inter], controls=controls, fe=fe, cluster=cluster, vcov=vcov,
                model_id=model_id, unit=unit, time=time)
    mod = frame.loc[complete, moderator]
    values = list(at) if at is not None else [*mod.quantile([0.1, 0.25, 0.5, 0.75, 0.9]).tolist(), float(mod.mean())]
    labels = ([f"{moderator} = {v:.4g}" for v in at] if at is not None
              else ["p10", "p25", "p50", "p75", "p90", "mean"])
    b, v = fit.params, fit.vcov
    rows = []
    crit = critical_value(level, fit.df_resid)
    for lab, m in zip(labels, values, strict=True):
        d = m - means[moderator]
        est = b[xc] + d * b[inter]
        var = v.loc[xc, xc] + d * d * v.loc[inter, inter] + 2 * d * v.loc[xc, inter]
        se = float(np.sqrt(max(var, 0.0)))
        rows.append({"at": lab, "moderator_value": m, "marginal_effect": est, "std_error": se,
                     "ci_lower": est - crit * se, "ci_upper": est + crit * se})
    tables = {**fit.tables, "marginal_effects": pd.DataFrame(rows)}
    return ModerationResult(**{**{f: getattr(fit, f) for f in fit.__dataclass_fields__}, "tables": tables,
                               "interaction": inter,
                               "notes": {**fit.notes, "centered_at": means.to_dict() if center else None}})


@dataclass(kw_only=True)
class SplitSampleResult(EstimationResult):
    """Coefficients of x in two subsamples, their difference, a suest covariance and a permutation p-value."""

    groups: tuple[Any, Any] = ()
    results: dict[Any, RegressionResult] = field(default_factory=dict)
    permutation_draws: np.ndarray | None = None


def _group_fit(df: pd.DataFrame, *, y: str, regs: list[str], fes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients and per-row influence functions (X~'X~)^{-1} x~_i e_i after absorbing `fes`."""
    mat = df[[y, *regs]].to_numpy(dtype=float)
    if fes:
        from pyfixest.core import demean as fast_demean

        # pyfixest's compiled alternating projections: the permutation test demeans once per draw.
        flist = np.column_stack([pd.factorize(df[f])[0] for f in fes]).astype(np.uint64)
        mat, converged = fast_demean(np.ascontiguousarray(mat), flist, np.ones(len(mat)), tol=1e-12,
                                     maxiter=100_000)
        if not converged:
            mat = demean(df[[y, *regs]].to_numpy(dtype=float), [pd.factorize(df[f])[0] for f in fes])
    else:
        mat = mat - mat.mean(axis=0)
    yt, xt = mat[:, 0], mat[:, 1:]
    xtx = xt.T @ xt
    if np.linalg.matrix_rank(xtx) < xt.shape[1]:
        raise NotEstimable("split sample: regressors collinear within a subsample after absorbing fixed effects")
    xtx_inv = np.linalg.inv(xtx)
    beta = xtx_inv @ (xt.T @ yt)
    resid = yt - xt @ beta
    return beta, (xt * resid[:, None]) @ xtx_inv


# Dummy columns above which the permutation draws demean each subsample iteratively instead of solving
# the within-level normal equations exactly (the moment arrays grow with the square of the columns).
_MAX_DUMMIES = 80
# Draws per batch of the exact solver: bounds the (draws x cells) membership matrices held at once.
_BATCH_CELLS = 4_000_000
# Largest (cells x packed moments) array the exact solver builds (240 MB); beyond it (rows permuted one by
# one in a large panel) the draws demean iteratively, in bounded memory.
_MAX_MOMENT_ENTRIES = 30_000_000


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes 0..G-1 of a column's values."""
    return pd.factorize(values)[0].astype(np.int64)


def _indicator(codes: np.ndarray, n_levels: int, weights: np.ndarray | None = None) -> Any:
    """Sparse (levels x rows) matrix of `weights` (default 1): row-to-level sums as one sparse product."""
    from scipy import sparse

    w = np.ones(len(codes)) if weights is None else weights
    return sparse.csr_matrix((w, (codes, np.arange(len(codes)))), shape=(n_levels, len(codes)))


def _permutation_draws(mat: np.ndarray, *, fe_codes: Sequence[np.ndarray], atoms: np.ndarray,
                       members: np.ndarray) -> np.ndarray:
    """x's coefficient in group 1 minus group 0 for each row of `members`; NaN where a group is collinear.

    `mat` holds y and the regressors (x first) of the estimation sample, `atoms` the unit the permutation
    moves (a row, or a whole unit) and `members` (draws x atoms) whether each atom is in group 1. Each
    group absorbs the fixed effects on its own rows, as `_group_fit` does.
    """
    if len(members) == 0:
        return np.empty(0)
    levels = [int(c.max()) + 1 if len(c) else 0 for c in fe_codes]
    order = sorted(range(len(fe_codes)), key=lambda j: -levels[j])
    n_dummies = sum(levels[j] for j in order[1:])
    absorbed = fe_codes[order[0]] if fe_codes else np.zeros(len(mat), dtype=np.int64)
    d = mat.shape[1] + n_dummies
    n_cells = len(np.unique(absorbed * (int(atoms.max()) + 1) + atoms))
    if n_dummies > _MAX_DUMMIES or n_cells * d * (d + 1) // 2 > _MAX_MOMENT_ENTRIES:
        return _demeaned_draws(mat, fe_codes=fe_codes, atoms=atoms, members=members)
    dummies = [np.eye(levels[j])[fe_codes[j]] for j in order[1:]]
    return _exact_draws(np.column_stack([mat, *dummies]), n_main=mat.shape[1], absorbed=absorbed, atoms=atoms,
                        members=members)


def _exact_draws(z: np.ndarray, *, n_main: int, absorbed: np.ndarray, atoms: np.ndarray,
                 members: np.ndarray) -> np.ndarray:
    """Draws by the exact least-squares solution: one fixed effect swept out, the others as dummy columns.

    Within each group the largest fixed effect is removed by demeaning within (level, group) and the other
    fixed effects enter as dummies partialled out of the normal equations (Frisch-Waugh-Lovell). Rows are
    pooled into cells (level x atom) that a permutation never splits, so a draw's cross-products are sums
    of cell moments: one matrix product for all draws instead of a regression per draw.
    """
    n_levels = int(absorbed.max()) + 1
    # Centre within level on the full sample: a per-level shift leaves every within-(level, group)
    # deviation unchanged but keeps the moment sums small (no cancellation in sum(z z') - s s'/n).
    lev = _indicator(absorbed, n_levels)
    counts = np.asarray(lev.sum(axis=1)).ravel()
    z = z - (lev @ z / counts[:, None])[absorbed]
    cell_key, cells = np.unique(absorbed * (int(atoms.max()) + 1) + atoms, return_inverse=True)
    cell_atom, cell_level = cell_key % (int(atoms.max()) + 1), cell_key // (int(atoms.max()) + 1)
    ind = _indicator(cells, len(cell_key))
    d = z.shape[1]
    iu, ju = np.triu_indices(d)
    n_c = np.asarray(ind.sum(axis=1)).ravel()
    s_c = ind @ z
    q_c = ind @ (z[:, iu] * z[:, ju])
    nested = len(cell_key) == n_levels
    if nested:
        # Every level lies in one cell, so it is in a group whole and its mean correction is fixed.
        q_c = q_c - s_c[:, iu] * s_c[:, ju] / n_c[:, None]
    else:
        from scipy import sparse

        # s (cells x d) spread to (cells x levels*d): a draw's per-level sums are one sparse product.
        cols = cell_level[:, None] * d + np.arange(d)[None, :]
        spread = sparse.csr_matrix((s_c.ravel(), (np.repeat(np.arange(len(cell_key)), d), cols.ravel())),
                                   shape=(len(cell_key), n_levels * d))
        lev_c = _indicator(cell_level, n_levels, n_c.astype(float))    # a level's rows in a group
    out = np.full(len(members), np.nan)
    step = max(1, _BATCH_CELLS // max(1, len(cell_key)))
    for start in range(0, len(members), step):
        m1 = members[start:start + step][:, cell_atom].astype(float)
        betas = []
        for m in (1.0 - m1, m1):
            packed = m @ q_c
            cross = np.empty((len(m), d, d))
            cross[:, iu, ju] = packed
            cross[:, ju, iu] = packed
            if not nested:
                s_l = (spread.T @ m.T).T.reshape(len(m), n_levels, d)
                n_l = (lev_c @ m.T).T
                inv_n = np.divide(1.0, n_l, out=np.zeros_like(n_l), where=n_l > 0)
                cross -= np.swapaxes(s_l * inv_n[:, :, None], 1, 2) @ s_l
            betas.append(_schur_solve(cross, n_main=n_main))
        out[start:start + step] = betas[1] - betas[0]
    return out


def _schur_solve(cross: np.ndarray, *, n_main: int) -> np.ndarray:
    """x's coefficient from stacked cross-product matrices of [y, regressors, dummies]; NaN if collinear."""
    main = cross[:, :n_main, :n_main]
    if cross.shape[1] > n_main:
        off, dd = cross[:, :n_main, n_main:], cross[:, n_main:, n_main:]
        w, v = np.linalg.eigh(dd)
        # Dummies are collinear with the swept effect (and absent levels are zero columns): project on the
        # span of the dummies with a pseudo-inverse, as alternating projections do.
        keep = w > 1e-10 * np.max(w, axis=1, keepdims=True)
        inv_w = np.divide(1.0, w, out=np.zeros_like(w), where=keep)
        proj = off @ v
        main = main - (proj * inv_w[:, None, :]) @ np.swapaxes(proj, 1, 2)
    xtx, xty = main[:, 1:, 1:], main[:, 1:, 0]
    beta = np.full(len(cross), np.nan)
    ok = np.linalg.matrix_rank(xtx) == xtx.shape[1]
    if ok.any():
        beta[ok] = np.linalg.solve(xtx[ok], xty[ok][:, :, None])[:, 0, 0]
    return beta


def _demeaned_draws(mat: np.ndarray, *, fe_codes: Sequence[np.ndarray], atoms: np.ndarray,
                    members: np.ndarray) -> np.ndarray:
    """Draws by demeaning each group's rows iteratively (pyfixest), for fixed effects with many levels."""
    from pyfixest.core import demean as fast_demean

    flist = np.column_stack(fe_codes) if fe_codes else None
    out = np.full(len(members), np.nan)
    for b, row in enumerate(members):
        sel1 = row[atoms]
        betas = []
        for sel in (~sel1, sel1):
            sub = mat[sel]
            if flist is not None:
                # Re-code each effect to 0..G-1 on the subsample (the solver sizes its sums by the codes).
                codes = np.column_stack([np.unique(c, return_inverse=True)[1] for c in flist[sel].T])
                sub, converged = fast_demean(np.ascontiguousarray(sub), codes.astype(np.uint64), np.ones(len(sub)),
                                             tol=1e-12, maxiter=100_000)
                if not converged:
                    sub = demean(mat[sel], list(codes.T))
            else:
                sub = sub - sub.mean(axis=0)
            xt, yt = sub[:, 1:], sub[:, 0]
            xtx = xt.T @ xt
            betas.append(np.linalg.solve(xtx, xt.T @ yt)[0] if np.linalg.matrix_rank(xtx) == xt.shape[1]
                         else np.nan)
        out[b] = betas[1] - betas[0]
    return out


def split_sample(data: pd.DataFrame, *, y: str, x: str, by: str, controls: Sequence[str] = (),
                 fe: str | Sequence[str] = (), cluster: str, groups: tuple[Any, Any] | None = None,
                 unit: str | None = None, time: str | None = None, n_permutations: int = 1000,
                 seed: int | None = None, progress: bool = True,
                 permute: Literal["auto", "units", "rows"] = "auto",
                 model_id: str = "split_sample") -> SplitSampleResult:
    """x's coefficient in the two `by` groups and a test of their difference (suest and Fisher permutation).

    Fixed effects are absorbed within each subsample (as separate regressions do). The permutation test
    reassigns the group labels across units (`permute="units"`, the default when `unit` is given and `by`
    is constant within unit) or across rows; p = (1 + #{|d*| >= |d|}) / (1 + draws).
    """
    fes, regs = list(_as_tuple(fe)), [x, *[c for c in controls if c != x]]
    need = list(dict.fromkeys([y, *regs, by, *fes, cluster, *([unit] if unit else [])]))
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise KeyError(f"{model_id}: columns not in the data: {missing}")
    df = data[need + ([time] if time and time not in need else [])]
    complete = df[need].notna().all(axis=1)
    info = SampleInfo(nobs=0)
    info.drop("rows with a missing value", int((~complete).sum()))
    df = df[complete].reset_index(drop=True)
    levels = list(groups) if groups is not None else sorted(df[by].unique().tolist())
    if len(levels) != 2:
        raise NotEstimable(f"{model_id}: {by!r} has {len(levels)} groups ({levels[:5]}); pass groups=(a, b)")
    outside = ~df[by].isin(levels)
    info.drop(f"rows outside the two groups of {by!r}", int(outside.sum()))
    df = df[~outside].reset_index(drop=True)
    member = (df[by] == levels[1]).to_numpy()

    results = {g: feols(df[df[by] == g], y=y, x=[x], controls=regs[1:], fe=fes, cluster=cluster,
                        model_id=f"{model_id}[{g}]", unit=unit, time=time) for g in levels}

    def difference(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coefficient vectors of both groups and the stacked influence functions (rows x 2p)."""
        parts, infl = [], np.zeros((len(df), 2 * len(regs)))
        for j, sel in enumerate((~mask, mask)):
            beta, inf = _group_fit(df[sel], y=y, regs=regs, fes=fes)
            parts.append(beta)
            infl[np.flatnonzero(sel), j * len(regs):(j + 1) * len(regs)] = inf
        return parts[0], parts[1], infl

    b0, b1, infl = difference(member)
    cl = pd.factorize(df[cluster])[0]
    sums = pd.DataFrame(infl).groupby(cl).sum().to_numpy()
    g_n = sums.shape[0]
    v_all = sums.T @ sums * g_n / (g_n - 1)                    # suest: cluster sums, G/(G-1)
    p = len(regs)
    idx0, idx1 = 0, p                                          # position of x in each block
    diff = b1[0] - b0[0]
    var_diff = v_all[idx0, idx0] + v_all[idx1, idx1] - 2 * v_all[idx0, idx1]
    names = [f"{x}[{levels[0]}]", f"{x}[{levels[1]}]", f"{x}[{levels[1]}] - {x}[{levels[0]}]"]
    jac = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 1.0]])
    v2 = v_all[np.ix_([idx0, idx1], [idx0, idx1])]
    vcov = pd.DataFrame(jac @ v2 @ jac.T, index=names, columns=names)
    params = pd.Series([b0[0], b1[0], diff], index=names)

    # Fisher permutation test of the difference.
    mode = permute
    if mode == "auto":
        mode = "units" if unit and df.groupby(unit)[by].nunique().max() == 1 else "rows"
    rng = np.random.default_rng(seed)
    if mode == "units":
        if not unit:
            raise ValueError("permute='units' needs unit=<column>")
        atoms = _codes(df[unit])
        unit_member = pd.Series(member).groupby(atoms).first().to_numpy()
    else:
        atoms, unit_member = np.arange(len(df)), member
    # The draws are taken in the order the one-regression-per-draw loop took them, so a seed gives the
    # same reassignments; the regressions are then solved for all draws at once.
    members = np.array([rng.permutation(unit_member) for _ in range(n_permutations)], dtype=bool) \
        .reshape(n_permutations, len(unit_member))
    with tqdm(total=n_permutations, disable=not progress or n_permutations == 0, desc=f"permutation {x}",
              unit="draw") as bar:
        draws = _permutation_draws(df[[y, *regs]].to_numpy(dtype=float), fe_codes=[_codes(df[f]) for f in fes],
                                   atoms=atoms, members=members)
        bar.update(n_permutations)
    ok = draws[np.isfinite(draws)]
    p_perm = (1 + int(np.sum(np.abs(ok) >= abs(diff) - 1e-12))) / (1 + len(ok)) if len(ok) else np.nan
    inference = pd.DataFrame({"p_value": [np.nan, np.nan, p_perm]}, index=names) if n_permutations else None
    group_table = pd.DataFrame([{"group": g, "estimate": r.params[x], "std_error": r.std_errors[x],
                                 "p_value": r.pvalues[x], "nobs": r.nobs, "n_clusters": r.n_clusters}
                                for g, r in results.items()]).set_index("group")
    test_table = pd.DataFrame([{"difference": diff, "suest_std_error": float(np.sqrt(var_diff)),
                                "suest_p_value": float(2 * stats.t.sf(abs(diff) / np.sqrt(var_diff),
                                                                      g_n - 1)),
                                "permutation_p_value": p_perm, "permutation_draws": len(ok),
                                "permute": mode}])
    sample = SampleInfo.of_panel(df, unit=unit, time=time, dropped=info.dropped)
    return SplitSampleResult(
        model_id=model_id, method="split-sample regressions with suest and permutation tests", dependent=y,
        params=params, vcov=vcov, nobs=len(df), df_resid=g_n - 1, vcov_type=f"suest, cluster ({cluster})",
        cluster=(cluster,), n_clusters=g_n, fixed_effects=tuple(fes), sample=sample, inference=inference,
        tables={"groups": group_table, "difference_test": test_table}, groups=(levels[0], levels[1]),
        results=results, permutation_draws=ok,
        notes={"by": by, "controls": regs[1:], "seed": seed, "permute": mode,
               "suest_vcov_all": pd.DataFrame(v_all)},
    )
