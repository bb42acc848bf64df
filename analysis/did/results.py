"""Result objects of the DID estimators: event studies, generic DID fits, Bacon decompositions, placebo tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from analysis.fixed_effects import RegressionResult
from analysis.results import EstimationResult, stars


def _figure(figsize: tuple[float, float]) -> Figure:
    """A figure bound to the Agg canvas: no pyplot state, no GUI backend, never shown."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


@dataclass(kw_only=True)
class DIDResult(RegressionResult):
    """A regression-type DID estimate (two-stage, stacked, PSM-DID) with extra tables (balance, weights …)."""


@dataclass(kw_only=True)
class EventStudyResult(EstimationResult):
    """Dynamic effects by event time (relative to first treatment) with their covariance, tables and plot.

    `params` is indexed by event time (int); `tidy()` names the terms `event_time::e`.
    """

    reference: tuple[int, ...]        # normalised to zero (shown as 0 without a standard error)
    binned: tuple[bool, bool] = (False, False)   # lowest / highest event time collects the tail
    by_cohort: pd.DataFrame | None = None        # cohort x event-time estimates (Sun-Abraham)
    regression: EstimationResult | None = None   # the underlying regression (all terms)

    def term_labels(self) -> list[str]:
        """Event-time terms as stored in `regression_results`."""
        return [f"event_time::{int(e)}" for e in self.params.index]

    def estimates(self, level: float = 0.95, include_reference: bool = True) -> pd.DataFrame:
        """One row per event time (reference periods as 0 with NaN inference), sorted by event time."""
        ci = self.conf_int(level)
        out = pd.DataFrame({"estimate": self.params, "std_error": self.std_errors, "t_stat": self.tvalues,
                            "p_value": self.pvalues, "ci_lower": ci["lower"], "ci_upper": ci["upper"]})
        if include_reference:
            ref = pd.DataFrame({"estimate": 0.0}, index=[r for r in self.reference if r not in out.index])
            out = pd.concat([out, ref]) if len(ref) else out
        out.index = out.index.astype(int)
        out.index.name = "event_time"
        return out.sort_index()

    def _subset(self, periods: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients and covariance of the given event times."""
        periods = [p for p in periods if p in self.params.index]
        return self.params.loc[periods].to_numpy(), self.vcov.loc[periods, periods].to_numpy()

    def average(self, periods: list[int] | None = None) -> dict[str, float]:
        """Simple average of the given event-time effects (default: all e >= 0) with its standard error."""
        periods = periods if periods is not None else [e for e in self.params.index if e >= 0]
        b, v = self._subset(periods)
        w = np.full(len(b), 1 / len(b))
        est, se = float(w @ b), float(np.sqrt(w @ v @ w))
        p = 2 * (stats.t.sf(abs(est / se), self.df_resid) if self.df_resid else stats.norm.sf(abs(est / se)))
        return {"estimate": est, "std_error": se, "p_value": float(p)}

    def pretrend_test(self) -> dict[str, float]:
        """Joint Wald test that every lead (e < 0) is zero: F(q, G-1) when clustered, chi2(q) otherwise."""
        leads = [e for e in self.params.index if e < 0]
        if not leads:
            return {"stat": float("nan"), "df": 0, "p_value": float("nan")}
        b, v = self._subset(leads)
        wald = float(b @ np.linalg.solve(v, b))
        q = len(leads)
        if self.df_resid:
            return {"stat": wald / q, "df": q, "p_value": float(stats.f.sf(wald / q, q, self.df_resid))}
        return {"stat": wald, "df": q, "p_value": float(stats.chi2.sf(wald, q))}

    def _label(self, e: int) -> str:
        """Event-time label; binned endpoints read ≤ / ≥."""
        lo, hi = min(self.params.index.min(), *self.reference), max(self.params.index.max(), *self.reference)
        if self.binned[0] and e == lo:
            return f"≤{e}"
        if self.binned[1] and e == hi:
            return f"≥{e}"
        return str(e)

    def coef_table(self, digits: int = 4) -> pd.DataFrame:
        """Event-time coefficients with stars and standard errors in parentheses, plus the footer."""
        rows = []
        for e, r in self.estimates().iterrows():
            if e in self.reference:
                rows += [(self._label(e), "0 (reference)"), ("", "")]
            else:
                rows += [(self._label(e), f"{r['estimate']:.{digits}f}{stars(r['p_value'])}"),
                         ("", f"({r['std_error']:.{digits}f})")]
        pre = self.pretrend_test()
        rows += self.footer()
        rows += [("Pre-trend test p", f"{pre['p_value']:.3f}" if np.isfinite(pre["p_value"]) else "")]
        return pd.DataFrame(rows, columns=["event time", self.dependent]).set_index("event time")

    def plot(self, level: float = 0.95, title: str | None = None, figsize: tuple[float, float] = (7.0, 4.0),
             by_cohort: bool = False) -> Figure:
        """Coefficients with pointwise CIs against event time (reference periods at 0); an Agg Figure."""
        fig = _figure(figsize)
        ax = fig.add_subplot(1, 1, 1)
        est = self.estimates(level)
        x = est.index.to_numpy()
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
        yerr = np.vstack([est["estimate"] - est["ci_lower"], est["ci_upper"] - est["estimate"]])
        ax.errorbar(x, est["estimate"], yerr=np.nan_to_num(yerr), fmt="o", color="C0", capsize=3,
                    label=f"{self.method} ({level:.0%} CI)")
        ref = est.index.isin(self.reference)
        ax.plot(x[ref], est["estimate"].to_numpy()[ref], "o", mfc="white", color="C0")
        if by_cohort and self.by_cohort is not None:
            for k, (g, sub) in enumerate(self.by_cohort.groupby("cohort")):
                ax.plot(sub["event_time"] + 0.1 * (k + 1), sub["estimate"], ".", color=f"C{k + 1}",
                        alpha=0.7, label=f"cohort {g}")
        ax.set_xticks(x, [self._label(int(e)) for e in x])
        ax.set_xlabel("event time (periods since first treatment)")
        ax.set_ylabel(f"effect on {self.dependent}")
        ax.set_title(title or self.method)
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        return fig


@dataclass(kw_only=True)
class BaconResult(EstimationResult):
    """Goodman-Bacon (2021) decomposition: every 2x2 DID, its weight and type, and the TWFE estimate.

    As an `EstimationResult` the terms are `TWFE` (with its CRV1 error) and the weighted average 2x2
    estimate of each comparison type (`bacon::<type>`, no standard error).
    """

    twfe: float
    decomposition: pd.DataFrame       # treated, control, type, estimate, weight

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted-average estimate by comparison type (Stata `bacondecomp` layout)."""
        d = self.decomposition.assign(we=lambda t: t["weight"] * t["estimate"])
        out = d.groupby("type", sort=False).agg(weight=("weight", "sum"), we=("we", "sum"), n=("weight", "size"))
        out["avg_estimate"] = out["we"] / out["weight"]
        return out[["weight", "avg_estimate", "n"]]

    def _tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The summary with a TWFE total row, and the full list of comparisons."""
        s = self.by_type()
        s.loc["TWFE (weighted sum)"] = [s["weight"].sum(), self.twfe, s["n"].sum()]
        return s.astype({"n": int}), self.decomposition

    @property
    def caption(self) -> str:
        """Table caption naming the outcome."""
        return f"Goodman-Bacon decomposition of the TWFE DID coefficient: {self.dependent}"

    def to_markdown(self) -> str:
        """Markdown: summary by type, then every 2x2 comparison."""
        s, d = self._tables()
        return (f"**{self.caption}**\n\n{s.to_markdown(floatfmt='.4f')}\n\n"
                f"{d.to_markdown(index=False, floatfmt='.4f')}\n")

    def to_latex(self) -> str:
        """LaTeX tables (summary, then comparisons)."""
        s, d = self._tables()
        return (s.to_latex(escape=True, float_format="%.4f", caption=self.caption) + "\n"
                + d.to_latex(index=False, escape=True, float_format="%.4f"))

    def to_html(self) -> str:
        """HTML tables (summary, then comparisons) under a caption."""
        s, d = self._tables()
        return f"<h4>{self.caption}</h4>\n" + s.to_html(float_format="%.4f") + "\n" + d.to_html(
            index=False, float_format="%.4f")

    def plot(self, title: str | None = None, figsize: tuple[float, float] = (6.0, 4.0)) -> Figure:
        """The classic Bacon scatter: 2x2 estimate against its weight, by type, with the TWFE line."""
        fig = _figure(figsize)
        ax = fig.add_subplot(1, 1, 1)
        for k, (kind, sub) in enumerate(self.decomposition.groupby("type", sort=False)):
            ax.scatter(sub["weight"], sub["estimate"], color=f"C{k}", label=kind)
        ax.axhline(self.twfe, color="black", ls="--", lw=0.8, label=f"TWFE = {self.twfe:.4f}")
        ax.set_xlabel("weight")
        ax.set_ylabel("2x2 DID estimate")
        ax.set_title(title or f"Goodman-Bacon decomposition: {self.dependent}")
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        return fig


@dataclass(kw_only=True)
class PlaceboResult(EstimationResult):
    """Permutation (placebo) test: the estimate, its reassignment distribution and the two-sided p-value.

    As an `EstimationResult` the term `treated` carries the actual estimate, the standard deviation of the
    placebo draws as its standard error, and the permutation p-value and 2.5/97.5% draw quantiles as
    `inference`.
    """

    actual: float
    draws: np.ndarray
    p_value: float
    assignment: str
    seed: int | None

    @property
    def n_draws(self) -> int:
        """Number of usable draws."""
        return len(self.draws)

    def distribution(self) -> pd.DataFrame:
        """One-row summary: estimate, draws' mean/sd/quantiles, p-value."""
        q = np.quantile(self.draws, [0.025, 0.975])
        return pd.DataFrame({
            "estimate": [self.actual], "draws": [self.n_draws], "mean": [self.draws.mean()],
            "sd": [self.draws.std(ddof=1)], "q2.5": [q[0]], "q97.5": [q[1]], "p_value": [self.p_value],
            "assignment": [self.assignment]}, index=[self.dependent])

    def to_markdown(self) -> str:
        """Markdown summary table."""
        return self.distribution().to_markdown(floatfmt=".4f") + "\n"

    def to_latex(self) -> str:
        """LaTeX summary table."""
        return self.distribution().to_latex(escape=True, float_format="%.4f")

    def to_html(self) -> str:
        """HTML summary table."""
        return self.distribution().to_html(float_format="%.4f")

    def plot(self, title: str | None = None, bins: int = 40, figsize: tuple[float, float] = (6.0, 4.0)) -> Figure:
        """Density of the placebo estimates with the actual estimate marked (Figs 6-7 of seed 002)."""
        fig = _figure(figsize)
        ax = fig.add_subplot(1, 1, 1)
        ax.hist(self.draws, bins=bins, density=True, color="C0", alpha=0.6, label=f"{self.n_draws:,} placebo draws")
        ax.axvline(self.actual, color="C3", lw=1.5, label=f"estimate {self.actual:.4f} (p = {self.p_value:.3f})")
        ax.axvline(0, color="black", lw=0.8, ls=":")
        ax.set_xlabel("placebo coefficient")
        ax.set_ylabel("density")
        ax.set_title(title or f"Placebo test: {self.dependent}")
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        return fig
