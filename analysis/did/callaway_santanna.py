"""Callaway & Sant'Anna (2021) group-time ATTs for staggered adoption, reproducing R `did` 2.x (panel data).

For every treated cohort g (first treatment period) and period t the estimator runs a 2x2 DID of the long
difference Y_t - Y_base between cohort g and a comparison group, exactly as `did::att_gt(panel=TRUE)`:

- base period: "varying" (default) uses t-1 before treatment and g-1-anticipation after; "universal" always
  uses g-1-anticipation (and reports ATT(g, g-1-anticipation) = 0);
- comparison: never-treated units, or not-yet-treated units (never treated, or first treated after
  max(t, base) + anticipation, cohort g excluded) — `get_did_cohort_index` in `compute.att_gt2.R`;
- 2x2 estimator: Sant'Anna & Zhao (2020) improved doubly robust (`DRDID::drdid_panel`), outcome regression
  (`DRDID::reg_did_panel`) or normalised IPW (`DRDID::std_ipw_did_panel`), covariates taken in the earlier of
  the two periods, with their influence functions (estimation effect of the logit and the OLS included).

Standard errors come from the influence functions (se = sqrt(sum IF^2)/n), aggregations (`aggte`: simple,
group, dynamic, calendar) add the influence function of the estimated cohort shares (`wif`), and the
multiplier bootstrap (`mboot`: Rademacher or Mammen weights, cluster sums, IQR-based standard errors, sup-t
uniform bands) is vectorised over draws. Tests compare with R `did` on `mpdta`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit
from tqdm.auto import tqdm

from analysis.results import EstimationResult, NotEstimable, SampleInfo

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ControlGroup = Literal["never", "notyet"]
Method = Literal["dr", "reg", "ipw"]
AggKind = Literal["simple", "group", "dynamic", "calendar"]

# R flags standard errors below this as degenerate (`se[se <= sqrt(.Machine$double.eps)*10] <- NA`).
_SE_TINY = math.sqrt(np.finfo(float).eps) * 10
_EPS = np.finfo(float).eps
# DRDID trims comparison units whose propensity score reaches this level (`trim.level`).
_TRIM_LEVEL = 0.995
_IQR_NORMAL = stats.norm.ppf(0.75) - stats.norm.ppf(0.25)
_CONTROL_ALIASES = {"never": "never", "nevertreated": "never", "notyet": "notyet", "notyettreated": "notyet"}
_CONTROL_LABEL = {"never": "never treated", "notyet": "not yet treated"}
_METHOD_LABEL = {"dr": "doubly robust (Sant'Anna-Zhao)", "reg": "outcome regression", "ipw": "normalised IPW"}


# --------------------------------------------------------------------------------------------------------
# Data preparation (did:::pre_process_did2 / did_standardization)
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Panel:
    """A balanced panel in wide form: what the 2x2 estimators need."""

    ids: np.ndarray  # (n,) unit ids, sorted
    periods: np.ndarray  # (T,) sorted time periods
    y: np.ndarray  # (n, T) outcomes
    x: np.ndarray | None  # (n, T, k) covariates, or None
    g: np.ndarray  # (n,) first treatment period, inf = never treated (or treated after the window)
    glist: np.ndarray  # treated cohorts for which ATT(g,t) is estimated
    cluster: np.ndarray  # (n,) cluster codes 0..C-1 (the unit itself unless `cluster` is given)
    n_clusters: int
    notes: list[str]
    dropped: list[dict[str, object]]


def _note(notes: list[str], text: str) -> None:
    """Record a data-handling decision in the result and warn, as R's `att_gt` does."""
    notes.append(text)
    warnings.warn(text, stacklevel=4)


