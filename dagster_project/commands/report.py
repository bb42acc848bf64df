"""`carbonpanel report`: one self-contained HTML report per paper, from what the warehouse holds.

The page is assembled from `dagster_project.reporting` (citation, sample, descriptive statistics,
journal tables, event-study plots, inequality trends, map, replication comparison, provenance).
Parts the warehouse does not have yet are skipped with a visible note, never invented.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.config import PROJECT_ROOT
from dagster_project.reporting import descriptives, figures, maps, provenance
from dagster_project.reporting.citation import paper_citation
from dagster_project.reporting.html import Page, data_table, esc, figure, paragraph, skipped
from dagster_project.reporting.tables import journal_tables
from dagster_project.warehouse import table_exists

SHARED_DIR = PROJECT_ROOT.parent / "shared"
PAPER_ID = re.compile(r"^seed_?(\d{3})$")
MAP_VARIABLE = "co2_per_capita_t"


class ReportError(ValueError):
    """A report cannot be written (no warehouse, unknown paper)."""


@dataclass(frozen=True)
class PaperDesign:
    """What the report needs to know about a paper's estimation beyond its stored results."""

    paper: str
    years: tuple[int, int] | None = None


def paper_designs() -> dict[str, PaperDesign]:
    """Sample windows of the papers, from their design files (analysis/designs/seed_00N.yaml)."""
    from analysis.designs.spec import design_files, load_design

    out = {}
    for path in design_files():
        d = load_design(path)
        years = d.panel.get("years")
        key = d.paper.replace("_", "")
        out[key] = PaperDesign(key, years=(int(years[0]), int(years[1])) if years else None)
    return out


def paper_results(conn: duckdb.DuckDBPyConnection, paper: str) -> pd.DataFrame:
    """This paper's rows of analysis.regression_results, laid out by table and column."""
    if not table_exists(conn, "analysis", "regression_results"):
        return pd.DataFrame()
    n = PAPER_ID.match(paper).group(1)
    df = conn.execute("select * from analysis.regression_results where paper in (?, ?) "
                      "order by table_id, column_id, spec_id", [f"seed{n}", f"seed_{n}"]).df()
    return df.rename(columns={"table_id": "table", "column_id": "column"})


