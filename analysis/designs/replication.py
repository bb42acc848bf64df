"""The replication comparison: every published coefficient a specification covers, beside ours.

For each specification's `published` entries ({dependent, term, ours[, model_label, column]}) the matching
rows of marts.published_estimates are set beside our estimate of the term `ours`: printed estimate, SE,
stars and N against ours, whether the signs agree, whether the published value lies in our 95% interval,
and, for QUALITATIVE rows (the paper states only a sign or significance), the stated sign against ours.
`report_markdown` / `report_html` write the per-paper report: one section per table with a one-line
summary, the comparison, our estimates side by side (`etable`), each column's sample and every choice and
deviation from the paper; then the specifications that could not be estimated, with the reason.
A design file's `figures` (descriptive series such as yearly Gini coefficients) are read from the warehouse
with `figure_data`, drawn by `plot_design_figure` and placed, with the plotted numbers, before the tables.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.designs.runner import DesignRun
from analysis.designs.spec import Figure, Spec, SpecError
from analysis.results import EstimationResult, etable, stars

COMPARISON_COLUMNS = [
    "spec_id", "paper", "table_id", "column_id", "label", "estimator", "published_dependent", "published_term",
    "published_model", "published_estimate", "published_se", "published_stars", "published_nobs",
    "published_qualitative", "published_note", "our_term", "our_estimate", "our_se", "our_p_value", "our_stars",
    "our_ci_lower", "our_ci_upper", "our_nobs", "sign_agrees", "published_in_ci", "stars_agree"]


def _stated_sign(note: str) -> float:
    """The sign a QUALITATIVE note states (+1, -1), or NaN when it states none."""
    text = (note or "").lower()
    neg = re.search(r"\bnegative\b|reduc|lower", text)
    pos = re.search(r"\bpositive\b|increas|carbon-increasing", text)
    if neg and not pos:
        return -1.0
    if pos and not neg:
        return 1.0
    return float("nan")


def _stated_significance(note: str) -> bool | None:
    """Whether a QUALITATIVE note says the estimate is significant (True), insignificant (False), or neither."""
    text = (note or "").lower()
    if re.search(r"insignificant|not significant|no significant", text):
        return False
    if re.search(r"significant", text):
        return True
    return None


def compare(run: DesignRun, published: pd.DataFrame) -> pd.DataFrame:
    """One row per (specification, published value it covers): published and ours side by side."""
    rows = []
    by_id = {r.spec.id: r for r in run.runs}
    for spec in run.design.specs:
        r = by_id.get(spec.id)
        res = r.result if r else None
        for p in spec.published:
            match = published[(published["paper"] == spec.paper) & (published["table_id"] == spec.table)
                              & (published["dependent"] == p.get("dependent"))
                              & (published["term"] == p.get("term"))]
            col = p.get("column", spec.column)
            match = match[match["column_id"].isna() | (match["column_id"].astype(str) == str(col))]
            if "model_label" in p:
                match = match[match["model_label"] == p["model_label"]]
            for _, m in match.iterrows():
                rows.append(_row(spec, p, m, res))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _row(spec: Spec, p: dict[str, str], m: pd.Series, res: EstimationResult | None) -> dict[str, object]:
    """One comparison row."""
    pub_est = m["estimate"] if pd.notna(m["estimate"]) else np.nan
    out: dict[str, object] = {
        "spec_id": spec.id, "paper": spec.paper, "table_id": spec.table, "column_id": spec.column,
        "label": spec.label, "estimator": spec.estimator, "published_dependent": m["dependent"],
        "published_term": m["term"], "published_model": m["model_label"], "published_estimate": pub_est,
        "published_se": m["se"], "published_stars": m["stars"] if pd.notna(m["stars"]) else "",
        "published_nobs": m["nobs"], "published_qualitative": bool(m["is_qualitative"]),
        "published_note": m["notes"], "our_term": p.get("ours"),
    }
    term = p.get("ours")
    if res is not None and term and term.startswith("stats::") and term[7:] in res.stats:
        # A published count or statistic (e.g. dCDH's number of positive weights), not a coefficient.
        val = float(res.stats[term[7:]])
        return {**out, "our_estimate": val, "our_se": np.nan, "our_p_value": np.nan, "our_stars": "",
                "our_ci_lower": np.nan, "our_ci_upper": np.nan, "our_nobs": res.nobs,
                "sign_agrees": None if not np.isfinite(pub_est) else bool(np.sign(val) == np.sign(pub_est)),
                "published_in_ci": None, "stars_agree": None}
    if res is None or term not in res.term_labels():
        return {**out, "our_estimate": np.nan, "our_se": np.nan, "our_p_value": np.nan, "our_stars": "",
                "our_ci_lower": np.nan, "our_ci_upper": np.nan, "our_nobs": res.nobs if res else None,
                "sign_agrees": None, "published_in_ci": None, "stars_agree": None}
    i = res.term_labels().index(term)
    est, se, pv = float(res.params.iloc[i]), float(res.std_errors.iloc[i]), float(res.pvalues.iloc[i])
    ci = res.conf_int().iloc[i]
    ours_stars = stars(pv)
    expected = np.sign(pub_est) if np.isfinite(pub_est) and pub_est != 0 else _stated_sign(str(m["notes"]))
    sign = None if not np.isfinite(expected) else bool(np.sign(est) == expected)
    in_ci = None if not np.isfinite(pub_est) else bool(ci["lower"] <= pub_est <= ci["upper"])
    pub_stars = out["published_stars"]
    if pub_stars or np.isfinite(pub_est):
        stars_agree: bool | None = bool(ours_stars == pub_stars)
    else:
        # A QUALITATIVE row without stars: compare significance at 10% as the note states it.
        stated = _stated_significance(str(m["notes"]))
        stars_agree = None if stated is None else bool((pv < 0.10) == stated)
    return {**out, "our_estimate": est, "our_se": se, "our_p_value": pv, "our_stars": ours_stars,
            "our_ci_lower": float(ci["lower"]), "our_ci_upper": float(ci["upper"]), "our_nobs": res.nobs,
            "sign_agrees": sign, "published_in_ci": in_ci, "stars_agree": stars_agree}


def table_summary(cmp: pd.DataFrame) -> str:
    """One line: how many published values, sign agreement, values inside our interval, stars agreement."""
    if cmp.empty:
        return "no published number for this table is covered by a specification"
    n = len(cmp)
    numeric = cmp["published_estimate"].notna()
    est = cmp["our_estimate"].notna()

    def share(col: str, mask: pd.Series) -> str:
        vals = cmp.loc[mask, col].dropna()
        return f"{int(vals.sum())}/{len(vals)}" if len(vals) else "–"

    return (f"{n} published value(s) ({int(numeric.sum())} numeric, {int((~numeric).sum())} qualitative), "
            f"{int(est.sum())} estimated; sign agrees {share('sign_agrees', est)}, published value inside our "
            f"95% CI {share('published_in_ci', est & numeric)}, same stars {share('stars_agree', est)}")


def _fmt(v: object, digits: int = 3) -> str:
    """A number for the tables, blank when missing."""
    if v is None or v is pd.NA or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{v:.{digits}f}"
    return str(v)


def comparison_frame(cmp: pd.DataFrame) -> pd.DataFrame:
    """The comparison as a display table."""
    return pd.DataFrame({
        "column": cmp["column_id"], "spec": cmp["spec_id"], "outcome (paper)": cmp["published_dependent"],
        "term": cmp["published_term"] + " ↔ " + cmp["our_term"].astype(str),
        "published": [("(qualitative) " + _fmt(_stated_sign(str(n)) if q else e).replace("-1.000", "negative")
                       .replace("1.000", "positive") if q else _fmt(e)) + (s or "")
                      for e, s, q, n in zip(cmp["published_estimate"], cmp["published_stars"],
                                            cmp["published_qualitative"], cmp["published_note"], strict=True)],
        "published SE": [_fmt(v) for v in cmp["published_se"]],
        "published N": [_fmt(v) for v in cmp["published_nobs"]],
        "ours": [_fmt(e) + (s or "") for e, s in zip(cmp["our_estimate"], cmp["our_stars"], strict=True)],
        "our SE": [_fmt(v) for v in cmp["our_se"]],
        "our 95% CI": [f"[{_fmt(lo)}, {_fmt(hi)}]" if pd.notna(lo) else ""
                       for lo, hi in zip(cmp["our_ci_lower"], cmp["our_ci_upper"], strict=True)],
        "our N": [_fmt(v) for v in cmp["our_nobs"]],
        "sign agrees": [_fmt(v) for v in cmp["sign_agrees"]],
        "published in our CI": [_fmt(v) for v in cmp["published_in_ci"]],
    })


def save_figures(run: DesignRun, out_dir: Path) -> dict[str, str]:
    """Write `<spec_id>.png` for every result that can plot itself (event studies, Bacon, placebo)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figs = {}
    for r in run.runs:
        res = r.result
        if res is None or not hasattr(res, "plot"):
            continue
        if getattr(res, "levels", None) is not None and res.levels.empty:
            continue                       # a single aggregated ATT: nothing to draw
        name = f"{r.spec.id}.png"
        fig = res.plot(title=f"{r.spec.id}: {r.spec.label}")
        fig.savefig(out_dir / name, dpi=110)
        figs[r.spec.id] = name
    return figs


