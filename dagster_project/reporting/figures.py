"""Figures drawn from stored results: event-study coefficient plots and inequality trends (PNG via Agg)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

# `kind::k` terms that are event times; cohort (`group::2015`) and calendar-year aggregations are not.
_EVENT = re.compile(r"^(?!group::|calendar::|cohort::|period::)[A-Za-z_]+::(-?\d+)$")


def _figure(figsize: tuple[float, float]) -> object:
    """A matplotlib Figure on the Agg canvas (no pyplot state, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: object, ax: object, *, xlabel: str, title: str, out: Path) -> Path:
    """Label, lay out and write a figure as PNG."""
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return out


def event_time_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of models with event-time terms (`kind::k`), with k as an integer column."""
    k = results["term"].str.extract(_EVENT)[0]
    out = results[k.notna()].assign(event_time=k[k.notna()].astype(int))
    return out.sort_values(["model_id", "event_time"])


def event_study_plot(rows: pd.DataFrame, *, out: Path, title: str, ylabel: str, level_z: float = 1.96) -> Path:
    """Coefficients and 95% intervals against event time, one series per model; written as PNG."""
    fig = _figure((7.5, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
    models = list(dict.fromkeys(rows["model_id"]))
    for i, (model, sub) in enumerate(rows.groupby("model_id", sort=False)):
        shift = (i - (len(models) - 1) / 2) * 0.12
        ci_lo = sub["ci_lower"].where(sub["ci_lower"].notna(), sub["estimate"] - level_z * sub["std_error"])
        ci_hi = sub["ci_upper"].where(sub["ci_upper"].notna(), sub["estimate"] + level_z * sub["std_error"])
        ax.errorbar(sub["event_time"] + shift, sub["estimate"],
                    yerr=[(sub["estimate"] - ci_lo).to_numpy(), (ci_hi - sub["estimate"]).to_numpy()],
                    fmt="o", capsize=3, color=f"C{i}", label=f"{model} (N={int(sub['nobs'].iloc[0]):,})")
    ax.set_ylabel(ylabel)
    return _save(fig, ax, xlabel="event time (years since first treatment)", title=title, out=out)


def trend_plot(frame: pd.DataFrame, *, x: str, series: list[str], labels: dict[str, str], out: Path,
               title: str) -> Path:
    """Line plot of several series over `x` (e.g. Gini and Theil by year); written as PNG."""
    fig = _figure((7.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    for i, s in enumerate(series):
        ax.plot(frame[x], frame[s], marker="o", color=f"C{i}", label=labels.get(s, s))
    return _save(fig, ax, xlabel=x, title=title, out=out)
