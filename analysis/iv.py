"""IV/2SLS with absorbed fixed effects and the identification diagnostics that Stata `ivreg2`/`ivreghdfe` print.

The fixed effects (or, without them, the constant) and the included exogenous regressors are partialled
out of every variable first (Frisch-Waugh-Lovell, exact for 2SLS); 2SLS runs on the residuals. Degrees
of freedom follow `ivreghdfe`: the absorbed fixed effects count as `absorb_ct` = max(1, df_a) parameters,
where df_a is the number of fixed-effect levels (minus one per extra fixed-effect set) and, with clustered
errors, fixed effects nested in the clusters are not counted (as reghdfe); without fixed effects the
constant is the one absorbed parameter. So L = excluded instruments + exogenous regressors + absorb_ct.

Diagnostics (`result.diagnostics`), with `ivreg2`'s conventions (no `small` option: large-sample
covariance, dofminus = 0), computed as in `ranktest` (Kleibergen-Paap 2006, via the SVD of the
standardised first-stage coefficient matrix):
- `anderson_lm`: Anderson canonical-correlation LM, N * smallest squared canonical correlation (iid);
- `cragg_donald_f`: cd * (N - L) / L1 with cd = ev / (1 - ev) of the smallest eigenvalue;
- `kp_lm`: Kleibergen-Paap rk LM (robust or cluster-robust; equals `anderson_lm` under iid);
- `kp_wald_f`: Kleibergen-Paap rk Wald F: rk * (N - L) / N / L1, clustered rk / (N-1) * (N - L) * (G-1)/G / L1
  (equals `cragg_donald_f` under iid, which is what ivreg2 prints as its weak-identification F);
- each with its p-value / degrees of freedom where one exists (`*_p`, `id_df` = L1 - K1 + 1);
- `first_stage_f:<x>` and `sw_f:<x>` (Sanderson-Windmeijer conditional F; equals the first-stage F with
  one endogenous regressor), `partial_r2:<x>`;
- `sargan` (iid) or `hansen_j` (robust/cluster, the two-step efficient GMM criterion with the 2SLS
  residuals' covariance, as ivreg2) with `*_p` and `overid_df`, when overidentified.
First stages (coefficients of the excluded instruments, standard errors, F) are in `tables["first_stage"]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.fixed_effects import _as_tuple, demean
from analysis.results import EstimationResult, NotEstimable, SampleInfo

IVVcov = Literal["iid", "robust", "cluster"]


@dataclass(kw_only=True)
class IVResult(EstimationResult):
    """A 2SLS fit with ivreg2-style identification and overidentification diagnostics."""

    diagnostics: dict[str, float] = field(default_factory=dict)

    def first_stage(self) -> pd.DataFrame:
        """First-stage coefficients of the excluded instruments, by endogenous regressor."""
        return self.tables["first_stage"]


def _scores_cov(scores: np.ndarray, clusters: np.ndarray | None) -> np.ndarray:
    """Sum of outer products of the score rows (HC0), or of their cluster sums."""
    if clusters is not None:
        scores = pd.DataFrame(scores).groupby(clusters, sort=False).sum().to_numpy()
    return scores.T @ scores


def _rk_stat(y: np.ndarray, z: np.ndarray, *, lm: bool, iid: bool,
             clusters: np.ndarray | None) -> tuple[float, np.ndarray]:
    """ranktest's Kleibergen-Paap statistic of rank K-1 (full-rank test) for partialled Y (N x K) and Z (N x L).

    Returns the statistic (not scaled by the ivreg2 dof factors) and the canonical correlations.
    """
    n, k = y.shape
    l_ = z.shape[1]
    zz, zy, yy = z.T @ z, z.T @ y, y.T @ y
    pihat = np.linalg.solve(zz, zy)
    ry, rz = np.linalg.cholesky(yy), np.linalg.cholesky(zz)          # lower: yy = ry ry'
    iry, irz = np.linalg.inv(ry.T), np.linalg.inv(rz.T)
    that = rz.T @ pihat @ iry
    ut, cc, vt_h = np.linalg.svd(that, full_matrices=True)
    vt = vt_h.T
    ev = cc ** 2
    if iid:
        vals = ev / (1 - ev) if not lm else ev
        return float(n * vals[k - 1:].sum()), cc
    e = y if lm else y - z @ pihat
    scores = (e[:, :, None] * z[:, None, :]).reshape(n, k * l_)      # vec(z e') = e (x) z, endog-major
    shat = _scores_cov(scores, clusters) / n
    kron = np.kron(iry.T, irz.T)
    vhat = kron @ shat @ kron.T * n
    vhat = (vhat + vhat.T) / 2
    i = k                                                            # test of rank K-1 (1-based as ranktest)
    u22 = ut[i - 1:, i - 1:]
    v22 = vt[i - 1:, i - 1:]
    u22h = _sqrtm(u22 @ u22.T)
    v22h = _sqrtm(v22 @ v22.T)
    if i > 1:
        u12, v12 = ut[: i - 1, i - 1:], vt[: i - 1, i - 1:]
        aq = np.vstack([u12, u22]) @ np.linalg.inv(u22) @ u22h
        bq = v22h @ np.linalg.inv(v22.T) @ np.vstack([v12, v22]).T
    else:
        aq = u22 @ np.linalg.inv(u22) @ u22h
        bq = v22h @ np.linalg.inv(v22.T) @ v22.T
    kq = np.kron(bq, aq.T)
    lab = kq @ that.reshape(-1, order="F")
    vlab = kq @ vhat @ kq.T
    vlab = (vlab + vlab.T) / 2
    return float(lab @ np.linalg.solve(vlab, lab)), cc


def _sqrtm(a: np.ndarray) -> np.ndarray:
    """Symmetric square root through the eigen-decomposition (as ranktest)."""
    w, v = np.linalg.eigh(a)
    return v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T


def _wald(coef: np.ndarray, z: np.ndarray, resid: np.ndarray, *, kind: IVVcov, clusters: np.ndarray | None,
          dof: int) -> float:
    """Wald statistic of coef = 0 in an OLS on z: iid with s2 = e'e/dof, else HC0 / cluster sums."""
    zz_inv = np.linalg.inv(z.T @ z)
    if kind == "iid":
        v = zz_inv * float(resid @ resid) / dof
    else:
        v = zz_inv @ _scores_cov(z * resid[:, None], clusters) @ zz_inv
    return float(coef @ np.linalg.solve(v, coef))