def _prepare(data: pd.DataFrame, y: str, unit: str, time: str, group: str, covariates: list[str],
             control_group: str, anticipation: float, cluster: str | None) -> _Panel:
    """Validate the long panel and reshape it to wide arrays, dropping units exactly as R `did` does."""
    notes: list[str] = []
    dropped: list[dict[str, object]] = []

    def drop(reason: str, rows: int) -> None:
        if rows:
            dropped.append({"reason": reason, "rows": int(rows)})

    cols = list(dict.fromkeys([unit, time, group, y, *covariates] + ([cluster] if cluster else [])))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"columns not in data: {missing}")
    df = data[cols].copy()
    for c in (time, group, y, *covariates):
        if not pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
            raise TypeError(f"column {c!r} must be numeric (R `did` requires numeric time, group and covariates)")
    if df[time].isna().any() or df[unit].isna().any():
        raise ValueError(f"{unit!r} and {time!r} must not be missing")
    # mpdta convention: 0 = never treated; NaN means the same here.
    df[group] = df[group].astype(float).fillna(0.0)
    if df.duplicated([unit, time]).any():
        raise ValueError(f"({unit}, {time}) is not unique: some units are observed more than once in a period")
    if (df.groupby(unit, sort=False)[group].nunique() > 1).any():
        raise ValueError(f"{group!r} must be constant within unit (treatment is irreversible)")
    if cluster and (df.groupby(unit, sort=False)[cluster].nunique(dropna=False) > 1).any():
        raise ValueError(f"cluster variable {cluster!r} varies over time within units; R `did` cannot handle that")

    # Rows with a missing outcome or covariate go first (did_standardization: complete.cases).
    keep_rows = df[[y, *covariates]].notna().all(axis=1).to_numpy()
    n_rows_missing = int((~keep_rows).sum())
    units_missing = set(df.loc[~keep_rows, unit])
    drop(f"rows with a missing {y!r} or control", n_rows_missing)
    df = df[keep_rows]
    periods = np.sort(df[time].unique()).astype(float)

    g = df[group].to_numpy(dtype=float, copy=True)
    g[g == 0] = np.inf
    # Units first treated after the last period (+ anticipation) are never treated within the window.
    late = np.isfinite(g) & (g > periods[-1] + anticipation)
    if late.any():
        _note(notes, f"{df.loc[late, unit].nunique()} units first treated after {periods[-1]:g} are used as "
                     "never treated")
        g[late] = np.inf
    df = df.assign(_g=g)

    glist = np.unique(g)
    g_cap = np.inf  # cohorts from here on only serve as comparisons
    if not np.isinf(glist).any():
        # No never-treated units: R drops the periods from the last cohort's (anticipated) treatment on.
        latest = glist[np.isfinite(glist)].max()
        drop(f"rows in periods >= {latest - anticipation:g} (no never-treated units)",
             int((df[time] >= latest - anticipation).sum()))
        df = df[df[time] < latest - anticipation]
        if control_group == "never":
            _note(notes, f"no never-treated units: cohort {latest:g} is used as never treated and periods "
                         f">= {latest - anticipation:g} are dropped (as R did)")
            df.loc[df["_g"] == latest, "_g"] = np.inf
        else:
            _note(notes, f"no never-treated units: periods >= {latest - anticipation:g} are dropped and cohort "
                         f"{latest:g} only serves as comparison (as R did)")
        periods = np.sort(df[time].unique()).astype(float)
        if control_group != "never":
            g_cap = latest
    if len(periods) < 2:
        raise NotEstimable("need at least two time periods")

    first_treated = np.isfinite(df["_g"].to_numpy()) & (df["_g"].to_numpy() <= periods[0] + anticipation)
    if first_treated.any():
        _note(notes, f"dropped {df.loc[first_treated, unit].nunique()} units already treated in the first "
                     f"period {periods[0]:g}" + (f" (anticipation = {anticipation:g})" if anticipation else ""))
        drop("rows of units already treated in the first period", int(first_treated.sum()))
        df = df[~first_treated]
        periods = np.sort(df[time].unique()).astype(float)
    glist = np.unique(df["_g"].to_numpy())
    glist = glist[np.isfinite(glist) & (glist > periods[0] + anticipation) & (glist < g_cap)]
    if len(glist) == 0:
        raise NotEstimable(f"no treated cohort in {group!r} with a pre-treatment period")

    # Balanced panel: units not observed in every period are dropped (R: "Converting to balanced panel").
    counts = df.groupby(unit, sort=False)[time].transform("size").to_numpy()
    short = set(df.loc[counts < len(periods), unit])
    if short:
        _note(notes, f"dropped {len(short)} units not observed in all {len(periods)} periods "
                     f"({len(short & units_missing)} of them for a missing {y!r} or covariate) to balance the "
                     "panel, as R did with panel=TRUE")
        drop("rows of units not observed in every period (balanced panel, as R did)",
             int((counts < len(periods)).sum()))
        df = df[counts == len(periods)]
    elif n_rows_missing:
        _note(notes, f"dropped {n_rows_missing} rows with a missing {y!r} or covariate")
    if df.empty:
        raise NotEstimable("no units left after balancing the panel")

    df = df.sort_values([unit, time])
    ids = df[unit].drop_duplicates().to_numpy()
    n, n_t = len(ids), len(periods)
    yw = df[y].to_numpy(dtype=float).reshape(n, n_t)
    xw = df[covariates].to_numpy(dtype=float).reshape(n, n_t, len(covariates)) if covariates else None
    gu = df["_g"].to_numpy().reshape(n, n_t)[:, 0]
    if cluster:
        codes, uniq = pd.factorize(df[cluster].to_numpy().reshape(n, n_t)[:, 0])
        if (codes < 0).any():
            raise ValueError(f"cluster variable {cluster!r} has missing values")
        n_clusters = len(uniq)
    else:
        codes, n_clusters = np.arange(n), n
    return _Panel(ids=ids, periods=periods, y=yw, x=xw, g=gu, glist=glist, cluster=codes,
                  n_clusters=n_clusters, notes=notes, dropped=dropped)


# --------------------------------------------------------------------------------------------------------
# 2x2 estimators with influence functions (DRDID::drdid_panel, reg_did_panel, std_ipw_did_panel)
# --------------------------------------------------------------------------------------------------------


def _rcond(a: np.ndarray) -> float:
    """Reciprocal 1-norm condition number (R `rcond`), 0 for singular matrices."""
    try:
        return float(1.0 / np.linalg.cond(a, 1))
    except np.linalg.LinAlgError:
        return 0.0


def _logit(x: np.ndarray, d: np.ndarray, w: np.ndarray, tol: float = 1e-12,
           max_iter: int = 100) -> tuple[np.ndarray, bool]:
    """Weighted logit by Newton-Raphson (the MLE that R `glm`/`fastglm` converge to): fitted p, converged."""
    # R's starting values: mu = (w*y + 0.5)/(w + 1), eta = logit(mu), then least squares for beta.
    mu0 = (w * d + 0.5) / (w + 1)
    beta = np.linalg.lstsq(x, np.log(mu0 / (1 - mu0)), rcond=None)[0]

    def loglik(b: np.ndarray) -> float:
        eta = x @ b
        return float(np.sum(w * (d * eta - np.logaddexp(0.0, eta))))

    ll = loglik(beta)
    for _ in range(max_iter):
        p = expit(x @ beta)
        grad = x.T @ (w * (d - p))
        hess = (x * (w * p * (1 - p))[:, None]).T @ x
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        # Step halving keeps the (concave) log-likelihood increasing far from the optimum.
        for _ in range(50):
            new = beta + step
            ll_new = loglik(new)
            if ll_new >= ll - 1e-12 * (1 + abs(ll)):
                break
            step = step / 2
        beta, ll = new, ll_new
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            return expit(x @ beta), True
    return expit(x @ beta), False