def figure_data(conn: Any, figure: Figure) -> pd.DataFrame:
    """The rows of the figure's source table it draws (filtered, `y` normalised where asked), sorted by x."""
    schema, table = figure.source.split(".")
    have = {r[0] for r in conn.execute("select column_name from information_schema.columns "
                                       "where table_schema = ? and table_name = ?", [schema, table]).fetchall()}
    if not have:
        raise SpecError(f"figure {figure.id}: table {figure.source} is not in the warehouse")
    missing = [c for c in figure.columns() if c not in have]
    if missing:
        raise SpecError(f"figure {figure.id}: {figure.source} has no column(s) {missing}")
    clauses, params = [], []
    for col, values in figure.where.items():
        clauses.append(f'"{col}" in ({", ".join("?" for _ in values)})')
        params += list(values)
    if figure.years:
        clauses.append(f'"{figure.x}" between ? and ?')
        params += list(figure.years)
    cols = ", ".join(f'"{c}"' for c in figure.columns())
    where = f" where {' and '.join(clauses)}" if clauses else ""
    df = conn.execute(f"select {cols} from {figure.source}{where}", params).df()
    if figure.normalise:
        # Shares of a total within each cell (e.g. Dagum parts of a year's Gini), so the parts sum to 1.
        df[figure.y] = df[figure.y] / df.groupby(list(figure.normalise))[figure.y].transform("sum")
    keys = [c for c in [figure.facet, *figure.series, figure.x] if c]
    return df.sort_values(keys).reset_index(drop=True)


