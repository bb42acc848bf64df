"""Wild cluster bootstrap for regressions with few clusters (Cameron, Gelbach & Miller 2008; MacKinnon & Webb).

`wild_cluster_bootstrap(result, param=...)` takes a `RegressionResult` from `analysis.fixed_effects.feols`
(one-way clustered) and works on its Frisch-Waugh-Lovell partialled data X̃, ỹ (the fixed effects are
absorbed, weights applied as √w, exactly the matrices pyfixest estimated on):

- WCR-t (`impose_null=True`, the default): for the null β_j = r, the restricted residuals
  ũ(r) = û + (β̂_j − r)·X̃(X̃'X̃)⁻¹e_j / [(X̃'X̃)⁻¹]_jj are flipped cluster by cluster, y* = X̃β̃(r) + ũ(r)·v_g,
  and t*_b = (β̂*_j − r) / se*_b with the CRV1 error of the draw. Scores are affine in r, so every draw's
  numerator and squared denominator are a linear and a quadratic function of d = β̂_j − r (the algebra of
  Roodman, MacKinnon, Nielsen & Webb 2019, "fast and wild"); one set of draws serves all nulls.
- WCU-t (`impose_null=False`): unrestricted residuals, t*_b = (β̂*_j − β̂_j) / se*_b.

The small-sample factor of se* is the one of the result's own CRV1 error (reghdfe's), so t*_b and the
original t are on the same scale (the p-value does not depend on it).

p-value: symmetric, p(r) = share of draws with |t*_b| ≥ |t(r)| (draws tied with |t| within 1e-9 relative
count as at least as extreme; with full enumeration the draws v = ±1 reproduce ±t exactly).
95% confidence interval: WCR, by test inversion, {r : p(r) > 0.05}, each bound found by bisection to
1e-10·se; WCU, symmetric percentile-t, β̂_j ± q·se with q the 95% quantile of |t*|.

Weights: Rademacher (±1), or Webb's six-point distribution (±√(1/2), ±1, ±√(3/2)) for very few clusters.
With Rademacher weights and 2^G ≤ `n_draws` every sign vector is enumerated once (2^G draws, no
randomness, as `wildboottest` and `boottest` do).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from analysis.fixed_effects import RegressionResult

_TIE = 1e-9
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


@dataclasses.dataclass
class _Draws:
    """Per-draw coefficients of t*(d) = (n0 + d·n1) / sqrt(a + 2d·b + d²·c), d = β̂_j − r."""

    n0: np.ndarray
    n1: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    beta: float
    se: float
    impose_null: bool
    enumerated: bool

    def t_boot(self, r: float) -> np.ndarray:
        """Bootstrap t statistics for the null β_j = r."""
        d = self.beta - r if self.impose_null else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.n0 + d * self.n1) / np.sqrt(np.maximum(self.a + 2 * d * self.b + d * d * self.c, 0.0))

    def t_stat(self, r: float) -> float:
        """The sample t statistic for the null β_j = r."""
        return (self.beta - r) / self.se

    def p_value(self, r: float) -> float:
        """Symmetric bootstrap p-value of β_j = r (ties count as extreme)."""
        t = abs(self.t_stat(r))
        return float(np.mean(np.abs(self.t_boot(r)) >= t * (1 - _TIE)))


def _weights(kind: str, n_clusters: int, n_draws: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """G x B matrix of cluster weights, and whether it is the full Rademacher enumeration."""
    if kind == "rademacher":
        if 2**n_clusters <= n_draws:
            return np.array(list(itertools.product([-1.0, 1.0], repeat=n_clusters))).T, True
        return rng.choice([-1.0, 1.0], size=(n_clusters, n_draws)), False
    if kind == "webb":
        return rng.choice(_WEBB, size=(n_clusters, n_draws)), False
    raise ValueError(f"weights must be 'rademacher' or 'webb', not {kind!r}")


def _prepare(result: RegressionResult, *, param: str, n_draws: int, weights: str, impose_null: bool,
             seed: int | None, progress: bool) -> _Draws:
    """Partialled data of the fit, restricted scores and the per-draw coefficients."""
    model = result.model
    if model is None:
        raise ValueError("the wild bootstrap needs the fitted model (result loaded from storage has none)")
    if param not in result.params.index:
        raise KeyError(f"{param!r} is not a coefficient of {result.model_id} ({list(result.params.index)})")
    if len(result.cluster) != 1 or getattr(model, "_clustervar", None) is None:
        raise ValueError(f"{result.model_id}: the wild cluster bootstrap needs one-way clustered errors "
                         f"(cluster = {result.cluster or 'none'})")
    x = np.asarray(model._X, dtype=float)
    y = np.asarray(model._Y, dtype=float).reshape(-1)
    cl = pd.factorize(np.asarray(model._data[model._clustervar[0]]))[0]
    n_cl = int(cl.max() + 1)
    j = list(result.params.index).index(param)
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ (x.T @ y)
    uhat = y - x @ beta
    a_vec = xtx_inv[:, j]

    def cluster_sum(m: np.ndarray) -> np.ndarray:
        out = np.zeros((n_cl, m.shape[1]))
        np.add.at(out, cl, m)
        return out

    # Scores X_g'ũ_g(d) = S0_g + d·S1_g (S1 = 0 without the null imposed).
    s0 = cluster_sum(x * uhat[:, None])
    q = x @ a_vec / a_vec[j]
    s1 = cluster_sum(x * q[:, None]) if impose_null else np.zeros_like(s0)
    # The draw's CRV1 score for coefficient j in cluster g: C_g v_g − Σ_h H_gh v_h,
    # H_gh = a' X_g'X_g (X'X)⁻¹ S_h (the bootstrap residuals re-projected on X).
    xg_a = cluster_sum(x * (x @ a_vec)[:, None])            # row g: a' X_g'X_g
    proj = xg_a @ xtx_inv                                    # G x k
    c0, c1 = s0 @ a_vec, s1 @ a_vec
    h0, h1 = proj @ s0.T, proj @ s1.T
    # Scale of the result's own CRV1 error: ssc = V_jj / (unscaled sandwich)_jj at the original residuals.
    ssc = float(result.vcov.iloc[j, j]) / float(c0 @ c0)
    rng = np.random.default_rng(seed)
    v, enumerated = _weights(weights, n_cl, n_draws, rng)
    n0, n1 = np.empty(v.shape[1]), np.empty(v.shape[1])
    a, b, c = np.empty_like(n0), np.empty_like(n0), np.empty_like(n0)
    step = 4096
    for start in tqdm(range(0, v.shape[1], step), desc="wild cluster bootstrap", disable=not progress, leave=False):
        vb = v[:, start:start + step]
        z0 = c0[:, None] * vb - h0 @ vb
        z1 = c1[:, None] * vb - h1 @ vb
        sl = slice(start, start + vb.shape[1])
        n0[sl], n1[sl] = c0 @ vb, c1 @ vb
        a[sl], b[sl], c[sl] = ssc * (z0 * z0).sum(0), ssc * (z0 * z1).sum(0), ssc * (z1 * z1).sum(0)
    return _Draws(n0=n0, n1=n1, a=a, b=b, c=c, beta=float(beta[j]), se=float(np.sqrt(result.vcov.iloc[j, j])),
                  impose_null=impose_null, enumerated=enumerated)


def _invert(draws: _Draws, alpha: float, side: int) -> float:
    """The confidence bound on one side (−1 lower, +1 upper): where p(r) falls to alpha, by bisection."""
    inner, step = draws.beta, draws.se
    outer = draws.beta + side * step
    for _ in range(60):
        if draws.p_value(outer) <= alpha:
            break
        inner, step = outer, step * 2
        outer = draws.beta + side * step
    else:
        return side * np.inf
    while abs(outer - inner) > 1e-10 * draws.se:
        mid = (inner + outer) / 2
        if draws.p_value(mid) > alpha:
            inner = mid
        else:
            outer = mid
    return (inner + outer) / 2


def wild_bootstrap_t(
    result: RegressionResult,
    *,
    param: str,
    null: float = 0.0,
    n_draws: int = 9999,
    weights: Literal["rademacher", "webb"] = "rademacher",
    impose_null: bool = True,
    seed: int | None = None,
) -> tuple[float, np.ndarray]:
    """The sample t statistic and the bootstrap t statistics for the null `param` = `null`."""
    draws = _prepare(result, param=param, n_draws=n_draws, weights=weights, impose_null=impose_null, seed=seed,
                     progress=False)
    t = draws.t_stat(null)
    return t, draws.t_boot(null) if impose_null else draws.t_boot(draws.beta)


def wild_cluster_bootstrap(
    result: RegressionResult,
    *,
    param: str,
    n_draws: int = 9999,
    weights: Literal["rademacher", "webb"] = "rademacher",
    impose_null: bool = True,
    seed: int | None = None,
    progress: bool = False,
) -> RegressionResult:
    """A copy of `result` whose `inference` holds the wild-cluster-bootstrap p-value and 95% CI of `param`."""
    draws = _prepare(result, param=param, n_draws=n_draws, weights=weights, impose_null=impose_null, seed=seed,
                     progress=progress)
    level = 0.95                   # the level `EstimationResult.conf_int()` takes resampling intervals at
    alpha = 1 - level
    p = draws.p_value(0.0)
    if impose_null:
        lo, hi = _invert(draws, alpha, -1), _invert(draws, alpha, +1)
        ci_method = "test inversion (WCR)"
    else:
        q = float(np.quantile(np.abs(draws.t_boot(draws.beta)), level))
        lo, hi = draws.beta - q * draws.se, draws.beta + q * draws.se
        ci_method = "symmetric percentile-t (WCU)"
    n_b = len(draws.n0)
    method = (f"wild cluster bootstrap {'WCR' if impose_null else 'WCU'}-t, {weights} weights, "
              f"{'full enumeration of ' if draws.enumerated else ''}{n_b:,} draws")
    row = pd.DataFrame({"p_value": [p], "ci_lower": [lo], "ci_upper": [hi], "method": [method]}, index=[param])
    inference = row if result.inference is None else pd.concat([result.inference.drop(index=param, errors="ignore"),
                                                                row])
    notes = {**result.notes, "wild_bootstrap": {"param": param, "method": method, "ci": ci_method,
                                                "seed": seed, "draws": n_b,
                                                "n_clusters": result.n_clusters}}
    return dataclasses.replace(result, inference=inference, notes=notes)