def iv2sls(
    data: pd.DataFrame,
    *,
    y: str,
    endog: str | Sequence[str],
    instruments: str | Sequence[str],
    exog: Sequence[str] = (),
    fe: str | Sequence[str] | None = None,
    vcov: IVVcov = "iid",
    cluster: str | None = None,
    small: bool = False,
    model_id: str = "iv2sls",
    unit: str | None = None,
    time: str | None = None,
) -> IVResult:
    """2SLS of y on endog (instrumented by instruments) and exog, absorbing `fe`, with ivreg2 diagnostics.

    `small=False` (ivreg2's default) gives large-sample covariances (sigma^2 = RSS/N, HC0, cluster sums)
    and normal inference; `small=True` multiplies by N/(N-K) (iid, robust) or (N-1)/(N-K)·G/(G-1) (cluster)
    and uses t(N-K) or t(G-1), as `ivreg2, small` and reghdfe. K counts the absorbed parameters.
    """
    endo, inst, exo, fes = list(_as_tuple(endog)), list(_as_tuple(instruments)), list(exog), list(_as_tuple(fe))
    if vcov not in ("iid", "robust", "cluster"):
        raise ValueError("vcov must be 'iid', 'robust' or 'cluster'")
    if vcov == "cluster" and not cluster:
        raise ValueError("vcov='cluster' needs cluster=<column>")
    if not endo or not inst:
        raise ValueError("iv2sls needs at least one endogenous regressor and one excluded instrument")
    k1, l1 = len(endo), len(inst)
    if l1 < k1:
        raise NotEstimable(f"{model_id}: {l1} excluded instrument(s) for {k1} endogenous regressor(s): "
                           "the equation is underidentified")
    num = list(dict.fromkeys([y, *endo, *exo, *inst]))
    cols = list(dict.fromkeys([*num, *fes, *([cluster] if cluster else []), *(c for c in (unit, time) if c)]))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"{model_id}: columns not in the data: {missing}")
    df = data[cols]
    need = list(dict.fromkeys([*num, *fes, *([cluster] if cluster and vcov == "cluster" else [])]))
    info = SampleInfo(nobs=0)
    complete = df[need].notna().all(axis=1).to_numpy()
    if not complete.all():
        nulls = {c: int(df[c].isna().sum()) for c in need if df[c].isna().any()}
        info.drop("rows with a missing value (" + ", ".join(f"{k}: {v}" for k, v in nulls.items()) + ")",
                  int((~complete).sum()))
        df = df[complete]
    if fes:
        from pyfixest.estimation import detect_singletons

        codes = np.column_stack([pd.factorize(df[f])[0] for f in fes]).astype(np.int64)
        n_single = 0
        while (single := detect_singletons(codes)).any():
            n_single += int(single.sum())
            df, codes = df[~single], codes[~single]
            codes = np.column_stack([pd.factorize(codes[:, j])[0] for j in range(codes.shape[1])]).astype(np.int64)
        info.drop("singletons in a fixed-effect group (as ivreghdfe)", n_single)
    n = len(df)
    if n == 0:
        raise NotEstimable(f"{model_id}: no observation left")
    clusters = pd.factorize(df[cluster])[0] if vcov == "cluster" else None
    n_clusters = int(clusters.max() + 1) if clusters is not None else None

    # Absorb: fixed effects (alternating projections) or the constant; then count absorbed parameters.
    mat = df[num].to_numpy(dtype=float)
    if fes:
        groups = [pd.factorize(df[f])[0] for f in fes]
        mat = demean(mat, groups)
        # As reghdfe: a fixed effect nested in the clusters adds no degrees of freedom to a clustered
        # covariance; each fixed-effect set after the first loses one level to the common intercept.
        counted = [int(g.max() + 1) for f, g in zip(fes, groups, strict=True)
                   if clusters is None or df.groupby(f, observed=True)[cluster].nunique().max() > 1]
        df_a = max(sum(counted) - (len(groups) - 1), 0)
        absorb_ct = max(1, df_a)
    else:
        mat = mat - mat.mean(axis=0)
        absorb_ct = 1
    v = {c: mat[:, i] for i, c in enumerate(num)}
    yv = v[y]
    w = np.column_stack([v[c] for c in exo]) if exo else np.empty((n, 0))

    def partial(a: np.ndarray) -> np.ndarray:
        """Residual of `a` on the included exogenous regressors (already demeaned / within-transformed)."""
        if w.shape[1] == 0:
            return a
        return a - w @ np.linalg.lstsq(w, a, rcond=None)[0]

    x_end = partial(np.column_stack([v[c] for c in endo]))
    z_ex = partial(np.column_stack([v[c] for c in inst]))
    y_p = partial(yv)
    for name, col in zip([*endo, *inst], [*x_end.T, *z_ex.T], strict=True):
        if float(col @ col) <= 1e-12 * max(1.0, float(v[name] @ v[name])):
            raise NotEstimable(f"{model_id}: {name!r} has no variation after absorbing the fixed effects and exog")
    if np.linalg.matrix_rank(z_ex) < l1:
        raise NotEstimable(f"{model_id}: the excluded instruments are collinear (given exog and fixed effects)")

    # 2SLS on the full regressor set (endog + exog) with instruments (excluded + exog).
    xmat = np.column_stack([np.column_stack([v[c] for c in endo]), w])
    zmat = np.column_stack([np.column_stack([v[c] for c in inst]), w])
    zz_inv = np.linalg.pinv(zmat.T @ zmat)
    xz = xmat.T @ zmat
    a_mat = xz @ zz_inv @ xz.T
    if np.linalg.matrix_rank(a_mat) < xmat.shape[1]:
        raise NotEstimable(f"{model_id}: regressors collinear (after absorbing fixed effects)")
    a_inv = np.linalg.inv(a_mat)
    beta = a_inv @ (xz @ zz_inv @ (zmat.T @ yv))
    u = yv - xmat @ beta
    rss = float(u @ u)
    k_tot = xmat.shape[1] + absorb_ct
    l_tot = l1 + w.shape[1] + absorb_ct
    xhat = zmat @ (zz_inv @ xz.T)
    if vcov == "iid":
        vc = a_inv * rss / n
    else:
        meat = _scores_cov(xhat * u[:, None], clusters)
        vc = a_inv @ meat @ a_inv
    df_resid: int | None = None
    if small:
        if vcov == "cluster":
            vc = vc * (n - 1) / (n - k_tot) * n_clusters / (n_clusters - 1)
            df_resid = n_clusters - 1
        else:
            vc = vc * n / (n - k_tot)
            df_resid = n - k_tot
    names = [*endo, *exo]
    params = pd.Series(beta, index=names)
    vcov_df = pd.DataFrame(vc, index=names, columns=names)

    # ------------------------------------------------------------------ diagnostics
    iid = vcov == "iid"
    diag: dict[str, float] = {"N": n, "K": k_tot, "L": l_tot, "L1": l1, "K1": k1, "absorb_ct": absorb_ct}
    id_df = l1 - k1 + 1
    anderson, cc = _rk_stat(x_end, z_ex, lm=True, iid=True, clusters=None)
    ev_min = float(cc[k1 - 1] ** 2)
    cd = ev_min / (1 - ev_min)
    diag["anderson_lm"] = anderson
    diag["anderson_lm_p"] = float(stats.chi2.sf(anderson, id_df))
    diag["cragg_donald_f"] = cd * (n - l_tot) / l1
    diag["id_df"] = id_df
    if iid:
        diag["kp_lm"], diag["kp_wald_f"] = anderson, diag["cragg_donald_f"]
    else:
        kp_lm, _ = _rk_stat(x_end, z_ex, lm=True, iid=False, clusters=clusters)
        kp_w, _ = _rk_stat(x_end, z_ex, lm=False, iid=False, clusters=clusters)
        diag["kp_lm"] = kp_lm
        if clusters is None:
            diag["kp_wald_f"] = kp_w / n * (n - l_tot) / l1
        else:
            diag["kp_wald_f"] = kp_w / (n - 1) * (n - l_tot) * (n_clusters - 1) / n_clusters / l1
    diag["kp_lm_p"] = float(stats.chi2.sf(diag["kp_lm"], id_df))
    diag["weak_id_f"] = diag["kp_wald_f"]

    # First stages, partial R2 and Sanderson-Windmeijer F (same scaling as the KP Wald F).
    def scaled_f(wald: float, df_num: int) -> float:
        """ivreg2's small-sample scaling of a first-stage Wald statistic into an F."""
        if iid:
            return wald / df_num
        if clusters is None:
            return wald / df_num * (n - l_tot) / n
        return wald / df_num * (n - l_tot) / (n - 1) * (n_clusters - 1) / n_clusters

    fs_rows = []
    zinv_ex = np.linalg.inv(z_ex.T @ z_ex)
    for j, name in enumerate(endo):
        xj = x_end[:, j]
        pi = zinv_ex @ (z_ex.T @ xj)
        res = xj - z_ex @ pi
        wald = _wald(pi, z_ex, res, kind=vcov, clusters=clusters, dof=n - l_tot)
        f1 = scaled_f(wald, l1)
        if iid:
            se = np.sqrt(np.diag(zinv_ex) * float(res @ res) / (n - l_tot))
        else:
            se = np.sqrt(np.diag(zinv_ex @ _scores_cov(z_ex * res[:, None], clusters) @ zinv_ex))
        diag[f"first_stage_f:{name}"] = f1
        diag[f"first_stage_f_p:{name}"] = float(stats.f.sf(f1, l1, (n_clusters - 1) if clusters is not None
                                                             else n - l_tot))
        diag[f"partial_r2:{name}"] = 1 - float(res @ res) / float(xj @ xj)
        if k1 > 1:
            others = np.delete(x_end, j, axis=1)
            ph = z_ex @ (zinv_ex @ (z_ex.T @ others))
            delta = np.linalg.solve(ph.T @ others, ph.T @ xj)
            eps = xj - others @ delta
            pi_sw = zinv_ex @ (z_ex.T @ eps)
            res_sw = eps - z_ex @ pi_sw
            sw = scaled_f(_wald(pi_sw, z_ex, res_sw, kind=vcov, clusters=clusters, dof=n - l_tot), id_df)
        else:
            sw = f1
        diag[f"sw_f:{name}"] = sw
        fs_rows += [{"endog": name, "instrument": z, "coef": float(b), "std_error": float(s), "F": f1,
                     "partial_r2": diag[f"partial_r2:{name}"]} for z, b, s in zip(inst, pi, se, strict=True)]

    if l1 > k1:
        overid_df = l1 - k1
        diag["overid_df"] = overid_df
        up = partial(u)
        if iid:
            pz = z_ex @ (zinv_ex @ (z_ex.T @ up))
            sargan = n * float(up @ pz) / float(up @ up)
            diag["sargan"] = sargan
            diag["sargan_p"] = float(stats.chi2.sf(sargan, overid_df))
        else:
            # ivreg2: J of the two-step efficient GMM estimator, S from the 2SLS residuals.
            s_mat = _scores_cov(z_ex * up[:, None], clusters) / n
            s_inv = np.linalg.inv(s_mat)
            zx, zy = z_ex.T @ x_end / n, z_ex.T @ y_p / n
            b_gmm = np.linalg.solve(zx.T @ s_inv @ zx, zx.T @ s_inv @ zy)
            gbar = z_ex.T @ (y_p - x_end @ b_gmm) / n
            j_stat = n * float(gbar @ s_inv @ gbar)
            diag["hansen_j"] = j_stat
            diag["hansen_j_p"] = float(stats.chi2.sf(j_stat, overid_df))

    tss = float(yv @ yv)
    diag.update({"rss": rss, "sigmasq": rss / n, "r2": 1 - rss / tss})
    sample = SampleInfo.of_panel(df, unit=unit or (fes[0] if fes else None), time=time, dropped=info.dropped)
    vcov_type = {"iid": "iid", "robust": "robust (HC0)" if not small else "robust (HC1)",
                 "cluster": f"cluster ({cluster})"}[vcov]
    return IVResult(
        model_id=model_id, method="IV (2SLS)" + (" with absorbed fixed effects" if fes else ""), dependent=y,
        params=params, vcov=vcov_df, nobs=n, df_resid=df_resid, vcov_type=vcov_type,
        cluster=(cluster,) if vcov == "cluster" else (), n_clusters=n_clusters, fixed_effects=tuple(fes),
        sample=sample, stats={"r2_within" if fes else "r2": 1 - rss / tss, "kp_wald_f": diag["kp_wald_f"],
                              "kp_lm": diag["kp_lm"]},
        diagnostics=diag, tables={"first_stage": pd.DataFrame(fs_rows)},
        notes={"endog": endo, "instruments": inst, "exog": exo, "small": small},
    )
