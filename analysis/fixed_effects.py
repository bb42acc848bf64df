"""Two-way fixed-effects OLS with Stata `reghdfe`-compatible cluster-robust (CRV1) standard errors.

Coefficients come from linearmodels `PanelOLS` (entity and time effects). linearmodels' own clustered
covariance counts every fixed-effect level in its small-sample factor, which `reghdfe` does not, so the
covariance is computed here explicitly:

    V = G/(G-1) · (N-1)/(N-K) · (X̃'X̃)⁻¹ [Σ_g X̃_g' û_g û_g' X̃_g] (X̃'X̃)⁻¹

where X̃ is X after removing both sets of effects (alternating projections), G the number of clusters,
and K the number of regressors plus the fixed-effect levels that are *not* nested in the clusters
(reghdfe's and pyfixest's CRV1 with `k_fixef="nonnested"`). Inference uses t(G-1). Singleton units are
dropped first, as reghdfe and pyfixest do. Tests compare with pyfixest `feols(vcov={"CRV1": ...})`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from linearmodels import PanelOLS

from analysis.results import RegressionResult


def _drop_singletons(df: pd.DataFrame, fes: list[str]) -> tuple[pd.DataFrame, int]:
    """Iteratively drop observations that are alone in any fixed-effect group."""
    dropped = 0
    while True:
        keep = np.ones(len(df), dtype=bool)
        for fe in fes:
            keep &= df.groupby(fe, observed=True)[fe].transform("size").to_numpy() > 1
        if keep.all():
            return df, dropped
        dropped += int((~keep).sum())
        df = df[keep]


def demean(values: np.ndarray, groups: list[np.ndarray], tol: float = 1e-13, max_iter: int = 10_000) -> np.ndarray:
    """Remove several sets of fixed effects by alternating projections (Gauss-Seidel)."""
    out = values.astype(float).copy()
    counts = [np.bincount(g) for g in groups]
    for _ in range(max_iter):
        prev = out.copy()
        for g, n in zip(groups, counts, strict=True):
            for j in range(out.shape[1]):
                out[:, j] -= (np.bincount(g, weights=out[:, j]) / n)[g]
        if np.max(np.abs(out - prev)) < tol * (1 + np.max(np.abs(out))):
            return out
    raise RuntimeError("fixed-effect demeaning did not converge")


def _nested(fe: np.ndarray, cluster: np.ndarray) -> bool:
    """True if every level of `fe` lies inside a single cluster."""
    return bool((pd.DataFrame({"f": fe, "c": cluster}).groupby("f")["c"].nunique() == 1).all())


def twfe(
    data: pd.DataFrame,
    y: str,
    x: list[str],
    unit: str = "city_code",
    time: str = "year",
    cluster: str | None = "city_code",
    model_id: str = "twfe",
) -> RegressionResult:
    """Estimate y on x with unit and time fixed effects and CRV1 errors clustered by `cluster`."""
    cols = list(dict.fromkeys([y, *x, unit, time] + ([cluster] if cluster else [])))
    df = data[cols].dropna()
    df, n_singletons = _drop_singletons(df, [unit, time])
    n = len(df)

    panel = df.set_index([unit, time])
    lm = PanelOLS(panel[y], panel[x], entity_effects=True, time_effects=True).fit()
    params = lm.params.rename(None)

    groups = [pd.factorize(df[unit])[0], pd.factorize(df[time])[0]]
    z = demean(df[[y, *x]].to_numpy(), groups)
    yt, xt = z[:, 0], z[:, 1:]
    beta = np.linalg.lstsq(xt, yt, rcond=None)[0]
    if not np.allclose(beta, params.to_numpy(), rtol=1e-6, atol=1e-10):
        raise RuntimeError(f"demeaned OLS {beta} disagrees with linearmodels {params.to_numpy()}")
    resid = yt - xt @ params.to_numpy()
    bread = np.linalg.inv(xt.T @ xt)
    k = len(x)
    n_units, n_times = len(np.unique(groups[0])), len(np.unique(groups[1]))

    if cluster:
        cl = pd.factorize(df[cluster])[0]
        g_count = int(cl.max() + 1)
        scores = np.zeros((g_count, k))
        np.add.at(scores, cl, xt * resid[:, None])
        meat = scores.T @ scores
        # FE levels nested in the clusters cost no degrees of freedom (reghdfe); when no set is
        # nested, one level is redundant between the two sets.
        k_fe, nested_any = 0, False
        for name, levels in ((unit, n_units), (time, n_times)):
            if _nested(df[name].to_numpy(), df[cluster].to_numpy()):
                nested_any = True
            else:
                k_fe += levels
        if not nested_any:
            k_fe -= 1
        big_k = k + k_fe
        factor = g_count / (g_count - 1) * (n - 1) / (n - big_k)
        cov = factor * bread @ meat @ bread
        df_resid = g_count - 1
        vcov_type = f"CRV1 ({cluster})"
    else:
        big_k = k + n_units + n_times - 1
        sigma2 = resid @ resid / (n - big_k)
        cov = sigma2 * bread
        df_resid, g_count, vcov_type = n - big_k, None, "iid"

    r2_within = 1 - (resid @ resid) / (yt @ yt)
    return RegressionResult(
        model_id=model_id, dependent=y, params=params, cov=pd.DataFrame(cov, index=x, columns=x), nobs=n,
        df_resid=df_resid, n_clusters=g_count, r2_within=float(r2_within), fixed_effects=[unit, time],
        cluster=cluster, vcov_type=vcov_type, notes={"singletons_dropped": n_singletons, "k_dof": big_k},
    )
