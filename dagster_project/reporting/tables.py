"""Journal-style regression tables: specifications side by side as columns, standard errors below estimates.

Rows come from `analysis.regression_results`. When the rows carry `table` and `column` (spec-driven
results), they are laid out exactly so; otherwise models are grouped by kind: plain coefficient models
of one dependent variable side by side, and aggregated/event-time terms (`kind::value`) side by side
by event time or cohort. A column estimated on a different sample than the table's baseline (the
column with the most observations) is marked, with both samples in the note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from dagster_project.reporting.html import esc

STARS_NOTE = "Standard errors in parentheses; * p<0.10, ** p<0.05, *** p<0.01."
_AGG = re.compile(r"^(?P<kind>[A-Za-z_]+)::(?P<value>-?\d+|overall)$")


def stars(p: float | None) -> str:
    """Significance stars from a p-value."""
    if p is None or pd.isna(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.10 else ""


def term_key(term: str) -> tuple[str, str]:
    """Row key and label of a term: event times and cohorts of different estimators share a row."""
    m = _AGG.match(term)
    if not m:
        return term, term
    kind, value = m.group("kind"), m.group("value")
    if value == "overall":
        return "overall", "Overall ATT"
    if kind == "group":
        return f"cohort {value}", f"Cohort {value}"
    if kind == "calendar":
        return f"year {value}", f"Year {value}"
    return f"k={int(value)}", f"Event time {int(value):+d}" if int(value) else "Event time 0"


@dataclass
class JournalColumn:
    """One specification: its coefficients and its sample."""

    key: str
    header: str
    rows: pd.DataFrame
    nobs: int | None
    n_clusters: int | None
    r2_within: float | None
    fixed_effects: str
    vcov: str
    dependent: str


@dataclass
class JournalTable:
    """Several specifications side by side."""

    title: str
    columns: list[JournalColumn]
    labels: dict[str, str] = field(default_factory=dict)
    note: str = STARS_NOTE

    @property
    def baseline(self) -> JournalColumn:
        """The column with the most observations: the sample the others are compared with."""
        return max(self.columns, key=lambda c: c.nobs or 0)

    def sample_notes(self) -> dict[str, str]:
        """Columns estimated on another sample than the baseline, with both samples spelled out."""
        base = self.baseline
        out = {}
        for c in self.columns:
            if (c.nobs, c.n_clusters) != (base.nobs, base.n_clusters):
                out[c.key] = (f"{c.header}: different sample, {c.nobs:,} observations"
                              + (f", {c.n_clusters} clusters" if c.n_clusters else "")
                              + f" (baseline {base.header}: {base.nobs:,}"
                              + (f", {base.n_clusters} clusters" if base.n_clusters else "") + ")")
        return out

    def term_rows(self) -> list[tuple[str, str]]:
        """Row keys and labels in first-appearance order across columns."""
        seen: dict[str, str] = {}
        for c in self.columns:
            for term in c.rows["term"]:
                key, label = term_key(term)
                seen.setdefault(key, self.labels.get(term, label))
        return list(seen.items())

    def cells(self) -> dict[str, dict[tuple[str, str], str]]:
        """Formatted estimate (with stars) and SE per column header and (row key, 'estimate'|'se')."""
        out: dict[str, dict[tuple[str, str], str]] = {}
        for c in self.columns:
            vals = {}
            for r in c.rows.itertuples():
                key = term_key(r.term)[0]
                vals[(key, "estimate")] = f"{r.estimate:.4f}{stars(r.p_value)}"
                vals[(key, "se")] = "" if pd.isna(r.std_error) else f"({r.std_error:.4f})"
            out[c.header] = vals
        return out

    def to_frame(self) -> pd.DataFrame:
        """The table's content as data: one row per (row label, estimate|se), one column per specification."""
        cells = self.cells()
        index = [(label, part) for key, label in self.term_rows() for part in ("estimate", "se")]
        keys = [(key, part) for key, _ in self.term_rows() for part in ("estimate", "se")]
        data = {h: [cells[h].get(k, "") for k in keys] for h in cells}
        return pd.DataFrame(data, index=pd.MultiIndex.from_tuples(index, names=["term", "row"]))

    def to_html(self) -> str:
        """The table as HTML: term rows, then observations, clusters, R², fixed effects, inference."""
        frame = self.cells()
        notes = self.sample_notes()
        heads = "".join(f"<th>{esc(c.header)}{' †' if c.key in notes else ''}</th>" for c in self.columns)
        deps = "".join(f"<td>{esc(self.labels.get(c.dependent, c.dependent))}</td>" for c in self.columns)
        body = [f'<tr class="dep"><td>Dependent variable</td>{deps}</tr>']
        for key, label in self.term_rows():
            est = "".join(f"<td>{esc(frame[c.header].get((key, 'estimate'), ''))}</td>"
                          for c in self.columns)
            se = "".join(f'<td class="se">{esc(frame[c.header].get((key, "se"), ""))}</td>'
                         for c in self.columns)
            body += [f"<tr><td>{esc(label)}</td>{est}</tr>", f'<tr><td></td>{se}</tr>']

        def stat(name: str, values: list[object]) -> str:
            return f'<tr class="stat"><td>{esc(name)}</td>' + "".join(f"<td>{esc(v)}</td>" for v in values) + "</tr>"

        body.append(stat("Observations", [f"{c.nobs:,}" if c.nobs else "" for c in self.columns]))
        body.append(stat("Clusters", [c.n_clusters or "" for c in self.columns]))
        body.append(stat("Within R²", ["" if c.r2_within is None or pd.isna(c.r2_within) else f"{c.r2_within:.3f}"
                                       for c in self.columns]))
        body.append(stat("Fixed effects", [c.fixed_effects for c in self.columns]))
        body.append(stat("Inference", [c.vcov for c in self.columns]))
        note_html = "<br>".join(esc(n) for n in [self.note, *("† " + v for v in notes.values())])
        return (f'<table class="journal"><caption>{esc(self.title)}</caption><thead><tr><th></th>{heads}</tr>'
                f'</thead><tbody>{"".join(body)}</tbody></table><p class="note">{note_html}</p>')