def available_papers(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Papers with stored results."""
    if not table_exists(conn, "analysis", "regression_results"):
        return []
    papers = [r[0] for r in conn.execute("select distinct paper from analysis.regression_results").fetchall()]
    return sorted({p.replace("_", "") for p in papers if p and PAPER_ID.match(p)})


def term_labels(conn: duckdb.DuckDBPyConnection, dictionary: pd.DataFrame) -> dict[str, str]:
    """Readable labels of panel variables and policy dummies for table rows."""
    labels = dict(zip(dictionary["variable"], dictionary["label_en"].fillna(dictionary["variable"]), strict=True))
    labels["treated"] = "Treated (policy in force)"
    if table_exists(conn, "ref", "policy_catalog"):
        for pid, name in conn.execute("select policy_id, policy_name_en from ref.policy_catalog").fetchall():
            labels[f"treated_{pid}"] = f"Treated: {name}"
    return labels


def write_reports(warehouse: Path, out: Path, *, papers: Sequence[str] | None = None, embed: bool = True,
                  spec_dir: Path | None = None) -> list[Path]:
    """Write <out>/<paper>.html (figures in <out>/<paper>_files/) for each paper; return the pages."""
    if not warehouse.exists():
        raise ReportError(f"no warehouse at {warehouse}; run `carbonpanel build` first")
    spec_dir = spec_dir or SHARED_DIR / "specs"
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        chosen = list(papers) if papers else available_papers(conn)
        if not chosen:
            raise ReportError("analysis.regression_results has no paper results (model ids seedNNN_...); "
                              "name a paper with --paper")
        bad = [p for p in chosen if not PAPER_ID.match(p)]
        if bad:
            raise ReportError(f"paper ids look like seed002, got {bad}")
        chosen = [p.replace("_", "") for p in chosen]
        designs = paper_designs()
        return [paper_report(conn, paper=p, out=out, spec_dir=spec_dir, embed=embed,
                             design=designs.get(p, PaperDesign(p))) for p in chosen]
    finally:
        conn.close()


def paper_report(conn: duckdb.DuckDBPyConnection, *, paper: str, out: Path, spec_dir: Path, design: PaperDesign,
                 embed: bool = True) -> Path:
    """Assemble and write one paper's HTML report."""
    n = PAPER_ID.match(paper).group(1)
    spec = spec_dir / f"seed_{n}.md"
    if not spec.exists():
        raise ReportError(f"no spec notes for {paper} at {spec}")
    fig_dir = out / f"{paper}_files"
    fig_dir.mkdir(parents=True, exist_ok=True)
    cite = paper_citation(spec)
    results = paper_results(conn, paper)
    dictionary = conn.execute("select variable, label_cn, label_en, unit from marts.variable_dictionary").df()
    labels = term_labels(conn, dictionary)
    page = Page(title=f"{paper}: {cite.title}",
                subtitle=esc(f"Generated by carbonpanel report from the warehouse; spec notes {spec.name}."))

    page.add("Paper", _citation_html(cite, paper, spec_dir))
    panel_cols = [r[0] for r in conn.execute("describe marts.city_year_panel").fetchall()]
    deps = sorted(d for d in set(results["dependent"]) if d in panel_cols) if len(results) else []
    regressors = [t for t in dict.fromkeys(results["term"]) if t in panel_cols] if len(results) else []
    variables = [v for v in [*deps, *regressors] if v in panel_cols]
    sample = _estimation_sample(conn, variables=deps, years=design.years)
    page.add("Sample period and units", _sample_html(sample, results, design, variables))
    if variables:
        desc = descriptives.descriptive_statistics(sample, variables=variables, dictionary=dictionary)
        page.add("Descriptive statistics", data_table(
            desc, caption="Descriptive statistics of the estimation sample",
            note="City-year observations with the dependent variable observed in the sample window; labels and "
                 "units from marts.variable_dictionary."))
    else:
        page.add("Descriptive statistics", skipped("No stored results name panel variables yet."))
    page.add("Estimates", _tables_html(results, labels))
    page.add("Event-study plots", _event_html(results, labels, fig_dir, paper, embed, out))
    page.add("Inequality (Gini and Theil)", _inequality_html(conn, fig_dir, paper, embed, out))
    page.add("Map: CO2 per capita by city", _map_html(conn, sample, fig_dir, paper, embed, out, labels))
    page.add("Replication comparison", _comparison_html(conn, paper))
    page.add("Provenance", _provenance_html(conn))
    path = out / f"{paper}.html"
    path.write_text(page.render(), encoding="utf-8")
    return path


def _citation_html(cite: object, paper: str, spec_dir: Path) -> str:
    """Citation fields as recorded in the spec notes, and the published sample description."""
    items = [("Citation", cite.text()), ("Source text", cite.source_file), ("Spec notes", str(cite.spec))]
    html = "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"
    published = spec_dir.parent / "published" / f"seed_{paper[4:]}.csv"
    if published.exists():
        samples = pd.read_csv(published, dtype=str)["sample"].dropna().unique()
        if len(samples):
            html += paragraph("Sample as published: " + "; ".join(samples[:3]) + (" …" if len(samples) > 3 else ""))
    return html


def _estimation_sample(conn: duckdb.DuckDBPyConnection, *, variables: list[str],
                       years: tuple[int, int] | None) -> pd.DataFrame:
    """Panel rows in the paper's year window with every dependent variable observed."""
    where = [f'"{v}" is not null' for v in variables]
    params: list[object] = []
    if years:
        where.append("year between ? and ?")
        params += list(years)
    clause = f"where {' and '.join(where)}" if where else ""
    return conn.execute(f"select * from marts.city_year_panel {clause} order by city_code, year", params).df()


def _sample_html(sample: pd.DataFrame, results: pd.DataFrame, design: PaperDesign, variables: list[str]) -> str:
    """Years, cities and observations of the sample, and each model's N and clusters."""
    if sample.empty:
        return skipped("No panel rows match the paper's variables and years.")
    window = f"{design.years[0]}–{design.years[1]}" if design.years else "all panel years"
    text = (f"Unit: prefecture-level city × year. Window: {window}. Rows with the dependent variable observed: "
            f"{len(sample):,} city-years, {sample['city_code'].nunique()} cities, years "
            f"{int(sample['year'].min())}–{int(sample['year'].max())}.")
    html = paragraph(text)
    if len(results):
        per = (results.groupby("model_id", sort=False)
               .agg(dependent=("dependent", "first"), observations=("nobs", "first"),
                    clusters=("n_clusters", "first"), inference=("vcov", "first")).reset_index())
        base = per["observations"].max()
        per["sample"] = per["observations"].map(lambda n: "baseline" if n == base else "different (see tables)")
        html += data_table(per, caption="Estimation samples by model", float_format="{:,.0f}")
    return html


def _tables_html(results: pd.DataFrame, labels: dict[str, str]) -> str:
    """Journal tables of every stored specification."""
    if results.empty:
        return skipped("No results for this paper in analysis.regression_results yet.")
    return "".join(t.to_html() for t in journal_tables(results, labels=labels))


def _event_html(results: pd.DataFrame, labels: dict[str, str], fig_dir: Path, paper: str, embed: bool,
                out: Path) -> str:
    """One plot of every event-time series of the paper's models."""
    rows = figures.event_time_rows(results) if len(results) else pd.DataFrame()
    if rows.empty:
        return skipped("No event-time coefficients stored for this paper.")
    html = ""
    for dep, part in rows.groupby("dependent"):
        png = figures.event_study_plot(part, out=fig_dir / f"event_study_{dep}.png",
                                       title=f"Event study: {labels.get(dep, dep)}", ylabel=f"effect on {dep}")
        html += figure(png, caption=f"Event-time estimates with 95% intervals ({', '.join(part['model_id'].unique())})",
                       embed=embed, relative_to=out)
    return html


def _inequality_html(conn: duckdb.DuckDBPyConnection, fig_dir: Path, paper: str, embed: bool, out: Path) -> str:
    """Trends of any stored Gini/Theil series (tables in analysis or marts with such columns and a year)."""
    cols = conn.execute("select table_schema, table_name, column_name from information_schema.columns "
                        "where table_schema in ('analysis', 'marts') and (column_name ilike '%gini%' or "
                        "column_name ilike '%theil%')").df()
    if cols.empty:
        return skipped("No Gini or Theil series in the warehouse yet (no analysis/marts table has such a column); "
                       "this section fills in once the inequality asset exists.")
    html = ""
    for (schema, table), part in cols.groupby(["table_schema", "table_name"]):
        tcols = {r[0] for r in conn.execute(f'describe "{schema}"."{table}"').fetchall()}
        if "year" not in tcols:
            html += skipped(f"{schema}.{table} has {', '.join(part['column_name'])} but no year column; not plotted.")
            continue
        series = list(part["column_name"])
        frame = conn.execute(f'select year, {", ".join(f"avg({c}) as {c}" for c in series)} from "{schema}"."{table}" '
                             "group by year order by year").df()
        png = figures.trend_plot(frame, x="year", series=series, labels={}, out=fig_dir / f"inequality_{table}.png",
                                 title=f"{schema}.{table}")
        html += figure(png, caption=f"{', '.join(series)} by year ({schema}.{table}; mean over other keys)",
                       embed=embed, relative_to=out)
    return html


def _map_html(conn: duckdb.DuckDBPyConnection, sample: pd.DataFrame, fig_dir: Path, paper: str, embed: bool,
              out: Path, labels: dict[str, str]) -> str:
    """Choropleth of the sample-window mean of CO2 per capita by city on raw.city_boundaries."""
    if not table_exists(conn, "raw", "city_boundaries"):
        return skipped("raw.city_boundaries is not in the warehouse; no map.")
    boundaries = conn.execute("select city_code, geometry_wkt from raw.city_boundaries order by city_code").df()
    source = sample if MAP_VARIABLE in sample.columns and len(sample) else conn.execute(
        f"select city_code, year, {MAP_VARIABLE} from marts.city_year_panel").df()
    values = source.groupby("city_code")[MAP_VARIABLE].mean()
    years = f"{int(source['year'].min())}–{int(source['year'].max())}"
    png, n_value, n_missing = maps.choropleth(boundaries, values, out=fig_dir / "map_co2_per_capita.png",
                                              title=f"{labels.get(MAP_VARIABLE, MAP_VARIABLE)}, mean {years}",
                                              legend="t CO2 per person")
    return figure(png, caption=f"Mean {MAP_VARIABLE} over {years} by city ({n_value} cities with a value, "
                               f"{n_missing} without); quantile classes", embed=embed, relative_to=out)


def _comparison_html(conn: duckdb.DuckDBPyConnection, paper: str) -> str:
    """The published-vs-ours table (analysis.replication_comparison) when it exists."""
    if not table_exists(conn, "analysis", "replication_comparison"):
        return skipped("analysis.replication_comparison is not in the warehouse yet; published estimates are "
                       f"listed in ../shared/published/seed_{paper[4:]}.csv.")
    df = conn.execute("select * from analysis.replication_comparison where paper in (?, ?)",
                      [paper, f"seed_{paper[-3:]}"]).df()
    if df.empty:
        return skipped("analysis.replication_comparison has no rows for this paper.")
    from analysis.designs.replication import comparison_frame, table_summary

    html = "".join(paragraph(f"Table {t}: {table_summary(part)}.") for t, part in df.groupby("table_id", sort=False))
    return html + data_table(comparison_frame(df), caption="Published estimates and ours (full report: "
                             f"reports/replication/seed_{paper[-3:]}.html)")


def _provenance_html(conn: duckdb.DuckDBPyConnection) -> str:
    """Files read (name, sha256, publisher) and the data-quality results stored with the warehouse."""
    files = provenance.source_files(conn)
    html = data_table(files.drop(columns=["loaded_at"]), caption=f"Source files read by the build ({len(files)})",
                      float_format="{:,.0f}")
    rej = provenance.rejected_summary(conn)
    html += (data_table(rej, caption="Quarantined rows (raw.rejected_rows)", float_format="{:,.0f}") if len(rej)
             else paragraph("raw.rejected_rows is empty: no row or cell was quarantined."))
    tests = provenance.stored_test_failures(conn)
    if len(tests):
        html += data_table(tests, caption="dbt tests that store failing rows (0 = passed)", float_format="{:,.0f}")
    for name, frame in provenance.check_result_tables(conn).items():
        html += data_table(frame, caption=f"Check results ({name})")
    marts = provenance.quality_marts(conn)
    if len(marts):
        html += data_table(marts, caption="Reconciliation and coverage tables (inspect with carbonpanel sql)",
                           float_format="{:,.0f}")
    html += paragraph("Every dbt test of error severity and every Great Expectations suite is a blocking check: "
                      "`carbonpanel build` swaps in a new warehouse only when all of them pass, so the numbers "
                      "above come from a build whose blocking checks passed.", css="note")
    return html
