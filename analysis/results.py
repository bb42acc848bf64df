"""One result API for every estimator: coefficients, inference, sample accounting, tables and serialisation.

Every estimator in `analysis` returns an `EstimationResult` (or a subclass): `params`, `std_errors`,
`tvalues`, `pvalues`, `conf_int()`, `nobs`, `vcov`, `tidy()` (one row per term, the layout of
`analysis.regression_results`), `summary()`, `to_markdown()` / `to_latex()` / `to_html()`, and
`to_dict()` / `from_dict()` for storage. Inference uses t(df_resid) when `df_resid` is set (reghdfe and
pyfixest use G-1 with clustered errors) and the normal distribution otherwise; a resampling method
(permutation, wild bootstrap) can replace the p-values and intervals through `inference`.

`etable` sets several results side by side (like pyfixest `etable` or linearmodels `compare`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

FOOTNOTE = "Standard errors in parentheses; * p<0.10, ** p<0.05, *** p<0.01."
TIDY_COLUMNS = ["model_id", "method", "dependent", "term", "estimate", "std_error", "t_stat", "p_value", "ci_lower",
                "ci_upper", "nobs", "n_clusters", "r2_within", "fixed_effects", "cluster", "vcov", "sample"]


def stars(p: float) -> str:
    """Significance stars: * p<0.10, ** p<0.05, *** p<0.01 (empty for a missing p-value)."""
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.10 else ""


def critical_value(level: float, df: int | None) -> float:
    """Two-sided critical value: t(df) when df is given, else normal."""
    return float(stats.t.ppf(0.5 + level / 2, df) if df else stats.norm.ppf(0.5 + level / 2))


@dataclass(kw_only=True)
class SampleInfo:
    """What an estimate rests on: units, periods, cohorts and every row dropped, with the reason."""

    nobs: int
    n_units: int | None = None
    periods: tuple[int, int] | None = None           # first and last period used
    n_periods: int | None = None
    cohorts: dict[str, int] = field(default_factory=dict)   # cohort (first treated period, "never") -> units
    dropped: list[dict[str, Any]] = field(default_factory=list)  # {"reason": ..., "rows": n}
    note: str = ""

    def drop(self, reason: str, rows: int) -> None:
        """Record `rows` observations dropped for `reason` (zero-row reasons are not recorded)."""
        if rows:
            self.dropped.append({"reason": reason, "rows": int(rows)})

    def describe(self) -> str:
        """One line for reports: units x periods, cohorts, drops."""
        parts = [f"N = {self.nobs:,}"]
        if self.n_units is not None:
            parts.append(f"{self.n_units:,} units")
        if self.periods is not None:
            parts.append(f"periods {self.periods[0]}–{self.periods[1]}")
        if self.cohorts:
            parts.append("cohorts " + ", ".join(f"{k}: {v}" for k, v in self.cohorts.items()))
        if self.dropped:
            parts.append("dropped " + "; ".join(f"{d['rows']:,} {d['reason']}" for d in self.dropped))
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)

    @classmethod
    def of_panel(cls, df: pd.DataFrame, *, unit: str | None, time: str | None, group: str | None = None,
                 dropped: list[dict[str, Any]] | None = None, note: str = "") -> SampleInfo:
        """Describe an estimation frame: its units, periods and (with `group`) cohort sizes."""
        info = cls(nobs=len(df), dropped=list(dropped or []), note=note)
        if unit is not None and unit in df:
            info.n_units = int(df[unit].nunique())
        if time is not None and time in df and len(df):
            t = pd.to_numeric(df[time], errors="coerce")
            info.periods, info.n_periods = (int(t.min()), int(t.max())), int(t.nunique())
        if group is not None and unit is not None and group in df and len(df):
            g = pd.to_numeric(df.groupby(unit, sort=True)[group].first(), errors="coerce")
            g = g.where(np.isfinite(g) & (g != 0))
            sizes = g.value_counts(dropna=False).sort_index()
            info.cohorts = {("never" if pd.isna(k) else str(int(k))): int(v) for k, v in sizes.items()}
        return info


@dataclass(kw_only=True)
class EstimationResult:
    """A fitted model: coefficients, their covariance, inference, sample accounting and renderers."""

    model_id: str
    method: str
    dependent: str
    params: pd.Series
    vcov: pd.DataFrame
    nobs: int
    df_resid: int | None = None                  # t(df_resid) inference; None = normal
    vcov_type: str = ""
    cluster: tuple[str, ...] = ()
    n_clusters: int | None = None
    fixed_effects: tuple[str, ...] = ()
    sample: SampleInfo | None = None
    stats: dict[str, float] = field(default_factory=dict)       # r2, r2_within, first-stage F, ...
    inference: pd.DataFrame | None = None        # p_value, ci_lower, ci_upper from resampling, by term
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # balance, weights, first stages, ...
    notes: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ inference
    @property
    def std_errors(self) -> pd.Series:
        """Standard errors from the covariance diagonal."""
        return pd.Series(np.sqrt(np.clip(np.diag(self.vcov.to_numpy(dtype=float)), 0, None)),
                         index=self.params.index, name="std_error")

    @property
    def tvalues(self) -> pd.Series:
        """t (or z) statistics."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.params / self.std_errors).rename("t_stat")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values: resampling ones where given, else t(df_resid) or normal."""
        t = np.abs(self.tvalues.to_numpy(dtype=float))
        p = 2 * (stats.t.sf(t, self.df_resid) if self.df_resid else stats.norm.sf(t))
        out = pd.Series(p, index=self.params.index, name="p_value")
        if self.inference is not None and "p_value" in self.inference:
            out.update(self.inference["p_value"].dropna())
        return out

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Confidence intervals (lower, upper): resampling ones at 95% where given, else analytic."""
        q = critical_value(level, self.df_resid)
        out = pd.DataFrame({"lower": self.params - q * self.std_errors, "upper": self.params + q * self.std_errors})
        if self.inference is not None and level == 0.95 and {"ci_lower", "ci_upper"} <= set(self.inference):
            ci = self.inference[["ci_lower", "ci_upper"]].dropna().rename(
                columns={"ci_lower": "lower", "ci_upper": "upper"})
            out.update(ci)
        return out

    @property
    def r2_within(self) -> float:
        """Within R² where the estimator defines one (NaN otherwise)."""
        return float(self.stats.get("r2_within", np.nan))

    # ------------------------------------------------------------------ data
    def term_labels(self) -> list[str]:
        """Term names as stored in `regression_results`."""
        return [str(t) for t in self.params.index]

    def tidy(self) -> pd.DataFrame:
        """One row per term in the layout of `analysis.regression_results`."""
        ci = self.conf_int()
        return pd.DataFrame({
            "model_id": self.model_id, "method": self.method, "dependent": self.dependent,
            "term": self.term_labels(), "estimate": self.params.to_numpy(dtype=float),
            "std_error": self.std_errors.to_numpy(), "t_stat": self.tvalues.to_numpy(dtype=float),
            "p_value": self.pvalues.to_numpy(), "ci_lower": ci["lower"].to_numpy(dtype=float),
            "ci_upper": ci["upper"].to_numpy(dtype=float), "nobs": int(self.nobs),
            "n_clusters": self.n_clusters, "r2_within": self.r2_within,
            "fixed_effects": "+".join(self.fixed_effects), "cluster": "+".join(self.cluster),
            "vcov": self.vcov_type, "sample": self.sample.describe() if self.sample else "",
        }, columns=TIDY_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the result's common fields (see `from_dict`).

        Estimator-specific fields (fitted model objects, influence functions, draws) are left out: they are
        large, not portable, and nothing in `from_dict` needs them; tables and notes carry what a report shows.
        """
        out: dict[str, Any] = {"class": type(self).__name__}
        for f in fields(EstimationResult):
            v = getattr(self, f.name)
            if isinstance(v, pd.Series):
                v = {"index": [_plain(i) for i in v.index], "values": [_plain(x) for x in v.to_numpy()]}
            elif isinstance(v, pd.DataFrame):
                v = json.loads(v.to_json(orient="split", date_format="iso", default_handler=str))
            elif isinstance(v, SampleInfo):
                v = asdict(v)
            elif isinstance(v, dict):
                v = {str(k): _jsonable(x) for k, x in v.items()}
            else:
                v = _jsonable(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EstimationResult:
        """Rebuild a result stored with `to_dict` (tables and coefficients; not the fitted model objects)."""
        names = {f.name for f in fields(EstimationResult)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["params"] = pd.Series(d["params"]["values"], index=d["params"]["index"], dtype=float)
        kw["vcov"] = pd.DataFrame(**d["vcov"])
        kw["vcov"].index, kw["vcov"].columns = kw["params"].index, kw["params"].index
        kw["sample"] = SampleInfo(**{**d["sample"], "periods": tuple(d["sample"]["periods"])
                                     if d["sample"].get("periods") else None}) if d.get("sample") else None
        kw["inference"] = pd.DataFrame(**d["inference"]) if d.get("inference") else None
        kw["tables"] = {k: pd.DataFrame(**v) for k, v in d.get("tables", {}).items() if isinstance(v, dict)}
        kw["cluster"], kw["fixed_effects"] = tuple(kw.get("cluster", ())), tuple(kw.get("fixed_effects", ()))
        return EstimationResult(**kw)

    # ------------------------------------------------------------------ tables
    def footer(self) -> list[tuple[str, str]]:
        """Rows under the coefficients: estimator, fixed effects, cluster, N, statistics."""
        rows = [("Estimator", self.method), ("Fixed effects", " + ".join(self.fixed_effects) or "none"),
                ("Standard errors", self.vcov_type or "")]
        if self.n_clusters:
            rows.append(("Clusters", f"{self.n_clusters:,}"))
        rows.append(("N", f"{self.nobs:,}"))
        rows += [(k, _fmt_stat(v)) for k, v in self.stats.items() if v is not None and np.isfinite(v)]
        return rows

    def coef_table(self, digits: int = 4) -> pd.DataFrame:
        """Coefficients with stars and standard errors in parentheses, then the footer."""
        rows: list[tuple[str, str]] = []
        for term, b, s, p in zip(self.term_labels(), self.params, self.std_errors, self.pvalues, strict=True):
            rows += [(term, f"{b:.{digits}f}{stars(p)}"), ("", f"({s:.{digits}f})" if np.isfinite(s) else "")]
        rows += self.footer()
        return pd.DataFrame(rows, columns=["", self.dependent]).set_index("")

    def summary(self) -> str:
        """A plain-text summary: the coefficient table with inference, then the sample."""
        ci = self.conf_int()
        body = pd.DataFrame({"estimate": self.params, "std_error": self.std_errors, "t": self.tvalues,
                             "p": self.pvalues, "ci_lower": ci["lower"], "ci_upper": ci["upper"]})
        head = f"{self.method}: {self.dependent}  [{self.model_id}]"
        lines = [head, "=" * len(head), body.to_string(float_format=lambda v: f"{v:.4f}"), ""]
        lines += [f"{k}: {v}" for k, v in self.footer()]
        if self.sample:
            lines.append(f"Sample: {self.sample.describe()}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A Markdown table (standard errors in parentheses), then extra tables under their names."""
        parts = [self.coef_table().to_markdown(), "", FOOTNOTE]
        if self.sample:
            parts += ["", f"Sample: {self.sample.describe()}"]
        parts += [f"\n**{name}**\n\n{t.to_markdown()}" for name, t in self.tables.items()]
        return "\n".join(parts) + "\n"

    def to_latex(self) -> str:
        """LaTeX tabulars for papers: the coefficient table and each extra table."""
        return "\n".join([self.coef_table().to_latex(escape=True),
                          *(t.to_latex(escape=True) for t in self.tables.values())])

    def to_html(self) -> str:
        """HTML for notebooks, reports and the Dagster UI."""
        parts = [self.coef_table().to_html(), f"<p>{FOOTNOTE}</p>"]
        if self.sample:
            parts.append(f"<p>Sample: {self.sample.describe()}</p>")
        parts += [f"<h4>{name}</h4>\n{t.to_html()}" for name, t in self.tables.items()]
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.summary()


def _plain(x: Any) -> Any:
    """A numpy scalar as a plain Python value."""
    return x.item() if isinstance(x, np.generic) else x


def _jsonable(v: Any) -> Any:
    """Best JSON form of a note value (frames as split dicts, arrays as lists, else str)."""
    if isinstance(v, pd.DataFrame):
        return json.loads(v.to_json(orient="split", default_handler=str))
    if isinstance(v, pd.Series):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return None if isinstance(v, float) and not math.isfinite(v) else v
    if isinstance(v, np.generic):
        return _jsonable(v.item())
    return str(v)


def _fmt_stat(v: float) -> str:
    """Format a footer statistic (integers without decimals)."""
    return f"{int(v):,}" if float(v).is_integer() and abs(v) >= 1 else f"{v:.3f}"


def etable(
    results: Sequence[EstimationResult],
    *,
    labels: Sequence[str] | None = None,
    terms: Sequence[str] | None = None,
    term_labels: dict[str, str] | None = None,
    digits: int = 3,
    stats_rows: Sequence[str] = ("r2_within",),
    format: Literal["frame", "md", "tex", "html"] = "md",
) -> pd.DataFrame | str:
    """Several results side by side: coefficients with stars and (SE), then fixed-effect, cluster and N rows."""
    if not results:
        raise ValueError("etable needs at least one result")
    labels = list(labels) if labels is not None else [f"({i + 1})" for i in range(len(results))]
    if len(labels) != len(results):
        raise ValueError(f"{len(labels)} labels for {len(results)} results")
    all_terms = list(dict.fromkeys(t for r in results for t in r.term_labels()))
    keep = [t for t in (terms or all_terms) if t in all_terms]
    names = term_labels or {}
    cols: dict[str, list[str]] = {}
    fes = list(dict.fromkeys(f for r in results for f in r.fixed_effects))
    for lab, r in zip(labels, results, strict=True):
        p, s, pv = (pd.Series(x.to_numpy(), index=r.term_labels()) for x in (r.params, r.std_errors, r.pvalues))
        col: list[str] = []
        for t in keep:
            col += ([f"{p[t]:.{digits}f}{stars(pv[t])}", f"({s[t]:.{digits}f})"] if t in p.index else ["", ""])
        col.append(r.dependent)
        col += ["Yes" if f in r.fixed_effects else "No" for f in fes]
        col += ["+".join(r.cluster) or "none", f"{r.nobs:,}"]
        col += [_fmt_stat(r.stats[k]) if np.isfinite(r.stats.get(k, np.nan)) else "" for k in stats_rows]
        col.append(r.method)
        cols[lab] = col
    index: list[str] = []
    for t in keep:
        index += [names.get(t, t), ""]
    index += ["Dependent variable", *(f"FE: {f}" for f in fes), "Clustered by", "N", *stats_rows, "Estimator"]
    frame = pd.DataFrame(cols, index=index)
    frame.index.name = ""
    if format == "frame":
        return frame
    if format == "md":
        return frame.to_markdown() + f"\n\n{FOOTNOTE}\n"
    if format == "tex":
        return frame.to_latex(escape=True)
    if format == "html":
        return frame.to_html() + f"\n<p>{FOOTNOTE}</p>"
    raise ValueError(f"format must be 'frame', 'md', 'tex' or 'html', not {format!r}")


class NotEstimable(ValueError):
    """The design is not identified on this sample (no treated cohort, collinear regressors, too few units)."""