def _column(key: str, header: str, rows: pd.DataFrame) -> JournalColumn:
    """A column from one model's rows (sample statistics repeat on every row of a model)."""
    first = rows.iloc[0]

    def opt_int(v: object) -> int | None:
        return None if v is None or pd.isna(v) else int(v)

    return JournalColumn(key=key, header=header, rows=rows.reset_index(drop=True), nobs=opt_int(first.get("nobs")),
                         n_clusters=opt_int(first.get("n_clusters")), r2_within=first.get("r2_within"),
                         fixed_effects=str(first.get("fixed_effects") or ""), vcov=str(first.get("vcov") or ""),
                         dependent=str(first.get("dependent") or ""))


def journal_tables(
    results: pd.DataFrame,
    *,
    labels: dict[str, str] | None = None,
    titles: dict[str, str] | None = None,
    max_columns: int = 6,
) -> list[JournalTable]:
    """Lay regression rows out as journal tables (by `table`/`column` when present, else by model kind)."""
    labels = labels or {}
    titles = titles or {}
    if results.empty:
        return []
    if {"table", "column"} <= set(results.columns) and results["table"].notna().all():
        tables = []
        for table, part in results.groupby("table", sort=True):
            cols = []
            for column, rows in part.groupby("column", sort=True):
                spec = rows["spec_id"].iloc[0] if "spec_id" in rows else rows["model_id"].iloc[0]
                cols.append(_column(f"{table}:{column}", f"({column}) {spec}", rows))
            tables.append(JournalTable(titles.get(str(table), f"Table {table}"), cols, labels))
        return tables
    models = list(dict.fromkeys(results["model_id"]))
    is_agg = {m: results.loc[results["model_id"] == m, "term"].map(lambda t: bool(_AGG.match(t))).all()
              for m in models}
    groups: dict[str, list[str]] = {}
    for m in models:
        dep = results.loc[results["model_id"] == m, "dependent"].iloc[0]
        kind = "aggregated and event-time effects" if is_agg[m] else "coefficients"
        groups.setdefault(f"{dep}|{kind}", []).append(m)
    tables = []
    for gkey, ms in groups.items():
        dep, kind = gkey.split("|")
        for start in range(0, len(ms), max_columns):
            chunk = ms[start:start + max_columns]
            cols = [_column(m, f"({start + i + 1}) {m}", results[results["model_id"] == m])
                    for i, m in enumerate(chunk)]
            part = f" (continued, {start // max_columns + 1})" if start else ""
            title = titles.get(gkey, f"{labels.get(dep, dep)}: {kind}") + part
            tables.append(JournalTable(title, cols, labels))
    return tables
