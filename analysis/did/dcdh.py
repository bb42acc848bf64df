"""de Chaisemartin & D'Haultfœuille: DID_M (2020), its dynamic version (2024) and the TWFE weight diagnostic.

Notation: units g, periods t (positions on the panel's sorted period grid, so "t − 1" is the previous
period of the grid), binary treatment D_{g,t}, cell weights N_{g,t} (1 per row unless `weights` is set).

TWFE weights (`twowayfeweights`, dCDH 2020 Theorem 1). ε_{g,t} is the residual of D on unit and time fixed
effects (N-weighted). The TWFE coefficient of Y on D with unit and time effects is, exactly,
    β_fe = Σ_{D=1} W_{g,t} Δ_{g,t} + (a term that is zero under common trends),
    W_{g,t} = N_{g,t} ε_{g,t} / Σ_{D=1} N_{g,t} ε_{g,t},
so W sums to one over the treated cells, and some W can be negative. σ_fe = |β_fe| / σ(w) with
w = W·N_1/N_{g,t} and σ(w)² = Σ_{D=1} (N_{g,t}/N_1)(w − 1)² is the smallest standard deviation of the
cell effects under which β_fe could come from effects whose average is zero, and σ̲_fe (only with negative
weights) the smallest under which all cell effects could have the opposite sign (Corollary 1). The current
R/Stata `twowayfeweights` multiplies σ(w) by sqrt(M/(M−1)) (M treated cells): `sigma_fe_dof`. As there,
weights within 1e-10 of zero count as neither positive nor negative; "β_fe estimates a weighted sum of
n_weights ATTs" counts the others.

DID_M (2020, eq. 3): for each t ≥ 2,
    DID_{+,t} = mean_N[ΔY_t | D_{t−1}=0, D_t=1] − mean_N[ΔY_t | D_{t−1}=0, D_t=0]   (joiners vs stable at 0)
    DID_{−,t} = mean_N[ΔY_t | D_{t−1}=1, D_t=1] − mean_N[ΔY_t | D_{t−1}=1, D_t=0]   (stable at 1 vs leavers)
    DID_M = Σ_t (N_{1,0,t} DID_{+,t} + N_{0,1,t} DID_{−,t}) / N_S,
with ΔY_t = Y_t − Y_{t−1}. Switchers of a period without any stable unit in the same initial state have no
comparison; as in `did_multiplegt` they are left out (counted in `tables["periods"]`). The placebo DID_M^pl
does the same one period earlier, for switchers (and stable units) whose treatment was also unchanged from
t − 2 to t − 1: it compares Y_{t−1} − Y_{t−2}.

Dynamic effects (2024, `did_multiplegt_dyn`, non-normalised): F_g is the first period where D_g differs
from D_{g,1}, S_g = +1 for a switch in and −1 for a switch out. For ℓ = 1, 2, ...
    DID_{g,ℓ} = Y_{g,F_g−1+ℓ} − Y_{g,F_g−1} − mean_N{Y_{g',F_g−1+ℓ} − Y_{g',F_g−1} : D_{g',1} = D_{g,1},
                                                  F_{g'} > F_g − 1 + ℓ}
    δ_ℓ = Σ_g N_g S_g DID_{g,ℓ} / Σ_g N_g   over switchers with a comparison (N_g = N_{g,F_g−1+ℓ}).
Placebo ℓ compares Y_{g,F_g−1−ℓ} − Y_{g,F_g−1} with the same comparison units as effect ℓ, for the switchers
that have effect ℓ. Here δ_ℓ is reported at event time e = ℓ − 1 (0 = first treated period) and placebo ℓ at
e = −1 − ℓ; e = −1 (the base period F_g − 1) is the reference. For an absorbing binary treatment δ at
e = 0 equals DID_M. Units whose treatment changes more than once are outside the dynamic estimator's scope
here (`did_multiplegt_dyn` would follow them until their second change); they raise a ValueError.

Inference: the cluster bootstrap of `did_multiplegt` (dCDH 2020, §4): clusters (units unless `cluster`
names a coarser column) are resampled with replacement `n_boot` times, each draw recomputes every
estimate with the resampled multiplicities as cell weights, and the covariance is that of the draws
(normal inference). This is the 2020 package's variance, not the analytic influence-function variance of
`did_multiplegt_dyn`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from analysis.did.results import EventStudyResult
from analysis.fixed_effects import demean
from analysis.results import EstimationResult, NotEstimable, SampleInfo

_ZERO_WEIGHT = 1e-10


@dataclass(kw_only=True)
class TWFEWeightsResult(EstimationResult):
    """TWFE coefficient of Y on D with its decomposition into weights on the treated cells.

    The term `TWFE` carries β_fe (with a CRV1 error by unit); `tables["weights"]` holds one row per treated
    cell (unit, time, weight); `stats` holds the counts and sums of positive and negative weights and σ_fe.
    """

    def weights(self) -> pd.DataFrame:
        """The weight on every treated (unit, period) cell."""
        return self.tables["weights"]


@dataclass(kw_only=True)
class DCDHResult(EstimationResult):
    """DID_M and its placebo (terms `DID_M`, `DID_M_placebo`) with per-period details and the TWFE weights."""


@dataclass
class _Panel:
    """The estimation panel as unit x period matrices (NaN where a cell is missing)."""

    units: np.ndarray
    periods: np.ndarray
    y: np.ndarray
    d: np.ndarray
    n: np.ndarray          # cell weights, 0 where the cell is missing
    cluster: np.ndarray    # cluster code per unit


def _panel(data: pd.DataFrame, *, y: str, unit: str, time: str, treatment: str, weights: str | None,
           cluster: str | None, sample: SampleInfo) -> _Panel:
    """Check the inputs, record dropped rows and pivot to unit x period matrices."""
    cols = list(dict.fromkeys([y, unit, time, treatment, *([weights] if weights else []),
                               *([cluster] if cluster else [])]))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"columns not in the data: {missing}")
    df = data[cols]
    bad = df[cols].isna().any(axis=1)
    if bad.any():
        nulls = ", ".join(f"{c}: {int(df[c].isna().sum())}" for c in cols if df[c].isna().any())
        sample.drop(f"rows with a missing value ({nulls})", int(bad.sum()))
        df = df[~bad]
    if df.duplicated([unit, time]).any():
        raise ValueError(f"more than one row per {unit!r} and {time!r}: the estimator needs a unit x period panel")
    values = set(pd.unique(df[treatment].astype(float)))
    if not values <= {0.0, 1.0}:
        raise ValueError(f"treatment {treatment!r} must be 0/1; found values {sorted(values)[:10]}")
    if weights and (df[weights] <= 0).any():
        raise ValueError(f"weights {weights!r} must be positive ({int((df[weights] <= 0).sum())} rows are not)")
    if cluster and (df.groupby(unit)[cluster].nunique() > 1).any():
        raise ValueError(f"cluster {cluster!r} must be constant within each {unit!r} (units are resampled whole)")
    units, u = np.unique(df[unit].to_numpy(), return_inverse=True)
    periods, t = np.unique(df[time].to_numpy(), return_inverse=True)
    shape = (len(units), len(periods))
    ym, dm, nm = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape)
    ym[u, t] = df[y].to_numpy(dtype=float)
    dm[u, t] = df[treatment].to_numpy(dtype=float)
    nm[u, t] = df[weights].to_numpy(dtype=float) if weights else 1.0
    cl_col = df.groupby(unit, sort=True)[cluster].first().reindex(units) if cluster else pd.Series(units)
    return _Panel(units=units, periods=periods, y=ym, d=dm, n=nm, cluster=pd.factorize(cl_col.to_numpy())[0])


def _with_treatment(data: pd.DataFrame, *, time: str, treatment: str | None,
                    group: str | None) -> tuple[pd.DataFrame, str]:
    """The data and the name of its 0/1 treatment column (built as 1{time ≥ group} when `group` is given)."""
    if (treatment is None) == (group is None):
        raise ValueError("give exactly one of treatment= (a 0/1 column) or group= (first treated period)")
    if treatment is not None:
        return data, treatment
    from analysis.did.event_study import cohort_values

    g = cohort_values(data, group)
    d = np.where(data[time].isna(), np.nan, (data[time].to_numpy(dtype=float) >= g).astype(float))
    return data.assign(_dcdh_treatment=d), "_dcdh_treatment"


def _wmean(v: np.ndarray, w: np.ndarray) -> float:
    """Weighted mean."""
    return float(v @ w / w.sum())


# ---------------------------------------------------------------------------------------------------- DID_M
def _did_m(p: _Panel, n: np.ndarray) -> tuple[float, float, pd.DataFrame]:
    """DID_M, its placebo and the per-period table for cell weights `n`."""
    y, d = p.y, p.d
    rows, num, den, num_pl, den_pl = [], 0.0, 0.0, 0.0, 0.0
    for k in range(1, y.shape[1]):
        ok = (n[:, k] > 0) & (n[:, k - 1] > 0)
        dy, w = y[:, k] - y[:, k - 1], n[:, k]
        before, now = d[:, k - 1], d[:, k]
        cells = {"joiners": ok & (before == 0) & (now == 1), "stable_0": ok & (before == 0) & (now == 0),
                 "leavers": ok & (before == 1) & (now == 0), "stable_1": ok & (before == 1) & (now == 1)}
        row: dict[str, float] = {"period": p.periods[k], **{f"n_{c}": float(w[m].sum()) for c, m in cells.items()}}
        row["did_plus"] = row["did_minus"] = np.nan
        if cells["joiners"].any() and cells["stable_0"].any():
            row["did_plus"] = (_wmean(dy[cells["joiners"]], w[cells["joiners"]])
                               - _wmean(dy[cells["stable_0"]], w[cells["stable_0"]]))
            num += row["n_joiners"] * row["did_plus"]
            den += row["n_joiners"]
        if cells["leavers"].any() and cells["stable_1"].any():
            row["did_minus"] = (_wmean(dy[cells["stable_1"]], w[cells["stable_1"]])
                                - _wmean(dy[cells["leavers"]], w[cells["leavers"]]))
            num += row["n_leavers"] * row["did_minus"]
            den += row["n_leavers"]
        row["placebo_plus"] = row["placebo_minus"] = np.nan
        if k >= 2:
            ok2 = ok & (n[:, k - 2] > 0)
            dy_pl = y[:, k - 1] - y[:, k - 2]
            same = d[:, k - 2] == d[:, k - 1]
            j = ok2 & same & cells["joiners"]
            s0 = ok2 & same & cells["stable_0"]
            lv = ok2 & same & cells["leavers"]
            s1 = ok2 & same & cells["stable_1"]
            if j.any() and s0.any():
                row["placebo_plus"] = _wmean(dy_pl[j], w[j]) - _wmean(dy_pl[s0], w[s0])
                num_pl += w[j].sum() * row["placebo_plus"]
                den_pl += w[j].sum()
            if lv.any() and s1.any():
                row["placebo_minus"] = _wmean(dy_pl[s1], w[s1]) - _wmean(dy_pl[lv], w[lv])
                num_pl += w[lv].sum() * row["placebo_minus"]
                den_pl += w[lv].sum()
        rows.append(row)
    return (num / den if den else np.nan), (num_pl / den_pl if den_pl else np.nan), pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------- dynamic
def _first_change(p: _Panel) -> tuple[np.ndarray, np.ndarray]:
    """Baseline treatment and the period position of the first change (inf = never changes) per unit."""
    d = p.d
    first_obs = np.argmax(p.n > 0, axis=1)
    d1 = d[np.arange(len(d)), first_obs]
    changed = (d != d1[:, None]) & (p.n > 0)
    f = np.where(changed.any(axis=1), np.argmax(changed, axis=1), np.inf).astype(float)
    return d1, f


def _dynamic(p: _Panel, n: np.ndarray, d1: np.ndarray, f: np.ndarray, effects: int,
             placebos: int) -> tuple[np.ndarray, pd.DataFrame]:
    """δ at e = 0..effects−1 and placebos at e = −2..−1−placebos, with switcher counts, for weights `n`."""
    y = p.y
    n_t = y.shape[1]
    switch = np.isfinite(f)
    cohorts = sorted({(b, int(ff)) for b, ff in zip(d1[switch], f[switch], strict=True)})
    out, rows = [], []
    for ell in range(1, effects + 1):
        eff_num = eff_den = pl_num = pl_den = 0.0
        n_sw = n_pl = 0
        for b, ff in cohorts:
            post, base, pre = ff - 1 + ell, ff - 1, ff - 1 - ell
            if post >= n_t:
                continue
            sw = switch & (d1 == b) & (f == ff) & (n[:, post] > 0) & (n[:, base] > 0)
            ctrl = (d1 == b) & (f > post) & (n[:, post] > 0) & (n[:, base] > 0)
            if not sw.any() or not ctrl.any():
                continue
            sign = 1.0 if b == 0 else -1.0
            dy = y[:, post] - y[:, base]
            w = n[:, post]
            eff_num += sign * w[sw].sum() * (_wmean(dy[sw], w[sw]) - _wmean(dy[ctrl], w[ctrl]))
            eff_den += w[sw].sum()
            n_sw += int(sw.sum())
            if ell <= placebos and pre >= 0:
                sw_pl, ctrl_pl = sw & (n[:, pre] > 0), ctrl & (n[:, pre] > 0)
                if sw_pl.any() and ctrl_pl.any():
                    dy_pl = y[:, pre] - y[:, base]
                    pl_num += sign * w[sw_pl].sum() * (_wmean(dy_pl[sw_pl], w[sw_pl]) - _wmean(dy_pl[ctrl_pl],
                                                                                             w[ctrl_pl]))
                    pl_den += w[sw_pl].sum()
                    n_pl += int(sw_pl.sum())
        out.append(eff_num / eff_den if eff_den else np.nan)
        rows.append({"event_time": ell - 1, "kind": "effect", "ell": ell, "n_switchers": n_sw, "weight_sum": eff_den})
        if ell <= placebos:
            out.append(pl_num / pl_den if pl_den else np.nan)
            rows.append({"event_time": -1 - ell, "kind": "placebo", "ell": ell, "n_switchers": n_pl,
                         "weight_sum": pl_den})
    return np.asarray(out), pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------- bootstrap
def _bootstrap(p: _Panel, stat: Callable[[np.ndarray], np.ndarray], *, n_boot: int, seed: int | None,
               progress: bool) -> tuple[np.ndarray, int]:
    """Cluster-bootstrap draws of `stat(cell weights)`; draws with an undefined estimate are discarded."""
    rng = np.random.default_rng(seed)
    n_cl = int(p.cluster.max() + 1)
    draws = []
    for _ in tqdm(range(n_boot), desc="dCDH cluster bootstrap", unit="draw", disable=not progress, leave=False):
        mult = np.bincount(rng.integers(0, n_cl, size=n_cl), minlength=n_cl)[p.cluster]
        draws.append(stat(p.n * mult[:, None]))
    arr = np.asarray(draws, dtype=float)
    good = np.isfinite(arr).all(axis=1)
    return arr[good], int((~good).sum())


def _boot_vcov(draws: np.ndarray, terms: list) -> pd.DataFrame:
    """Covariance of the bootstrap draws."""
    v = np.atleast_2d(np.cov(draws, rowvar=False, ddof=1)) if len(draws) > 1 else np.full((len(terms),) * 2, np.nan)
    return pd.DataFrame(v, index=terms, columns=terms)


def _sigma_sign(beta: float, w: np.ndarray, share: np.ndarray) -> float:
    """σ̲_fe (dCDH 2020 Corollary 1 ii): the smallest σ(Δ) under which every cell effect could have the sign
    opposite to β_fe. With w sorted in decreasing order and P, S, T the sums of share, share·w, share·w²
    over the cells from k to the last, s is the first k with w_(k) < −S_k/(1 − P_k), and
    σ̲_fe = |β_fe| / sqrt(T_s + S_s²/(1 − P_s)). Cells with zero weight stay in: their effects enter σ(Δ).
    (The R `twowayfeweights` drops them first, which overstates σ̲_fe when some weights are exactly zero;
    a brute-force minimisation in the tests agrees with the definition.)"""
    order = np.argsort(-w, kind="stable")
    wk, sk = w[order], share[order]
    p_k = np.cumsum((sk)[::-1])[::-1]
    s_k = np.cumsum((sk * wk)[::-1])[::-1]
    t_k = np.cumsum((sk * wk**2)[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        hit = wk[1:] < -s_k[1:] / (1 - p_k[1:])
    s = 1 + int(np.argmax(hit))
    return float(abs(beta) / np.sqrt(t_k[s] + s_k[s] ** 2 / (1 - p_k[s])))


# ---------------------------------------------------------------------------------------------------- public API
def twowayfeweights(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    treatment: str | None = None,
    group: str | None = None,
    weights: str | None = None,
    model_id: str = "twowayfeweights",
) -> TWFEWeightsResult:
    """The weights the TWFE coefficient of y on a binary treatment puts on each treated cell, and σ_fe."""
    from analysis.fixed_effects import twfe

    data, treatment = _with_treatment(data, time=time, treatment=treatment, group=group)
    sample = SampleInfo(nobs=0)
    p = _panel(data, y=y, unit=unit, time=time, treatment=treatment, weights=weights, cluster=None, sample=sample)
    obs = p.n > 0
    ui, ti = np.nonzero(obs)
    d, nw = p.d[ui, ti], p.n[ui, ti]
    if not (d == 1).any():
        raise NotEstimable(f"{model_id}: no treated cell in {treatment!r}")
    if not (d == 0).any():
        raise NotEstimable(f"{model_id}: every cell is treated in {treatment!r}")
    eps = demean(d[:, None], [pd.factorize(ui)[0], pd.factorize(ti)[0]], weights=nw)[:, 0]
    treated = d == 1
    denom = float((nw * eps)[treated].sum())
    if abs(denom) < 1e-12:
        raise NotEstimable(f"{model_id}: {treatment!r} has no variation left after unit and time fixed effects")
    w_cell = nw[treated] * eps[treated] / denom
    # As `twowayfeweights`: weights within 1e-10 of zero count as zero (neither positive nor negative).
    w_cell = np.where(np.abs(w_cell) < _ZERO_WEIGHT, 0.0, w_cell)
    n1 = nw[treated].sum()
    share = nw[treated] / n1
    w_unnorm = w_cell / share
    sigma_w = float(np.sqrt((share * (w_unnorm - 1) ** 2).sum()))
    frame = pd.DataFrame({"_y": p.y[ui, ti], "_d": d, "_u": ui, "_t": ti, "_w": nw})
    reg = twfe(frame, y="_y", x=["_d"], unit="_u", time="_t", cluster="_u", weights="_w" if weights else None,
               model_id=model_id)
    beta = float(reg.params["_d"])
    table = pd.DataFrame({unit: p.units[ui[treated]], time: p.periods[ti[treated]], "weight": w_cell,
                          "cell_weight": nw[treated]})
    pos, neg = w_cell[w_cell > 0], w_cell[w_cell < 0]
    m = int(treated.sum())
    stats = {"twfe": beta, "n_treated_cells": float(m), "n_weights": float(len(pos) + len(neg)),
             "n_positive_weights": float(len(pos)), "n_negative_weights": float(len(neg)),
             "sum_positive_weights": float(pos.sum()), "sum_negative_weights": float(neg.sum()), "sigma_w": sigma_w,
             "sigma_fe": abs(beta) / sigma_w if sigma_w > 0 else np.inf,
             "sigma_fe_dof": abs(beta) / (sigma_w * np.sqrt(m / (m - 1))) if sigma_w > 0 and m > 1 else np.inf,
             "sigma_fe_sign": _sigma_sign(beta, w_unnorm, share) if len(neg) else np.nan}
    sample = SampleInfo.of_panel(frame.assign(**{unit: p.units[ui], time: p.periods[ti]}), unit=unit, time=time,
                                 dropped=sample.dropped)
    return TWFEWeightsResult(
        model_id=model_id, method="TWFE weights (de Chaisemartin & D'Haultfœuille 2020)", dependent=y,
        params=pd.Series([beta], index=["TWFE"]), vcov=pd.DataFrame(reg.vcov.to_numpy(), ["TWFE"], ["TWFE"]),
        nobs=reg.nobs, df_resid=reg.df_resid, vcov_type=reg.vcov_type, cluster=(unit,), n_clusters=reg.n_clusters,
        fixed_effects=(unit, time), sample=sample, stats=stats, tables={"weights": table},
        notes={"summary": f"β_fe estimates a weighted sum of {len(w_cell)} ATTs: {len(pos)} with positive weights "
                          f"(sum {pos.sum():.4f}), {len(neg)} with negative weights (sum {neg.sum():.4f}); "
                          f"σ_fe = {stats['sigma_fe']:.4f}"})


def _setup(data: pd.DataFrame, *, y: str, unit: str, time: str, treatment: str, weights: str | None,
           cluster: str | None) -> tuple[_Panel, SampleInfo]:
    """The panel and its sample description (units, periods, cohorts by first change)."""
    sample = SampleInfo(nobs=0)
    p = _panel(data, y=y, unit=unit, time=time, treatment=treatment, weights=weights, cluster=cluster, sample=sample)
    return p, sample


def _describe(p: _Panel, sample: SampleInfo, unit: str, time: str) -> SampleInfo:
    """Sample info with cohorts by first treated period."""
    ui, ti = np.nonzero(p.n > 0)
    on = (p.d == 1) & (p.n > 0)
    first = np.where(on.any(axis=1), p.periods[np.argmax(on, axis=1)], 0)   # first treated period, 0 = never
    frame = pd.DataFrame({unit: p.units[ui], time: p.periods[ti], "_g": first[ui]})
    return SampleInfo.of_panel(frame, unit=unit, time=time, group="_g", dropped=sample.dropped)


def dcdh(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    treatment: str | None = None,
    group: str | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    n_boot: int = 200,
    seed: int | None = None,
    progress: bool = False,
    model_id: str = "dcdh",
) -> DCDHResult:
    """DID_M and its placebo (dCDH 2020) with cluster-bootstrap errors and the TWFE weight diagnostic.

    The treatment is a 0/1 column (`treatment`) or, for staggered adoption, `group` (first treated period;
    0/NaN = never), which codes D = 1{time ≥ group}.
    """
    data, treatment = _with_treatment(data, time=time, treatment=treatment, group=group)
    p, sample = _setup(data, y=y, unit=unit, time=time, treatment=treatment, weights=weights, cluster=cluster)
    did, did_pl, periods = _did_m(p, p.n)
    if not np.isfinite(did):
        raise NotEstimable(f"{model_id}: no unit switches treatment with a stable comparison unit in the same period")
    terms = ["DID_M", "DID_M_placebo"] if np.isfinite(did_pl) else ["DID_M"]
    est = np.array([did, did_pl][:len(terms)])
    draws, failed = _bootstrap(p, lambda n: np.array(_did_m(p, n)[:2])[:len(terms)], n_boot=n_boot, seed=seed,
                               progress=progress)
    diag = twowayfeweights(data, y=y, unit=unit, time=time, treatment=treatment, weights=weights,
                           model_id=f"{model_id}_twfe_weights")
    n_cl = int(p.cluster.max() + 1)
    used = periods[["n_joiners", "n_leavers"]].where(periods[["did_plus", "did_minus"]].notna().to_numpy(), 0.0)
    sample = _describe(p, sample, unit, time)
    return DCDHResult(
        model_id=model_id, method="DID_M (de Chaisemartin & D'Haultfœuille 2020)", dependent=y,
        params=pd.Series(est, index=terms), vcov=_boot_vcov(draws, terms), nobs=int((p.n > 0).sum()),
        vcov_type=f"cluster bootstrap ({len(draws)} draws, by {cluster or unit})", cluster=(cluster or unit,),
        n_clusters=n_cl, fixed_effects=(unit, time), sample=sample,
        stats={"switchers_weight": float(used.to_numpy().sum()), **{k: diag.stats[k] for k in (
            "twfe", "n_treated_cells", "n_weights", "n_positive_weights", "n_negative_weights",
            "sum_negative_weights", "sigma_fe", "sigma_fe_sign")}},
        tables={"periods": periods, "twfe_weights": diag.tables["weights"]},
        notes={"bootstrap_failed_draws": failed, "seed": seed, "twfe_weights": diag.notes["summary"]})


def dcdh_dynamic(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    effects: int,
    treatment: str | None = None,
    group: str | None = None,
    placebos: int = 0,
    cluster: str | None = None,
    weights: str | None = None,
    n_boot: int = 200,
    seed: int | None = None,
    progress: bool = False,
    model_id: str = "dcdh_dynamic",
) -> EventStudyResult:
    """Dynamic effects δ_ℓ at event times 0..effects−1 and placebos (dCDH 2024), base period −1, bootstrap errors.

    The treatment is a 0/1 column (`treatment`) or `group` (first treated period; 0/NaN = never).
    """
    data, treatment = _with_treatment(data, time=time, treatment=treatment, group=group)
    if effects < 1 or placebos < 0:
        raise ValueError(f"effects must be >= 1 and placebos >= 0 (got {effects}, {placebos})")
    p, sample = _setup(data, y=y, unit=unit, time=time, treatment=treatment, weights=weights, cluster=cluster)
    d1, f = _first_change(p)
    obs_d = np.where(p.n > 0, p.d, np.nan)
    n_changes = np.array([np.count_nonzero(np.diff(row[~np.isnan(row)])) for row in obs_d])
    if (n_changes > 1).any():
        bad = list(p.units[n_changes > 1])
        raise ValueError(f"{treatment!r} changes more than once for {len(bad)} units (e.g. {bad[:5]}); the dynamic "
                         "estimator here needs each unit's treatment to change at most once")
    est, info = _dynamic(p, p.n, d1, f, effects, placebos)
    keep = np.isfinite(est)
    if not keep.any() or not np.isfinite(est[info["kind"].to_numpy() == "effect"]).any():
        raise NotEstimable(f"{model_id}: no switcher has a not-yet-switched comparison unit")
    draws, failed = _bootstrap(p, lambda n: _dynamic(p, n, d1, f, effects, placebos)[0][keep], n_boot=n_boot,
                               seed=seed, progress=progress)
    events = [int(e) for e in info["event_time"][keep]]
    order = np.argsort(events)
    events_sorted = [events[i] for i in order]
    v = _boot_vcov(draws, events).iloc[order, order]
    v.index = v.columns = events_sorted
    info = info.assign(estimate=est).sort_values("event_time").reset_index(drop=True)
    return EventStudyResult(
        model_id=model_id, method="dCDH dynamic effects (did_multiplegt_dyn, non-normalised)", dependent=y,
        params=pd.Series(est[keep][order], index=events_sorted, name="estimate"), vcov=v, reference=(-1,),
        nobs=int((p.n > 0).sum()), vcov_type=f"cluster bootstrap ({len(draws)} draws, by {cluster or unit})",
        cluster=(cluster or unit,), n_clusters=int(p.cluster.max() + 1), fixed_effects=(),
        sample=_describe(p, sample, unit, time), tables={"effects": info},
        notes={"bootstrap_failed_draws": failed, "seed": seed,
               "indexing": "event time e = ℓ − 1 for effect ℓ, e = −1 − ℓ for placebo ℓ (did_multiplegt_dyn)"})