def _series_label(row: tuple[object, ...] | object, labels: Mapping[str, str] | None = None) -> str:
    """A legend label from one or more series values (a variable name shown by its dictionary label)."""
    parts = row if isinstance(row, tuple) else (row,)
    return " / ".join((labels or {}).get(str(v), str(v)) for v in parts)


def plot_design_figure(data: pd.DataFrame, figure: Figure, *, labels: Mapping[str, str] | None = None) -> Any:
    """The figure as a matplotlib Figure (Agg canvas): one panel per facet value, one line/area per series.

    `labels` maps values that are variable names (e.g. `co2_mt`) to their dictionary labels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    facets = list(dict.fromkeys(data[figure.facet])) if figure.facet else [None]
    fig = MplFigure(figsize=(6.5 * min(len(facets), 2), 3.8 * ((len(facets) + 1) // 2)))
    FigureCanvasAgg(fig)
    for k, facet in enumerate(facets):
        ax = fig.add_subplot((len(facets) + 1) // 2, min(len(facets), 2), k + 1)
        sub = data if facet is None else data[data[figure.facet] == facet]
        if figure.kind == "stacked_area":
            wide = sub.pivot_table(index=figure.x, columns=list(figure.series), values=figure.y, aggfunc="sum")
            ax.stackplot(wide.index, wide.T.to_numpy(), labels=[_series_label(c, labels) for c in wide.columns],
                         alpha=0.8)
        else:
            groups = list(sub.groupby(list(figure.series), sort=True)) if figure.series else [("", sub)]
            for i, (key, g) in enumerate(groups):
                ax.plot(g[figure.x], g[figure.y], marker="o", ms=3, color=f"C{i % 10}",
                        label=_series_label(key, labels))
        ax.set_xlabel(figure.x)
        ax.set_ylabel(f"share of {figure.y}" if figure.normalise else figure.y)
        ax.set_title(_series_label(facet, labels) if facet is not None else figure.title, fontsize=10)
        ax.legend(frameon=False, fontsize=7)
    if figure.facet:
        fig.suptitle(figure.title, fontsize=11)
    fig.tight_layout()
    return fig


def figure_table(data: pd.DataFrame, figure: Figure) -> pd.DataFrame:
    """The plotted numbers, one row per x value and one column per (facet, series), for the report."""
    cols = [c for c in [figure.facet, *figure.series] if c]
    if not cols:
        return data[[figure.x, figure.y]].round(4)
    wide = data.pivot_table(index=figure.x, columns=cols, values=figure.y, aggfunc="first")
    wide.columns = [_series_label(c) for c in wide.columns]
    return wide.round(4).reset_index()


def _spec_notes(spec: Spec, res: EstimationResult | None) -> list[str]:
    """Sample, choices and deviations of one specification, as lines."""
    lines = [f"**{spec.id}** ({spec.label}; {spec.estimator}; outcome `{spec.outcome}`; controls: "
             f"{', '.join(spec.controls) or 'none'}; fixed effects: {', '.join(spec.fixed_effects) or 'none'})"]
    if res is not None and res.sample is not None:
        lines.append(f"  - sample: {res.sample.describe()}")
    lines += [f"  - choice where the paper is silent: {c.get('item', '')}: {c.get('choice', '')} "
              f"({c.get('reason', '')})" for c in spec.choices]
    lines += [f"  - deviation from the paper: {d}" for d in spec.deviations]
    return lines


def table_heading(table: str) -> str:
    """A design table id as a heading: "3" -> "Table 3", "fig4" -> "Figure 4", "appendix_IV" -> "Appendix: IV"."""
    for prefix, word in (("fig", "Figure"), ("appendix_", "Appendix:"), ("text", "Text")):
        if table.startswith(prefix):
            return f"{word} {table[len(prefix):].lstrip('_')}".strip()
    return f"Table {table}"


def report_markdown(run: DesignRun, cmp: pd.DataFrame, *, figures: dict[str, str] | None = None,
                    design_figures: dict[str, tuple[str, pd.DataFrame]] | None = None) -> str:
    """The replication report of one paper in Markdown (`design_figures`: figure id -> (PNG path, data))."""
    d = run.design
    figures = figures or {}
    design_figures = design_figures or {}
    by_id = {r.spec.id: r for r in run.runs}
    parts = [f"# Replication report: {d.paper}", "", f"**{d.title}**", "", f"Citation: {d.citation}", "",
             "Published numbers: `../shared/published/` (marts.published_estimates). Each table below shows "
             "the published values our specifications cover beside our estimates on this warehouse. On the "
             "embedded sample the numbers show the mechanism, not the paper's findings.", ""]
    parts += [f"- {n}" for n in d.notes]
    for f in d.figures:
        if f.id not in design_figures:
            continue
        png, data = design_figures[f.id]
        parts += ["", f"## Figure {f.id}: {f.title}", "", f"![{f.id}]({png})", ""]
        if f.note:
            parts += [f.note, ""]
        parts += [f"Source: `{f.source}` ({', '.join(f'{k} in {list(v)}' for k, v in f.where.items()) or 'all rows'}"
                  f"{'; shares within ' + ', '.join(f.normalise) if f.normalise else ''}).", "",
                  figure_table(data, f).to_markdown(index=False), ""]
    for table in d.tables:
        specs = d.table_specs(table)
        c = cmp[cmp["table_id"] == table]
        parts += ["", f"## {table_heading(table)}", "", f"Summary: {table_summary(c)}.", ""]
        if not c.empty:
            parts += [comparison_frame(c).to_markdown(index=False), ""]
        done = [s for s in specs if by_id[s.id].result is not None]
        if done:
            results = [by_id[s.id].result for s in done]
            labs = [f"({s.column}) {s.label}" for s in done]
            # The terms of interest (regressors and published terms); controls are listed per column below.
            key = list(dict.fromkeys([*(t for s in done for t in s.regressors),
                                      *(p.get("ours", "") for s in done for p in s.published)]))
            shown = [t for t in key if any(t in r.term_labels() for r in results)]
            parts += ["Our estimates:", "", str(etable(results, labels=labs, terms=shown or None, format="md")), ""]
        for s in specs:
            parts += _spec_notes(s, by_id[s.id].result)
            if s.id in figures:
                parts += ["", f"![{s.id}]({figures[s.id]})"]
        missing = [by_id[s.id] for s in specs if by_id[s.id].result is None]
        parts += [f"- **not estimable** {m.spec.id}: {m.reason}" for m in missing]
    ne = run.not_estimable()
    parts += ["", "## Not estimable on this warehouse", ""]
    parts += [f"- {r.spec_id} ({r.label}): {r.reason}" for r in ne.itertuples()] or ["None."]
    return "\n".join(parts) + "\n"


def report_html(markdown_text: str, *, title: str) -> str:
    """A self-contained HTML page from the Markdown report (tables rendered, images linked beside it)."""
    import mistune

    body = mistune.create_markdown(plugins=["table"])(markdown_text)
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;line-height:1.4}"
             "table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}td,th{border:1px solid #ccc;"
             "padding:2px 6px;text-align:right}th{background:#f3f3f3}img{max-width:700px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>")


def write_report(run: DesignRun, cmp: pd.DataFrame, out_dir: Path, *,
                 figure_frames: dict[str, pd.DataFrame] | None = None,
                 labels: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Write <paper>.md and <paper>.html into `out_dir`, linking the figures `save_figures` left beside them.

    `figure_frames` (figure id -> `figure_data`) are drawn as `<fig_dir>/<paper>.<figure id>.png`, with
    variable names shown by their `labels`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    fig_dir = out_dir / f"{run.design.paper}_figures"
    figures = {s.id: f"{fig_dir.name}/{s.id}.png" for s in run.design.specs if (fig_dir / f"{s.id}.png").exists()}
    drawn = {}
    for f in run.design.figures:
        data = (figure_frames or {}).get(f.id)
        if data is None or data.empty:
            continue
        fig_dir.mkdir(parents=True, exist_ok=True)
        name = f"{run.design.paper}.{f.id}.png"
        plot_design_figure(data, f, labels=labels).savefig(fig_dir / name, dpi=110)
        drawn[f.id] = (f"{fig_dir.name}/{name}", data)
    text = report_markdown(run, cmp, figures=figures, design_figures=drawn)
    md_path = out_dir / f"{run.design.paper}.md"
    html_path = out_dir / f"{run.design.paper}.html"
    md_path.write_text(text, encoding="utf-8")
    html_path.write_text(report_html(text, title=f"Replication report: {run.design.paper}"), encoding="utf-8")
    return {"markdown": md_path, "html": html_path, "figures": fig_dir}