def _wols(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares coefficients."""
    sw = np.sqrt(w)
    return np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)[0]


def _ols_linear_rep(x: np.ndarray, dy: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Comparison-group OLS of dy on x: fitted values for everyone and the OLS asymptotic linear representation."""
    n = len(d)
    ctrl = d == 0
    beta = _wols(x[ctrl], dy[ctrl], w[ctrl])
    out = x @ beta
    w_ols = w * (1 - d)
    xpx = (w_ols[:, None] * x).T @ x / n
    if _rcond(xpx) < _EPS:
        raise np.linalg.LinAlgError("the regression design matrix is singular")
    asy_ols = (w_ols * (dy - out))[:, None] * x @ np.linalg.inv(xpx)
    return out, asy_ols


def _pscore_linear_rep(x: np.ndarray, d: np.ndarray, w: np.ndarray,
                       ps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Logit propensity score (clipped below 1) and the logit's asymptotic linear representation."""
    n = len(d)
    ps = np.minimum(_logit(x, d, w)[0] if ps is None else ps, 1 - 1e-6)
    xtwx = (x * (ps * (1 - ps) * w)[:, None]).T @ x
    if _rcond(xtwx) < _EPS:
        raise np.linalg.LinAlgError("the propensity score design matrix is singular")
    asy_ps = (w * (d - ps))[:, None] * x @ (np.linalg.inv(xtwx) * n)
    return ps, asy_ps


def _drdid_panel(dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray,
                 ps: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Improved doubly robust DID and its influence function (mirrors `DRDID::drdid_panel`)."""
    w = w / w.mean()
    ps, asy_ps = _pscore_linear_rep(x, d, w, ps)
    trim = np.where(d == 0, ps < _TRIM_LEVEL, True)
    out, asy_ols = _ols_linear_rep(x, dy, d, w)
    w_t = trim * w * d
    w_c = trim * w * ps * (1 - d) / (1 - ps)
    att_t, att_c = w_t * (dy - out), w_c * (dy - out)
    eta_t, eta_c = att_t.mean() / w_t.mean(), att_c.mean() / w_c.mean()
    # Treated component: leading term minus the estimation effect of the OLS coefficients.
    inf_t = (att_t - w_t * eta_t - asy_ols @ (w_t[:, None] * x).mean(0)) / w_t.mean()
    # Control component: leading term, plus the logit's estimation effect, minus the OLS one.
    m2 = ((w_c * (dy - out - eta_c))[:, None] * x).mean(0)
    m3 = (w_c[:, None] * x).mean(0)
    inf_c = (att_c - w_c * eta_c + asy_ps @ m2 - asy_ols @ m3) / w_c.mean()
    return float(eta_t - eta_c), inf_t - inf_c


def _reg_did_panel(dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray,
                   ps: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Outcome-regression DID and its influence function (mirrors `DRDID::reg_did_panel`)."""
    out, asy_ols = _ols_linear_rep(x, dy, d, w)
    w_t = w * d
    att_t, att_c = w_t * dy, w_t * out
    eta_t, eta_c = att_t.mean() / w_t.mean(), att_c.mean() / w_t.mean()
    inf_t = (att_t - w_t * eta_t) / w_t.mean()
    inf_c = (att_c - w_t * eta_c + asy_ols @ (w_t[:, None] * x).mean(0)) / w_t.mean()
    return float(eta_t - eta_c), inf_t - inf_c


def _std_ipw_did_panel(dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray,
                       ps: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Normalised (Hajek) IPW DID and its influence function (mirrors `DRDID::std_ipw_did_panel`)."""
    w = w / w.mean()
    ps, asy_ps = _pscore_linear_rep(x, d, w, ps)
    trim = np.where(d == 0, ps < _TRIM_LEVEL, True)
    w_t = trim * w * d
    w_c = trim * w * ps * (1 - d) / (1 - ps)
    att_t, att_c = w_t * dy, w_c * dy
    eta_t, eta_c = att_t.mean() / w_t.mean(), att_c.mean() / w_c.mean()
    inf_t = (att_t - w_t * eta_t) / w_t.mean()
    m2 = ((w_c * (dy - eta_c))[:, None] * x).mean(0)
    inf_c = (att_c - w_c * eta_c + asy_ps @ m2) / w_c.mean()
    return float(eta_t - eta_c), inf_t - inf_c


_ESTIMATORS = {"dr": _drdid_panel, "reg": _reg_did_panel, "ipw": _std_ipw_did_panel}


# --------------------------------------------------------------------------------------------------------
# Multiplier bootstrap (did::mboot, BMisc::multiplier_bootstrap), vectorised over draws
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Multiplier:
    """Multiplier-bootstrap draws at the cluster level, regenerated identically from one seed for every use."""

    draws: int
    cluster: np.ndarray
    n_clusters: int
    seed: np.random.SeedSequence
    weights: Literal["rademacher", "mammen"] = "rademacher"
    chunk: int = 256

    def _weights(self, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
        """Mean-zero, unit-variance multipliers (Rademacher as `BMisc`, or Mammen as `DRDID::mboot.did`)."""
        if self.weights == "rademacher":
            return rng.integers(0, 2, size=size, dtype=np.int8).astype(float) * 2 - 1
        s5 = math.sqrt(5)
        return np.where(rng.random(size) < (s5 + 1) / (2 * s5), (1 - s5) / 2, (1 + s5) / 2)

    def replicate(self, inf: np.ndarray, progress: bool = False) -> np.ndarray:
        """Bootstrap draws of sqrt(C) * mean_c(V_c * S_c) for an (n, k) influence-function matrix: (draws, k)."""
        inf = np.atleast_2d(inf.T).T
        # Cluster sums of the influence function (did >= 2.2 mboot: `rowsum(inf.func, cluster)`).
        sums = np.zeros((self.n_clusters, inf.shape[1]))
        np.add.at(sums, self.cluster, inf)
        rng = np.random.default_rng(self.seed)
        out = np.empty((self.draws, inf.shape[1]))
        with tqdm(total=self.draws, desc="multiplier bootstrap", unit="draw", disable=not progress,
                  leave=False) as bar:
            for start in range(0, self.draws, self.chunk):
                b = min(self.chunk, self.draws - start)
                out[start:start + b] = self._weights(rng, (b, self.n_clusters)) @ sums / math.sqrt(self.n_clusters)
                bar.update(b)
        return out

    def inference(self, inf: np.ndarray, alpha: float, progress: bool = False,
                  band: int | None = None) -> tuple[np.ndarray, float]:
        """Bootstrap standard errors (IQR-based) and the sup-t critical value over the first `band` columns."""
        n = inf.shape[0]
        bres = self.replicate(inf, progress)
        # Degenerate columns (NaN or all-zero draws) get no standard error, as in `mboot` (ndg.dim).
        ok = np.isfinite(bres).all(0) & ((bres**2).sum(0) > _SE_TINY)
        se = np.full(bres.shape[1], np.nan)
        if ok.any():
            q75, q25 = np.quantile(bres[:, ok], [0.75, 0.25], axis=0, method="inverted_cdf")  # R type=1
            se[ok] = (q75 - q25) / _IQR_NORMAL * math.sqrt(self.n_clusters) / n
        cols = ok if band is None else ok & (np.arange(bres.shape[1]) < band)
        return se, self._crit(bres[:, cols], alpha)

    @staticmethod
    def _crit(bres: np.ndarray, alpha: float) -> float:
        """Sup-t critical value: the (1-alpha) quantile of max_j |b_j / sigma_j| over draws (`mboot`'s crit.val)."""
        if bres.shape[1] == 0:
            return float("nan")
        q75, q25 = np.quantile(bres, [0.75, 0.25], axis=0, method="inverted_cdf")
        sigma = (q75 - q25) / _IQR_NORMAL
        good = sigma > _SE_TINY
        if not good.any():
            return float("nan")
        bt = np.max(np.abs(bres[:, good] / sigma[good]), axis=1)
        return float(np.quantile(bt[np.isfinite(bt)], 1 - alpha, method="inverted_cdf"))


def _analytic_se(inf: np.ndarray) -> np.ndarray:
    """sqrt(mean(IF^2)/n) column by column (`did::getSE`, att_gt's `sqrt(diag(V)/n)`)."""
    inf = np.atleast_2d(inf.T).T
    n = inf.shape[0]
    return np.sqrt((inf**2).sum(0)) / n


# --------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------


from analysis.results import stars as _stars  # noqa: E402


def _agg_figure(figsize: tuple[float, float]) -> Figure:
    """A figure on the Agg canvas: no pyplot state, no GUI backend, never shown (imported lazily)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _fmt(x: float, digits: int) -> str:
    """A number, or blank when missing."""
    return f"{x:.{digits}f}" if np.isfinite(x) else ""


_TERM_PREFIX = {"dynamic": "event_time", "group": "cohort", "calendar": "period"}


@dataclass(kw_only=True)
class CSAggregate(EstimationResult):
    """An aggregation of ATT(g,t) (R `aggte`): per-level effects and the overall ATT with their inference.

    As an `EstimationResult` the terms are the levels (`event_time::e`, `cohort::g`, `period::t`) and `ATT`
    (the overall effect); `vcov` is diagonal (the bootstrap gives standard errors, not covariances) and the
    intervals of the levels use the uniform band's critical value when bootstrapped with `cband`.
    """

    kind: str
    levels: pd.DataFrame  # egt, att, se, ci_lower, ci_upper (empty for "simple")
    overall_att: float
    overall_se: float
    crit_val: float  # critical value of the per-level intervals (uniform band if bootstrapped with cband)
    alpha: float
    influence: np.ndarray = field(repr=False)  # (n, levels) influence functions of the per-level effects
    overall_influence: np.ndarray = field(repr=False)  # (n,) influence function of the overall ATT
    info: dict[str, object] = field(default_factory=dict)

    @property
    def overall_ci(self) -> tuple[float, float]:
        """Pointwise normal interval for the overall ATT (R's summary.AGGTEobj)."""
        z = stats.norm.ppf(1 - self.alpha / 2)
        return self.overall_att - z * self.overall_se, self.overall_att + z * self.overall_se

    @property
    def overall_pvalue(self) -> float:
        """Two-sided normal p-value of the overall ATT."""
        return float(2 * stats.norm.sf(abs(self.overall_att / self.overall_se)))

    def to_frame(self) -> pd.DataFrame:
        """Per-level rows plus an 'overall' row, one tidy frame."""
        lo, hi = self.overall_ci
        overall = pd.DataFrame({"egt": ["overall"], "att": [self.overall_att], "se": [self.overall_se],
                                "ci_lower": [lo], "ci_upper": [hi]})
        levels = self.levels.astype({"egt": object})
        return pd.concat([levels, overall], ignore_index=True) if len(levels) else overall

    def _label(self, v: object) -> str:
        """Row label of a level."""
        if self.kind == "dynamic":
            return f"e = {int(v):+d}" if int(v) != 0 else "e = 0"
        return f"{'g' if self.kind == 'group' else 't'} = {v}"

    def _table(self, digits: int = 4) -> pd.DataFrame:
        """Estimates with stars, standard errors in parentheses, then the estimation footer."""
        rows: list[tuple[str, str]] = []
        for r in self.levels.itertuples(index=False):
            p = 2 * stats.norm.sf(abs(r.att / r.se)) if np.isfinite(r.se) and r.se > 0 else np.nan
            rows += [(self._label(r.egt), f"{_fmt(r.att, digits)}{_stars(p)}"), ("", f"({_fmt(r.se, digits)})")]
        overall_name = {"simple": "ATT (simple)", "group": "ATT (average over cohorts)",
                        "dynamic": "ATT (average over e ≥ 0)", "calendar": "ATT (average over periods)"}[self.kind]
        rows += [(overall_name, f"{_fmt(self.overall_att, digits)}{_stars(self.overall_pvalue)}"),
                 ("", f"({_fmt(self.overall_se, digits)})")]
        rows += [(k, str(v)) for k, v in self.info.items() if k != "Outcome"]
        return pd.DataFrame(rows, columns=["", str(self.info.get("Outcome", "ATT"))]).set_index("")

    def to_markdown(self) -> str:
        """A Markdown table (standard errors in parentheses; * p<0.10, ** p<0.05, *** p<0.01, normal p-values)."""
        return (self._table().to_markdown()
                + "\n\nStandard errors in parentheses; * p<0.10, ** p<0.05, *** p<0.01 (pointwise, normal).\n")

    def to_latex(self) -> str:
        """A LaTeX tabular for papers."""
        return self._table().to_latex(escape=True)

    def to_html(self) -> str:
        """An HTML table for notebooks and the Dagster UI."""
        return self._table().to_html()

    def plot(self, title: str | None = None) -> Figure:
        """Point estimates with confidence intervals (event-study style for "dynamic"); a matplotlib Figure."""
        if self.levels.empty:
            raise ValueError("the simple aggregation has no levels to plot")
        fig = _agg_figure((7, 4))
        ax = fig.add_subplot()
        lv = self.levels
        x = lv["egt"].to_numpy(dtype=float)
        pre = x < 0 if self.kind == "dynamic" else np.zeros(len(x), dtype=bool)
        for mask, color, label in ((pre, "#1f77b4", "pre-treatment"), (~pre, "#d62728", "post-treatment")):
            if mask.any():
                att = lv["att"].to_numpy()[mask]
                err = np.vstack([att - lv["ci_lower"].to_numpy()[mask], lv["ci_upper"].to_numpy()[mask] - att])
                ax.errorbar(x[mask], att, yerr=err, fmt="o", color=color, capsize=3, label=label)
        ax.axhline(0, color="black", linewidth=0.8)
        if self.kind == "dynamic":
            ax.axvline(-0.5, color="grey", linestyle="--", linewidth=0.8)
            ax.set_xlabel("Event time (periods since first treatment)")
            ax.legend(frameon=False)
        else:
            ax.set_xlabel("Cohort (first treatment period)" if self.kind == "group" else "Calendar period")
        ax.set_xticks(x)
        ax.set_xticklabels([f"{int(v)}" if float(v).is_integer() else f"{v:g}" for v in x])
        band = "uniform" if str(self.info.get("Intervals", "")).startswith("uniform") else "pointwise"
        ax.set_ylabel(f"ATT ({100 * (1 - self.alpha):.0f}% {band} CI)")
        ax.set_title(title or f"{self.kind.capitalize()} ATT: overall {self.overall_att:.4f} "
                              f"(SE {self.overall_se:.4f})")
        return fig

    def __str__(self) -> str:
        return self.to_markdown()


@dataclass(kw_only=True)
class CallawaySantAnnaResult(EstimationResult):
    """Group-time ATTs with their influence functions; `aggregate` reproduces R's `aggte`.

    As an `EstimationResult` the terms are `att_gt::g::t` with a diagonal `vcov`.
    """

    att_gt: pd.DataFrame
    influence: np.ndarray = field(repr=False)  # (n, cells) influence functions, n = units
    unit_groups: np.ndarray = field(repr=False)  # (n,) first treatment period per unit (inf = never)
    periods: np.ndarray = field(repr=False)
    y: str = ""
    control_group: str = "never"
    estimator: str = "dr"
    base_period: str = "varying"
    anticipation: float = 0
    alpha: float = 0.05
    n_units: int = 0
    controls: list[str] = field(default_factory=list)
    crit_val: float = float("nan")
    bootstrap_draws: int = 0
    cband: bool = True
    warnings: list[str] = field(default_factory=list)
    _multiplier: _Multiplier | None = field(default=None, repr=False)

    # ---- aggregation (did::compute.aggte) ------------------------------------------------------------

    def _wif(self, keepers: np.ndarray, pg: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Influence function of the estimated cohort-share weights (did's `wif`): (n, len(keepers))."""
        ind = (self.unit_groups[:, None] == group[keepers][None, :]).astype(float) - pg[keepers][None, :]
        s = pg[keepers].sum()
        return ind / s - ind.sum(1, keepdims=True) * (pg[keepers] / s**2)[None, :]

    def aggregate(self, kind: AggKind = "dynamic", *, min_e: float = -np.inf, max_e: float = np.inf,
                  balance_e: int | None = None, na_rm: bool = False, model_id: str | None = None) -> CSAggregate:
        """Aggregate ATT(g,t) as R `aggte(type=kind)`: simple, group, dynamic (event time) or calendar.

        As in R, `min_e`/`max_e` bound the event times of "dynamic" (and `max_e` the post-treatment cells of
        "simple" and "group"); `balance_e` keeps only cohorts observed at least `balance_e` periods after
        treatment; `na_rm` drops ATT(g,t) that could not be estimated.
        """
        if kind not in ("simple", "group", "dynamic", "calendar"):
            raise ValueError("kind must be 'simple', 'group', 'dynamic' or 'calendar'")
        tab = self.att_gt
        att = tab["att"].to_numpy(dtype=float)
        group = tab["group"].to_numpy(dtype=float)
        t = tab["time"].to_numpy(dtype=float)
        inf = self.influence
        if np.isnan(att).any():
            if not na_rm:
                raise ValueError("some ATT(g,t) are missing; pass na_rm=True to aggregate the others (R: na.rm)")
            ok = ~np.isnan(att)
            att, group, t, inf = att[ok], group[ok], t[ok], inf[:, ok]
        glist = np.unique(group)
        # Cohort shares P(G = g) over all units (never treated included): did's `pg`.
        pgg = np.array([np.mean(self.unit_groups == g) for g in glist])
        pg = pgg[np.searchsorted(glist, group)]
        post = (group <= t) & (t <= group + max_e)

        def combine(which: np.ndarray, weights: np.ndarray, wif: np.ndarray | None,
                    att_vec: np.ndarray = att, inf_mat: np.ndarray = inf) -> np.ndarray:
            """did's `get_agg_inf_func`: weighted influence functions plus the weights' own term."""
            out = inf_mat[:, which] @ weights
            if wif is not None:
                out = out + wif @ att_vec[which]
            return out

        egt: list[float] = []
        att_l: list[float] = []
        inf_l: list[np.ndarray] = []
        if kind == "simple":
            keep = np.flatnonzero(post)
            overall = float(att[keep] @ pg[keep] / pg[keep].sum())
            overall_if = combine(keep, pg[keep] / pg[keep].sum(), self._wif(keep, pg, group))
        elif kind == "group":
            for g in glist:
                which = np.flatnonzero((group == g) & post)
                if len(which) == 0:
                    continue
                egt.append(g)
                att_l.append(float(att[which].mean()))
                inf_l.append(combine(which, pg[which] / pg[which].sum(), None))
            if not att_l:
                raise NotEstimable("no post-treatment ATT(g,t) to aggregate")
            att_g = np.array(att_l)
            inf_g = np.column_stack(inf_l)
            sel = np.isin(glist, egt)
            pg_sel = pgg[sel]
            overall = float(att_g @ pg_sel / pg_sel.sum())
            # Estimated cohort shares again enter through `wif`, here over cohorts (keepers = 1..nG).
            wif = self._wif(np.arange(len(egt)), pg_sel, np.asarray(egt, dtype=float))
            overall_if = combine(np.arange(len(egt)), pg_sel / pg_sel.sum(), wif, att_g, inf_g)
        elif kind == "dynamic":
            e_all = t - group
            include = np.ones(len(att), dtype=bool)
            eseq = np.unique(e_all)
            if balance_e is not None:
                t_last, t_first = t.max(), self.periods.min()
                include = (t_last - group) >= balance_e
                eseq = np.unique(e_all[include])
                eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t_last + t_first)]
            eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
            for e in eseq:
                which = np.flatnonzero((e_all == e) & include)
                w = pg[which] / pg[which].sum()
                egt.append(e)
                att_l.append(float(att[which] @ w))
                inf_l.append(combine(which, w, self._wif(which, pg, group)))
            epos = np.asarray(egt, dtype=float) >= 0
            if not epos.any():
                raise NotEstimable("no event time e >= 0 left to average")
            overall = float(np.mean(np.asarray(att_l)[epos]))
            overall_if = np.column_stack(inf_l)[:, epos].mean(1)
        else:  # calendar
            for tt in np.unique(t[t >= group.min()]):
                which = np.flatnonzero((t == tt) & (group <= t))  # R's calendar ignores max_e
                if len(which) == 0:
                    continue
                w = pg[which] / pg[which].sum()
                egt.append(tt)
                att_l.append(float(att[which] @ w))
                inf_l.append(combine(which, w, self._wif(which, pg, group)))
            overall = float(np.mean(att_l))
            overall_if = np.column_stack(inf_l).mean(1)

        n = inf.shape[0]
        inf_mat = np.column_stack(inf_l) if inf_l else np.zeros((n, 0))
        z = stats.norm.ppf(1 - self.alpha / 2)
        if self._multiplier is None:
            se_l = _analytic_se(inf_mat) if inf_l else np.zeros(0)
            overall_se = float(_analytic_se(overall_if)[0])
            crit = z
        else:
            # One set of draws for the levels and the overall effect; only the levels form the uniform band.
            se_all, crit_b = self._multiplier.inference(np.column_stack([inf_mat, overall_if]), self.alpha,
                                                        band=inf_mat.shape[1])
            se_l, overall_se = se_all[:-1], float(se_all[-1])
            crit = crit_b if (self.cband and np.isfinite(crit_b)) else z
        se_l = np.where(se_l <= _SE_TINY, np.nan, se_l)
        overall_se = overall_se if overall_se > _SE_TINY else float("nan")
        att_arr = np.asarray(att_l, dtype=float)
        egt_arr = np.asarray(egt, dtype=float)
        levels = pd.DataFrame({"egt": _as_int_if_integral(egt_arr), "att": att_arr, "se": se_l,
                               "ci_lower": att_arr - crit * se_l, "ci_upper": att_arr + crit * se_l})
        terms = [f"{_TERM_PREFIX[kind]}::{v}" for v in levels["egt"]] + ["ATT"]
        est = np.append(att_arr, overall)
        se_vec = np.append(se_l, overall_se)
        inference = pd.DataFrame({"ci_lower": est - np.append(np.full(len(att_arr), crit), z) * se_vec,
                                  "ci_upper": est + np.append(np.full(len(att_arr), crit), z) * se_vec},
                                 index=terms)
        return CSAggregate(
            model_id=model_id or f"callaway_santanna_{kind}",
            method=f"Callaway-Sant'Anna ({_METHOD_LABEL[self.estimator]})", dependent=self.y,
            params=pd.Series(est, index=terms), vcov=pd.DataFrame(np.diag(se_vec**2), terms, terms),
            nobs=self.nobs, vcov_type=self._footer(False)["Standard errors"],
            cluster=self.cluster, n_clusters=self.n_clusters, fixed_effects=(), sample=self.sample,
            inference=inference, notes={"comparison": _CONTROL_LABEL[self.control_group]},
            kind=kind, levels=levels, overall_att=overall, overall_se=overall_se, crit_val=crit,
            alpha=self.alpha, influence=inf_mat, overall_influence=overall_if,
            info=self._footer(uniform=self._multiplier is not None and self.cband and kind != "simple"))

    # ---- publication output ----------------------------------------------------------------------------

    def _footer(self, uniform: bool) -> dict[str, object]:
        """Rows describing the estimation under every table."""
        se = (f"multiplier bootstrap, {self.bootstrap_draws:,} draws, clustered by "
              f"{' + '.join(self.cluster) or 'unit'}" if self._multiplier else "analytic (influence function)")
        level = f"{100 * (1 - self.alpha):.0f}%"
        return {"Outcome": self.y, "Comparison group": _CONTROL_LABEL[self.control_group],
                "Estimator": _METHOD_LABEL[self.estimator],
                "Controls": ", ".join(self.controls) or "none",
                "Base period": self.base_period + (f", anticipation {self.anticipation:g}" if self.anticipation
                                                   else ""),
                "Units": f"{self.n_units:,}", "Standard errors": se,
                "Intervals": f"uniform {level} band" if uniform else f"pointwise {level}"}

    def _att_gt_table(self, digits: int = 4) -> pd.DataFrame:
        """ATT(g,t) rows with stars and standard errors."""
        t = self.att_gt
        p = 2 * stats.norm.sf(np.abs(t["att"] / t["se"]))
        return pd.DataFrame({
            "group": t["group"], "time": t["time"],
            "ATT": [f"{_fmt(a, digits)}{_stars(pv)}" for a, pv in zip(t["att"], p, strict=True)],
            "SE": [_fmt(s, digits) for s in t["se"]],
            "CI": [f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]" for lo, hi in
                   zip(t["ci_lower"], t["ci_upper"], strict=True)],
        })

    def to_markdown(self, kind: Literal["att_gt", "simple", "group", "dynamic", "calendar"] = "dynamic") -> str:
        """A Markdown table of an aggregation (default: the event study) or of all ATT(g,t)."""
        if kind == "att_gt":
            foot = "; ".join(f"{k}: {v}" for k, v in self._footer(self._multiplier is not None and self.cband).items())
            return (self._att_gt_table().to_markdown(index=False, disable_numparse=True)
                    + f"\n\n{foot}. * p<0.10, ** p<0.05, *** p<0.01 (pointwise, normal).\n")
        return self.aggregate(kind).to_markdown()

    def to_latex(self, kind: Literal["att_gt", "simple", "group", "dynamic", "calendar"] = "dynamic") -> str:
        """A LaTeX tabular of an aggregation (default: the event study) or of all ATT(g,t)."""
        if kind == "att_gt":
            return self._att_gt_table().to_latex(escape=True, index=False)
        return self.aggregate(kind).to_latex()

    def to_html(self, kind: Literal["att_gt", "simple", "group", "dynamic", "calendar"] = "dynamic") -> str:
        """An HTML table of an aggregation (default: the event study) or of all ATT(g,t)."""
        if kind == "att_gt":
            return self._att_gt_table().to_html(index=False)
        return self.aggregate(kind).to_html()

    def plot(self, kind: Literal["dynamic", "group", "calendar", "att_gt"] = "dynamic",
             title: str | None = None) -> Figure:
        """Event-study plot (or cohort / calendar / per-cohort ATT(g,t) plot) with intervals; a Figure."""
        if kind != "att_gt":
            return self.aggregate(kind).plot(title)
        groups = self.att_gt["group"].unique()
        fig = _agg_figure((7, 2.2 * len(groups)))
        axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
        for ax, g in zip(axes, groups, strict=True):
            d = self.att_gt[self.att_gt["group"] == g]
            tt, a = d["time"].to_numpy(dtype=float), d["att"].to_numpy()
            lo, hi = d["ci_lower"].to_numpy(), d["ci_upper"].to_numpy()
            pre = tt < g
            for mask, color in ((pre, "#1f77b4"), (~pre, "#d62728")):
                if mask.any():
                    err = np.vstack([a[mask] - lo[mask], hi[mask] - a[mask]])
                    ax.errorbar(tt[mask], a[mask], yerr=err, fmt="o", color=color, capsize=3)
            ax.axhline(0, color="black", linewidth=0.8)
            ax.set_title(f"cohort {g}", fontsize=9)
        axes[-1].set_xticks(self.att_gt["time"].unique())
        axes[-1].set_xlabel("Period")
        fig.suptitle(title or f"ATT(g,t): {self.y}")
        return fig

    def wald_pretest(self) -> dict[str, float]:
        """Wald test that all pre-treatment ATT(g,t) are zero (att_gt's W and Wpval, analytic covariance)."""
        t = self.att_gt
        pre = ((t["group"] > t["time"]) & t["se"].notna()).to_numpy()
        if not pre.any():
            return {"stat": float("nan"), "df": 0, "pvalue": float("nan")}
        n = self.influence.shape[0]
        v = self.influence[:, pre].T @ self.influence[:, pre] / n
        a = t["att"].to_numpy()[pre]
        stat = float(n * a @ np.linalg.solve(v, a))
        return {"stat": stat, "df": int(pre.sum()), "pvalue": float(stats.chi2.sf(stat, pre.sum()))}

    def __str__(self) -> str:
        return self.to_markdown("att_gt")


def _as_int_if_integral(a: np.ndarray) -> np.ndarray:
    """Integers for whole-number periods (years), floats otherwise."""
    return a.astype(np.int64) if len(a) and np.all(np.isfinite(a)) and np.all(a == np.round(a)) else a


# --------------------------------------------------------------------------------------------------------
# Entry point (did::att_gt)
# --------------------------------------------------------------------------------------------------------


def callaway_santanna(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    group: str,
    controls: list[str] | tuple[str, ...] = (),
    control_group: ControlGroup = "never",
    method: Method = "dr",
    base_period: Literal["varying", "universal"] = "varying",
    anticipation: float = 0,
    bootstrap: bool | int = False,
    seed: int | None = None,
    alpha: float = 0.05,
    cluster: str | None = None,
    progress: bool = True,
    cband: bool = True,
    bootstrap_weights: Literal["rademacher", "mammen"] = "rademacher",
    model_id: str = "callaway_santanna",
) -> CallawaySantAnnaResult:
    """Estimate all ATT(g,t) of Callaway & Sant'Anna (2021) on a panel, as R `did::att_gt(panel=TRUE)`.

    `group` holds the first treatment period (0 or NaN = never treated). `bootstrap` is False (analytic
    standard errors), True (1,000 draws, R's default) or a number of draws; `cluster` (a unit-invariant
    column) needs the bootstrap, as in R. `cband` gives uniform bands when bootstrapping.
    """
    covariates = list(controls)
    control = _CONTROL_ALIASES.get(control_group)
    if control is None:
        raise ValueError("control_group must be 'never' or 'notyet'")
    if method not in _ESTIMATORS:
        raise ValueError("method must be 'dr', 'reg' or 'ipw'")
    if base_period not in ("varying", "universal"):
        raise ValueError("base_period must be 'varying' or 'universal'")
    if anticipation < 0:
        raise ValueError("anticipation must be non-negative")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    draws = 1000 if bootstrap is True else int(bootstrap) if bootstrap else 0
    if cluster == unit:
        cluster = None  # unit-level clustering is what the influence functions already do
    if cluster and not draws:
        raise ValueError("clustered standard errors need the multiplier bootstrap (as R did): pass bootstrap=<draws>")

    panel = _prepare(data, y, unit, time, group, covariates, control, anticipation, cluster)
    n, periods = len(panel.ids), panel.periods
    estimator = _ESTIMATORS[method]
    ones = np.ones(n)
    varying = base_period == "varying"

    rows: list[dict[str, float]] = []
    inf_cols: list[np.ndarray] = []
    for g in panel.glist:
        # Last period before (anticipated) treatment: g - 1 - anticipation in R's `pret`.
        pret_g = int(np.flatnonzero(periods + anticipation < g)[-1])
        for cur in range(1 if varying else 0, len(periods)):
            tt = periods[cur]
            post = g <= tt
            base = pret_g if (post or not varying) else cur - 1
            row = {"group": g, "time": tt, "att": np.nan, "n_treated": 0, "n_control": 0}
            inf_full = np.zeros(n)
            if base == cur:  # universal base period: ATT(g, g-1-anticipation) is 0 by construction
                row["att"] = 0.0
                rows.append(row)
                inf_cols.append(inf_full)
                continue
            treated = panel.g == g
            control_mask = np.isinf(panel.g)
            if control == "notyet":
                cutoff = max(tt, periods[base]) + anticipation
                control_mask = control_mask | ((panel.g > cutoff) & ~treated)
            row["n_treated"], row["n_control"] = int(treated.sum()), int(control_mask.sum())
            sub = treated | control_mask
            if not treated.any() or not control_mask.any():
                warnings.warn(f"no treated or comparison units for (g, t) = ({g:g}, {tt:g}); ATT set to NaN",
                              stacklevel=2)
                rows.append(row)
                inf_cols.append(np.full(n, np.nan))
                continue
            d = treated[sub].astype(float)
            dy = panel.y[sub, cur] - panel.y[sub, base]
            # Covariates from the earlier of the two periods (did: covariates_tensor[[min(pret, t)]]).
            xs = np.ones((int(sub.sum()), 1))
            if panel.x is not None:
                xs = np.column_stack([xs, panel.x[sub, min(base, cur), :]])
            problem, ps = None, None
            if method in ("dr", "ipw"):
                # R's overlap check fits the same (unweighted) logit first; the fit is reused by the estimator.
                ps, converged = _logit(xs, d, ones[sub])
                if ps.max() >= 0.999:
                    problem = "overlap condition violated"
                elif not converged:
                    warnings.warn(f"propensity score estimation did not converge for (g, t) = ({g:g}, {tt:g})",
                                  stacklevel=2)
            if method in ("dr", "reg") and _rcond(xs[d == 0].T @ xs[d == 0]) < _EPS:
                problem = "not enough comparison units to run the outcome regression"
            if problem is None:
                try:
                    att, inf_sub = estimator(dy, d, xs, ones[sub], ps)
                except np.linalg.LinAlgError as err:
                    problem = str(err)
            if problem is not None:
                warnings.warn(f"{problem} for (g, t) = ({g:g}, {tt:g}); ATT set to NaN", stacklevel=2)
                rows.append(row)
                inf_cols.append(np.full(n, np.nan))
                continue
            # Rescale to the full sample of n units (R: att.inf.func * n/n1, zero outside the 2x2 sample).
            inf_full[sub] = inf_sub * n / sub.sum()
            row["att"] = att
            rows.append(row)
            inf_cols.append(inf_full)

    inf = np.column_stack(inf_cols)
    tab = pd.DataFrame(rows)
    se = _analytic_se(inf)
    se = np.where(se <= _SE_TINY, np.nan, se)
    z = stats.norm.ppf(1 - alpha / 2)
    crit = z
    multiplier = None
    if draws:
        ss = np.random.SeedSequence(seed)
        multiplier = _Multiplier(draws=draws, cluster=panel.cluster, n_clusters=panel.n_clusters, seed=ss,
                                 weights=bootstrap_weights)
        se_b, crit_b = multiplier.inference(inf, alpha, progress=progress)
        # R keeps NA where the analytic variance is zero or missing, bootstrap SEs elsewhere.
        se = np.where(np.isnan(se), np.nan, se_b)
        se = np.where(se <= _SE_TINY, np.nan, se)
        if cband and np.isfinite(crit_b):
            crit = crit_b
            if crit >= 7:
                warnings.warn("simultaneous critical value is arguably too large to be reliable (R did: >= 7); "
                              "check the number of bootstrap draws", stacklevel=2)
    att = tab["att"].to_numpy(dtype=float)
    att_gt = pd.DataFrame({
        "group": _as_int_if_integral(tab["group"].to_numpy(dtype=float)),
        "time": _as_int_if_integral(tab["time"].to_numpy(dtype=float)),
        "att": att, "se": se, "ci_lower": att - crit * se, "ci_upper": att + crit * se,
        "n_treated": tab["n_treated"].astype(int), "n_control": tab["n_control"].astype(int),
    })
    terms = [f"att_gt::{g}::{t}" for g, t in zip(att_gt["group"], att_gt["time"], strict=True)]
    cohorts = {("never" if np.isinf(g) else str(int(g)) if float(g).is_integer() else str(g)): int(c)
               for g, c in zip(*np.unique(panel.g, return_counts=True), strict=True)}
    sample = SampleInfo(nobs=n * len(periods), n_units=n, periods=(_plain(periods.min()), _plain(periods.max())),
                        n_periods=len(periods), cohorts=cohorts, dropped=panel.dropped, note="; ".join(panel.notes))
    est_name = f"Callaway-Sant'Anna ({_METHOD_LABEL[method]})"
    se_type = (f"multiplier bootstrap, {draws:,} draws" if draws else "analytic (influence function)")
    return CallawaySantAnnaResult(
        model_id=model_id, method=est_name, dependent=y, params=pd.Series(att, index=terms),
        vcov=pd.DataFrame(np.diag(se**2), terms, terms), nobs=n * len(periods), vcov_type=se_type,
        cluster=(cluster or unit,), n_clusters=panel.n_clusters, sample=sample,
        inference=pd.DataFrame({"ci_lower": att - crit * se, "ci_upper": att + crit * se}, index=terms),
        att_gt=att_gt, influence=inf, unit_groups=panel.g, periods=periods, y=y, control_group=control,
        estimator=method, base_period=base_period, anticipation=anticipation, alpha=alpha, n_units=n,
        controls=covariates, crit_val=crit, bootstrap_draws=draws,
        cband=cband, warnings=panel.notes, _multiplier=multiplier,
    )


def _plain(x: object) -> object:
    """A numpy scalar as a plain number (integers for whole periods)."""
    v = float(x)  # type: ignore[arg-type]
    return int(v) if v.is_integer() else v


def _bench_data(n_units: int = 300, n_periods: int = 15, seed: int = 0) -> pd.DataFrame:
    """A 300-unit x 15-year staggered panel with 3 cohorts and a never-treated group, for scripts/bench.py."""
    rng = np.random.default_rng(seed)
    years = np.arange(2005, 2005 + n_periods)
    cohorts = np.array([0, years[4], years[7], years[10]])
    g = cohorts[rng.integers(0, len(cohorts), n_units)]
    df = pd.DataFrame({"unit": np.repeat(np.arange(n_units), n_periods), "year": np.tile(years, n_units),
                       "g": np.repeat(g, n_periods)})
    x = rng.normal(size=n_units)
    df["x"] = np.repeat(x, n_periods)
    exposure = np.where(df["g"] > 0, df["year"] - df["g"] + 1, 0).clip(min=0)
    df["y"] = (np.repeat(rng.normal(size=n_units), n_periods) + 0.05 * (df["year"] - years[0])
               + 0.3 * df["x"] * (df["year"] - years[0]) / n_periods + 0.1 * exposure
               + rng.normal(scale=0.5, size=len(df)))
    return df
