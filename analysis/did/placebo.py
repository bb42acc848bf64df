"""Placebo (permutation) test of a staggered DID: random reassignment of treatment timing (周茂 et al. 2018).

Two reassignment schemes:
- "permute" (default): permute the units' first-treatment periods (never = none) across units. The number
  of pseudo-treated units and the cohort-size distribution are exactly those of the data: a randomisation
  test of the sharp null of no effect for anyone.
- "random": draw as many pseudo-treated units as there are treated units (or `n_treated`) uniformly, each
  with an adoption period drawn uniformly from the panel's periods after the first.

Each draw re-estimates the static TWFE coefficient on 1{t ≥ G̃_i} (with the covariates), or calls a
supplied `estimator(frame) -> float` on the data with `group` replaced by the pseudo cohort. The two-sided
p-value is (1 + #{|β̃_b| ≥ |β̂|}) / (1 + B) (permutation p-value counting the observed assignment).

Speed: the fixed-effect projection M depends only on the unit and time indices, not on the treatment,
so y and the covariates are demeaned once (`analysis.fixed_effects.demean`) and the covariates partialled
out of ỹ once (Frisch-Waugh-Lovell). Because M is symmetric and idempotent, a draw's coefficient needs
only inner products of its raw 0/1 treatment D with the fixed demeaned matrix: D'ỹ, D'X̃ and D'MD, the
last in closed form (within-unit sums plus a (T−1)x(T−1) solve for the time effects). A chunk of draws is
one matrix of D columns, so the loop is a few matrix products per chunk: 1,000 draws on 300 units x
15 years take a few tenths of a second (balanced or not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from tqdm.auto import tqdm

from analysis.did.event_study import cohort_values
from analysis.did.results import PlaceboResult
from analysis.fixed_effects import _drop_singletons, demean, twfe
from analysis.results import SampleInfo


def _draw_cohorts(rng: np.random.Generator, cohorts: np.ndarray, periods: np.ndarray, method: str,
                  n_treated: int, size: int) -> np.ndarray:
    """`size` pseudo cohort vectors (units x size); NaN = never treated."""
    n = len(cohorts)
    if method == "permute":
        # One permutation per draw, in order: the stream (hence the draws) does not depend on `chunk`.
        return np.stack([rng.permutation(cohorts) for _ in range(size)], axis=1)
    out = np.full((n, size), np.nan)
    for b in range(size):
        who = rng.choice(n, size=n_treated, replace=False)
        out[who, b] = rng.choice(periods[1:], size=n_treated)
    return out


def placebo(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    group: str,
    controls: Sequence[str] = (),
    n_draws: int = 1000,
    assignment: Literal["permute", "random"] = "permute",
    n_treated: int | None = None,
    estimator: Callable[[pd.DataFrame], float] | None = None,
    seed: int | None = None,
    progress: bool = True,
    chunk: int = 250,
    model_id: str = "placebo",
) -> PlaceboResult:
    """Distribution of the TWFE (or `estimator`) coefficient under N random reassignments of treatment timing."""
    if assignment not in ("permute", "random"):
        raise ValueError("assignment must be 'permute' or 'random'")
    method = assignment
    covariates = list(controls)
    rng = np.random.default_rng(seed)
    cols = list(dict.fromkeys([y, unit, time, *covariates]))
    df = data[cols].copy()
    df["_g"] = cohort_values(data, group)
    by_unit = df.groupby(unit, sort=False)["_g"].agg(["min", "max"])
    if not np.allclose(by_unit["min"].fillna(-1), by_unit["max"].fillna(-1)):
        raise ValueError(f"{group!r} must be constant within unit")
    units = by_unit.index.to_numpy()
    cohorts = by_unit["min"].to_numpy()
    periods = np.sort(df[time].unique())
    n_tr = int(n_treated if n_treated is not None else np.isfinite(cohorts).sum())
    bar = tqdm(total=n_draws, disable=not progress, desc=f"placebo {y}", unit="draw")

    if estimator is not None:
        actual = float(estimator(data))
        pos = pd.Index(units).get_indexer(data[unit])
        draws = []
        for _ in range(n_draws):
            pseudo = _draw_cohorts(rng, cohorts, periods, method, n_tr, 1)[:, 0]
            frame = data.copy()
            frame[group] = pseudo[pos]
            draws.append(float(estimator(frame)))
            bar.update(1)
        bar.close()
        est = np.asarray(draws)
    else:
        # Same estimation sample as `twfe`: complete cases, then singletons dropped iteratively.
        df = df.dropna(subset=cols)
        df, _ = _drop_singletons(df, [unit, time])
        ui, ti = pd.factorize(df[unit])[0], pd.factorize(df[time], sort=True)[0]
        z = demean(df[[y, *covariates]].to_numpy(dtype=float), [ui, ti])    # once for all draws
        y_t, x_t = z[:, 0], z[:, 1:]
        if covariates:
            # FWL: partial the demeaned covariates out of ỹ once.
            xtx_inv = np.linalg.inv(x_t.T @ x_t)
            y_t = y_t - x_t @ (xtx_inv @ (x_t.T @ y_t))
        zmat = np.column_stack([y_t, x_t])
        # M = I − P_[unit, time] is symmetric and idempotent and M ỹ = ỹ, M X̃ = X̃, so with raw D:
        #   D̃'ỹ = D'ỹ,  D̃'X̃ = D'X̃,  D̃'D̃ = D'M D = D'M_U D − (T'M_U D)'(T'M_U T)⁻¹(T'M_U D)
        # (FWL with M_U the within-unit annihilator and T the time dummies minus one). Per draw only
        # inner products of the raw 0/1 treatment are needed: no demeaning inside the loop.
        n_u = int(ui.max() + 1)
        s_mat = sparse.csr_matrix((np.ones(len(ui)), (np.arange(len(ui)), ui)), shape=(len(ui), n_u))
        t_mat = sparse.csr_matrix((np.ones(len(ti)), (np.arange(len(ti)), ti)), shape=(len(ti), int(ti.max() + 1)))
        t_mat = t_mat[:, 1:]
        n_i = np.asarray(s_mat.sum(axis=0)).ravel()
        st = (s_mat.T @ t_mat).toarray()                                      # units x (T-1)
        p_mat = (t_mat.T @ t_mat).toarray() - st.T @ (st / n_i[:, None])     # T'M_U T
        pos = pd.Index(units).get_indexer(df[unit])
        t_obs = df[time].to_numpy(dtype=float)

        def coefs(g_units: np.ndarray) -> np.ndarray:
            d = (t_obs[:, None] >= g_units[pos]).astype(float)      # NaN cohort -> never treated
            sd = s_mat.T @ d                                         # units x B
            tmd = t_mat.T @ d - st.T @ (sd / n_i[:, None])           # T'M_U D
            dmd = d.sum(axis=0) - (sd ** 2 / n_i[:, None]).sum(axis=0) - np.einsum(
                "tb,tb->b", tmd, np.linalg.solve(p_mat, tmd))
            cross = d.T @ zmat                                       # [D'ỹ*, D'X̃]
            if covariates:
                dx = cross[:, 1:]
                dmd = dmd - np.einsum("bk,kl,bl->b", dx, xtx_inv, dx)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(dmd > 1e-9, cross[:, 0] / dmd, np.nan)

        actual = float(coefs(cohorts[:, None])[0])
        parts, done = [], 0
        while done < n_draws:
            size = min(chunk, n_draws - done)
            parts.append(coefs(_draw_cohorts(rng, cohorts, periods, method, n_tr, size)))
            done += size
            bar.update(size)
        bar.close()
        est = np.concatenate(parts)

    est = est[np.isfinite(est)]
    p = (1 + int(np.sum(np.abs(est) >= abs(actual) - 1e-12))) / (1 + len(est))
    notes: dict[str, object] = {"n_requested": n_draws, "n_treated": n_tr, "controls": covariates,
                                "estimator": getattr(estimator, "__name__", "custom") if estimator else "TWFE"}
    sd = float(np.std(est, ddof=1)) if len(est) > 1 else float("nan")
    q = np.quantile(est, [0.025, 0.975]) if len(est) else [np.nan, np.nan]
    return PlaceboResult(
        model_id=model_id, method=f"placebo ({method} assignment, {len(est):,} draws)", dependent=y,
        params=pd.Series([actual], index=["treated"]), vcov=pd.DataFrame([[sd**2]], ["treated"], ["treated"]),
        nobs=len(df), vcov_type="permutation distribution", fixed_effects=(unit, time),
        sample=SampleInfo.of_panel(df, unit=unit, time=time, group="_g"),
        inference=pd.DataFrame({"p_value": [float(p)], "ci_lower": [actual - q[1]], "ci_upper": [actual - q[0]]},
                               index=["treated"]),
        actual=actual, draws=est, p_value=float(p), assignment=method, seed=seed, notes=notes)


def twfe_coefficient(*, y: str, unit: str, time: str, group: str,
                     controls: Sequence[str] = ()) -> Callable[[pd.DataFrame], float]:
    """An `estimator` for `placebo` that runs the full `twfe` each draw (slow path; for checks)."""
    def fit(frame: pd.DataFrame) -> float:
        g = cohort_values(frame, group)
        d = (frame[time].to_numpy(dtype=float) >= g).astype(float)
        res = twfe(frame.assign(_treated=d), y=y, x=["_treated"], controls=controls, unit=unit, time=time,
                   cluster=unit)
        return float(res.params["_treated"])
    fit.__name__ = "twfe"
    return fit
