"""Goodman-Bacon (2021) decomposition of the static TWFE DID coefficient.

For a balanced panel with a binary absorbing treatment (no covariates), the TWFE coefficient is a weighted
average of every 2x2 DID between timing groups (Goodman-Bacon 2021, Theorem 1):

- treated vs never treated (k vs U), window: all periods
      β̂_kU  = (ȳ_k^{post(k)} − ȳ_k^{pre(k)}) − (ȳ_U^{post(k)} − ȳ_U^{pre(k)})
      s_kU   = (n_k + n_U)² n_kU (1 − n_kU) D̄_k (1 − D̄_k) / V̂^D
- earlier treated k vs later group ℓ as control, window: periods before t*_ℓ
      β̂^k_kℓ = (ȳ_k^{mid} − ȳ_k^{pre(k)}) − (ȳ_ℓ^{mid} − ȳ_ℓ^{pre(k)})
      s^k_kℓ  = ((n_k + n_ℓ)(1 − D̄_ℓ))² n_kℓ (1 − n_kℓ) (D̄_k − D̄_ℓ)/(1 − D̄_ℓ) · (1 − D̄_k)/(1 − D̄_ℓ) / V̂^D
- later treated ℓ vs earlier group k as control, window: periods from t*_k on
      β̂^ℓ_kℓ = (ȳ_ℓ^{post(ℓ)} − ȳ_ℓ^{mid}) − (ȳ_k^{post(ℓ)} − ȳ_k^{mid})
      s^ℓ_kℓ  = ((n_k + n_ℓ) D̄_k)² n_kℓ (1 − n_kℓ) D̄_ℓ/D̄_k · (D̄_k − D̄_ℓ)/D̄_k / V̂^D

n_k are unit shares, n_kU = n_k/(n_k + n_U), D̄_k the share of periods group k is treated, V̂^D the
variance of the two-way demeaned treatment. The last type uses already-treated units as controls and is
the "forbidden comparison" that biases TWFE when effects change over time.

Units treated in the first period ("always treated") have constant D like the never treated, so the TWFE
treats the two identically (after unit demeaning both have D̃_it = D̄ − D̄_t): they are pooled into one
constant-treatment comparison group for the weights, and each k-vs-pooled 2x2 is split exactly into its
never-treated and always-treated parts in proportion to their unit counts. Cohorts first treated after
the last period are never treated within the sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.did.event_study import cohort_values
from analysis.did.results import BaconResult
from analysis.fixed_effects import twfe
from analysis.results import SampleInfo

TREATED_VS_NEVER = "treated vs never treated"
TREATED_VS_ALWAYS = "treated vs always treated"
EARLIER_VS_LATER = "earlier treated vs later control"
LATER_VS_EARLIER = "later treated vs earlier control"


def bacon(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    group: str,
    model_id: str = "bacon",
) -> BaconResult:
    """Every 2x2 DID, its weight and type; the weights sum to one and reproduce the TWFE coefficient."""
    df = data[[y, unit, time]].copy()
    df["_g"] = cohort_values(data, group)
    if df[[y, unit, time]].isna().any().any():
        raise ValueError("the Bacon decomposition needs a balanced panel: missing values in y, unit or time")
    times = np.sort(df[time].unique())
    n_units, n_times = df[unit].nunique(), len(times)
    if len(df) != n_units * n_times or df.duplicated([unit, time]).any():
        raise ValueError("the Bacon decomposition needs a balanced panel (one row per unit and period)")
    g_unit = df.groupby(unit)["_g"].agg(["min", "max"])
    if not np.allclose(g_unit["min"].fillna(-1), g_unit["max"].fillna(-1)):
        raise ValueError(f"{group!r} must be constant within unit (absorbing treatment)")

    # Timing groups: first-treated period within the sample; never (NaN or after the last period) and
    # always (at or before the first period) are the constant-treatment groups.
    g = df["_g"].to_numpy()
    label = np.where(np.isnan(g) | (g > times[-1]), "never", np.where(g <= times[0], "always", g.astype(str)))
    df["_grp"] = pd.Series(label).str.replace(r"\.0$", "", regex=True).to_numpy()
    df["_d"] = ((df["_grp"] == "always") | (np.nan_to_num(g, nan=np.inf) <= df[time].to_numpy())).astype(float)
    means = df.pivot_table(index="_grp", columns=time, values=y, aggfunc="mean").reindex(columns=times)
    shares = df.groupby("_grp")[unit].nunique() / n_units
    timing = sorted(int(k) for k in shares.index if k not in ("never", "always"))
    if not timing:
        raise ValueError("no treatment timing group switches treatment inside the sample")

    # V̂^D: variance of the two-way demeaned treatment (balanced: D − D̄_i − D̄_t + D̄).
    d = df.pivot(index=unit, columns=time, values="_d").to_numpy()
    d_tilde = d - d.mean(1, keepdims=True) - d.mean(0, keepdims=True) + d.mean()
    v_d = float((d_tilde ** 2).mean())

    def dbar(k: int) -> float:
        return float((times >= k).mean())

    def mean_over(grp: str, mask: np.ndarray) -> float:
        return float(means.loc[grp].to_numpy()[mask].mean())

    rows: list[dict[str, object]] = []
    n_never, n_always = float(shares.get("never", 0.0)), float(shares.get("always", 0.0))
    n_const = n_never + n_always
    for k in timing:
        nk, dk, kk = float(shares[str(k)]), dbar(k), str(k)
        pre, post = times < k, times >= k
        if n_const > 0:
            n_kc = nk / (nk + n_const)
            s = (nk + n_const) ** 2 * n_kc * (1 - n_kc) * dk * (1 - dk) / v_d
            for grp, n_c, kind in (("never", n_never, TREATED_VS_NEVER), ("always", n_always, TREATED_VS_ALWAYS)):
                if n_c > 0:
                    est = (mean_over(kk, post) - mean_over(kk, pre)) - (mean_over(grp, post) - mean_over(grp, pre))
                    rows.append({"treated": k, "control": grp, "type": kind, "estimate": est,
                                 "weight": s * n_c / n_const})
        for ell in (t for t in timing if t > k):
            nl, dl, ll = float(shares[str(ell)]), dbar(ell), str(ell)
            n_kl = nk / (nk + nl)
            pre_k, mid, post_l = times < k, (times >= k) & (times < ell), times >= ell
            est_k = (mean_over(kk, mid) - mean_over(kk, pre_k)) - (mean_over(ll, mid) - mean_over(ll, pre_k))
            s_k = (((nk + nl) * (1 - dl)) ** 2 * n_kl * (1 - n_kl) * (dk - dl) / (1 - dl) * (1 - dk) / (1 - dl)
                   / v_d)
            est_l = (mean_over(ll, post_l) - mean_over(ll, mid)) - (mean_over(kk, post_l) - mean_over(kk, mid))
            s_l = ((nk + nl) * dk) ** 2 * n_kl * (1 - n_kl) * (dl / dk) * (dk - dl) / dk / v_d
            rows.append({"treated": k, "control": ll, "type": EARLIER_VS_LATER, "estimate": est_k, "weight": s_k})
            rows.append({"treated": ell, "control": kk, "type": LATER_VS_EARLIER, "estimate": est_l, "weight": s_l})

    table = pd.DataFrame(rows, columns=["treated", "control", "type", "estimate", "weight"])
    table["treated"] = table["treated"].astype(str)
    reg = twfe(df.assign(treated=df["_d"]), y=y, x=["treated"], unit=unit, time=time, cluster=unit,
               model_id="bacon_twfe")
    beta = float(reg.params["treated"])
    weighted = float((table["weight"] * table["estimate"]).sum())
    d = table.assign(we=table["weight"] * table["estimate"]).groupby("type", sort=False)[["we", "weight"]].sum()
    terms = ["TWFE", *(f"bacon::{t}" for t in d.index)]
    est = [beta, *(d["we"] / d["weight"]).to_list()]
    se = [float(reg.std_errors["treated"])] + [np.nan] * len(d)
    return BaconResult(model_id=model_id, method="Goodman-Bacon decomposition", dependent=y,
                       params=pd.Series(est, index=terms), vcov=pd.DataFrame(np.diag(np.square(se)), terms, terms),
                       nobs=reg.nobs, df_resid=reg.df_resid, vcov_type=reg.vcov_type, cluster=reg.cluster,
                       n_clusters=reg.n_clusters, fixed_effects=reg.fixed_effects,
                       sample=SampleInfo.of_panel(df.assign(_grp=df["_g"]), unit=unit, time=time, group="_grp"),
                       twfe=beta, decomposition=table,
                       notes={"weight_sum": float(table["weight"].sum()), "weighted_sum": weighted,
                              "twfe_std_error": float(reg.std_errors["treated"]), "v_d": v_d,
                              "group_shares": shares.to_dict()})
