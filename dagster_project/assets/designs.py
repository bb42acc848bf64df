"""Paper designs as Dagster assets: one asset per published table, one replication report per paper.

`design_assets(path)` turns a design file (`analysis/designs/seed_00N.yaml`) into:

- `analysis/<paper>/table_<T>`: runs the table's specifications on the warehouse and writes their rows to
  `analysis.regression_results` (spec id, paper, table and column on every row), the serialised results to
  `analysis.spec_results` and the not-estimable ones, with the reason, to `analysis.not_estimable`; a WARN
  asset check `estimable` lists the specifications the data could not identify;
- `reports/<paper>`: compares every covered published number (marts.published_estimates) with ours, writes
  `analysis.replication_comparison` and `reports/replication/<paper>.{md,html}` with PNG figures, including
  the design file's descriptive `figures` (read from the measure marts, e.g. yearly Gini series).

The file is parsed (structure only) when the definitions load; variables, policies and timing codings are
checked against the warehouse when an asset runs, before anything is estimated. Estimators and the analysis
package are imported inside the asset bodies, so loading the definitions stays cheap.
"""


import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from analysis.designs.spec import DesignFile, design_files, load_design
from dagster_project.config import PROJECT_ROOT, settings
from dagster_project.metadata import dictionary_labels
from dagster_project.resources import Warehouse
from dagster_project.versions import (
    INPUT_DIGEST,
    code_version_of,
    input_digest,
    inputs_unchanged,
    unchanged_observation,
)
from dagster_project.warehouse import transaction

# The estimator package is part of every design asset's code version: a changed estimator reruns the tables.
ANALYSIS_CODE = sorted((PROJECT_ROOT / "analysis").rglob("*.py"))

DESIGN_INPUTS = [dg.AssetKey(["marts", name]) for name in
                 ("city_year_panel", "variable_dictionary", "treatment_panel", "treatment_cohorts", "spillover_rings",
                  "city_year_measures")]
PUBLISHED = dg.AssetKey(["marts", "published_estimates"])

RESULTS_DDL = {
    "regression_results": """
        spec_id varchar, paper varchar, table_id varchar, column_id varchar, label varchar, estimator varchar,
        model_id varchar, method varchar, dependent varchar, term varchar, estimate double, std_error double,
        t_stat double, p_value double, ci_lower double, ci_upper double, nobs bigint, n_clusters bigint,
        r2_within double, fixed_effects varchar, "cluster" varchar, vcov varchar, sample varchar""",
    "spec_results": """
        spec_id varchar, paper varchar, table_id varchar, column_id varchar, label varchar, estimator varchar,
        frame_rows bigint, result_json varchar""",
    "not_estimable": """
        spec_id varchar, paper varchar, table_id varchar, column_id varchar, label varchar, estimator varchar,
        reason varchar""",
    "replication_comparison": """
        spec_id varchar, paper varchar, table_id varchar, column_id varchar, label varchar, estimator varchar,
        published_dependent varchar, published_term varchar, published_model varchar, published_estimate double,
        published_se double, published_stars varchar, published_nobs bigint, published_qualitative boolean,
        published_note varchar, our_term varchar, our_estimate double, our_se double, our_p_value double,
        our_stars varchar, our_ci_lower double, our_ci_upper double, our_nobs bigint, sign_agrees boolean,
        published_in_ci boolean, stars_agree boolean""",
}


def ensure_result_tables(conn: Any) -> None:
    """Create the analysis tables, replacing any that a previous version left with another schema."""
    conn.execute("create schema if not exists analysis")
    for name, ddl in RESULTS_DDL.items():
        want = [c.strip().split()[0].strip('"') for c in ddl.split(",")]
        have = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'analysis' "
            "and table_name = ? order by ordinal_position", [name]).fetchall()]
        if have and have != want:
            conn.execute(f"drop table analysis.{name}")
        conn.execute(f"create table if not exists analysis.{name} ({ddl})")


def store_run(conn: Any, run: Any) -> int:
    """Replace these specifications' rows in the analysis tables in one transaction; return result rows."""
    import pandas as pd

    ids = [r.spec.id for r in run.runs]
    tidy = run.tidy()
    serial = pd.DataFrame([{"spec_id": r.spec.id, "paper": r.spec.paper, "table_id": r.spec.table,
                            "column_id": r.spec.column, "label": r.spec.label, "estimator": r.spec.estimator,
                            "frame_rows": r.frame_rows, "result_json": json.dumps(r.result.to_dict(),
                                                                                  ensure_ascii=False)}
                           for r in run.runs if r.result is not None],
                          columns=["spec_id", "paper", "table_id", "column_id", "label", "estimator", "frame_rows",
                                   "result_json"])
    with transaction(conn):
        ensure_result_tables(conn)
        conn.register("_ids", pd.DataFrame({"spec_id": ids}))
        for name, frame in (("regression_results", tidy), ("spec_results", serial),
                            ("not_estimable", run.not_estimable())):
            conn.execute(f"delete from analysis.{name} where spec_id in (select spec_id from _ids)")
            if len(frame):
                conn.register("_rows", frame)
                conn.execute(f"insert into analysis.{name} by name select * from _rows")
                conn.unregister("_rows")
        conn.unregister("_ids")
    return len(tidy)


def store_results(conn: Any, results: list[Any], *, paper: str, table_id: str) -> int:
    """Store results that no design file describes (e.g. a province-level equation) beside the specs' rows."""
    from analysis.designs.runner import DesignRun, SpecRun
    from analysis.designs.spec import DesignFile, Spec

    specs = [Spec(id=r.model_id, paper=paper, table=table_id, column=str(i + 1), label=r.model_id,
                  estimator=r.method, outcome=r.dependent) for i, r in enumerate(results)]
    design = DesignFile(paper=paper, title="", citation="", spec_file="", panel={}, derived=(), specs=tuple(specs))
    return store_run(conn, DesignRun(design=design, runs=[SpecRun(spec=s, result=r) for s, r in
                                                          zip(specs, results, strict=True)]))


def validate_against_warehouse(conn: Any, design: DesignFile) -> None:
    """Check the design's variables, policies and timing codings against the warehouse (SpecError if not)."""
    from analysis.designs.spec import validate_design

    variables = {r[0] for r in conn.execute("select variable from marts.variable_dictionary").fetchall()}
    variables |= {r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'city_year_panel'").fetchall()}
    policies = {r[0] for r in conn.execute("select policy_id from ref.policy_catalog").fetchall()}
    timings = {(a, b) for a, b in conn.execute(
        "select distinct policy_id, timing_coding from ref.policy_batch_timing").fetchall()}
    validate_design(design, variables=variables, policies=policies, timings=timings)


def _estimable_check(not_estimable: Any) -> dg.AssetCheckResult:
    """The WARN check listing the specifications the data could not identify, with the reason."""
    ne = not_estimable
    return dg.AssetCheckResult(
        check_name="estimable", passed=ne.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={"not_estimable": dg.MetadataValue.md(ne[["spec_id", "reason"]].to_markdown(index=False)
                                                       if len(ne) else "none")})


def _table_asset(design: DesignFile, table: str) -> dg.AssetsDefinition:
    """The asset that estimates one published table of a paper."""
    key = dg.AssetKey(["analysis", design.paper, f"table_{table}"])
    specs = design.table_specs(table)
    labels = "; ".join(f"({s.column}) {s.label} [{s.estimator}]" for s in specs)

    code_version = code_version_of(design.path, Path(__file__), *ANALYSIS_CODE)

    @dg.asset(key=key, deps=DESIGN_INPUTS, group_name=design.paper, kinds={"python", "duckdb"},
              code_version=code_version, output_required=False,
              description=f"{design.paper} table {table}: {labels}",
              check_specs=[dg.AssetCheckSpec("estimable", asset=key,
                                             description="Every specification of the table is identified")],
              metadata={"design_file": str(design.path), "specs": [s.id for s in specs]})
    def _asset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> Iterator[Any]:
        from analysis.designs.frame import load_tables
        from analysis.designs.replication import save_figures
        from analysis.designs.runner import run_design

        needed = design.columns(specs)
        with warehouse.connection(read_only=True) as conn:
            validate_against_warehouse(conn, design)
            tables = load_tables(conn, columns=needed, unit=design.panel.get("unit", "city_code"),
                                 time=design.panel.get("time", "year"))
            digest = input_digest(tables.panel, tables.cohorts, tables.treatment, tables.rings,
                                  code_version=code_version)
            if inputs_unchanged(context, conn, digest):
                # Nothing is recomputed; the check reports what the stored results say.
                stored = conn.execute("select spec_id, reason from analysis.not_estimable where spec_id in "
                                      f"({', '.join('?' for _ in specs)})", [s.id for s in specs]).df()
                yield unchanged_observation(context, digest)
                yield _estimable_check(stored)
                return
        run = run_design(design, tables, specs=specs)
        with warehouse.connection() as conn:
            n_rows = store_run(conn, run)
        save_figures(run, Path(settings().reports_dir) / "replication" / f"{design.paper}_figures")
        ne = run.not_estimable()
        # One event for the table, not one per specification (each event is a write to the run's event log).
        context.log.info("\n".join(f"{r.spec.id}: " + (f"N={r.result.nobs:,}" if r.result else
                                                         f"not estimable: {r.reason}") for r in run.runs))
        tidy = run.tidy()
        preview = tidy[["spec_id", "term", "estimate", "std_error", "p_value", "nobs"]].head(40) if len(tidy) else tidy
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": n_rows, "estimated": len(run.results), "not_estimable": len(ne),
            "results": dg.MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "(none)"),
            INPUT_DIGEST: digest,
        })
        yield _estimable_check(ne)

    return _asset


def _report_asset(design: DesignFile, table_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """The asset that writes a paper's replication report from its stored results."""
    key = dg.AssetKey(["reports", design.paper])

    code_version = code_version_of(design.path, Path(__file__), *ANALYSIS_CODE)

    # Descriptive figures read the measure marts (marts.inequality_year and friends come with city_year_measures).
    figure_deps = [dg.AssetKey(["marts", "city_year_measures"])] if design.figures else []

    @dg.asset(key=key, deps=[*table_keys, PUBLISHED, *figure_deps], group_name=design.paper, kinds={"python", "html"},
              code_version=code_version,
              description=f"Replication report of {design.paper}: published numbers beside ours "
                          "(reports/replication/<paper>.html, .md, figures).")
    def _asset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        from analysis.designs.replication import compare, figure_data, table_summary, write_report

        with warehouse.connection(read_only=True) as conn:
            run = load_run(conn, design)
            published = conn.execute("select * from marts.published_estimates where paper = ?",
                                     [design.paper]).df()
            frames = {f.id: figure_data(conn, f) for f in design.figures}
            # English part only: matplotlib's bundled fonts have no CJK glyphs.
            labels = {k: v.split(" / ")[0] for k, v in dictionary_labels(conn).items()} if design.figures else {}
        cmp = compare(run, published)
        out = Path(settings().reports_dir) / "replication"
        paths = write_report(run, cmp, out, figure_frames=frames, labels=labels)
        with warehouse.connection() as conn, transaction(conn):
            ensure_result_tables(conn)
            conn.execute("delete from analysis.replication_comparison where paper = ?", [design.paper])
            if len(cmp):
                conn.register("_cmp", cmp)
                conn.execute("insert into analysis.replication_comparison by name select * from _cmp")
                conn.unregister("_cmp")
        summary = "\n".join(f"- Table {t}: {table_summary(cmp[cmp['table_id'] == t])}" for t in design.tables)
        context.log.info(f"{design.paper}: {len(cmp)} published values compared")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": len(cmp), "report_html": str(paths["html"]), "report_markdown": str(paths["markdown"]),
            "summary": dg.MetadataValue.md(summary)})

    return _asset


def load_run(conn: Any, design: DesignFile) -> Any:
    """Rebuild a design's run from analysis.spec_results and analysis.not_estimable."""
    from analysis.designs.runner import DesignRun, SpecRun
    from analysis.results import EstimationResult

    stored = {r[0]: (r[1], r[2]) for r in conn.execute(
        "select spec_id, result_json, frame_rows from analysis.spec_results where paper = ?",
        [design.paper]).fetchall()}
    reasons = dict(conn.execute("select spec_id, reason from analysis.not_estimable where paper = ?",
                                [design.paper]).fetchall())
    runs = []
    for s in design.specs:
        if s.id in stored:
            runs.append(SpecRun(spec=s, result=EstimationResult.from_dict(json.loads(stored[s.id][0])),
                                frame_rows=int(stored[s.id][1])))
        else:
            runs.append(SpecRun(spec=s, reason=reasons.get(s.id, "not run")))
    return DesignRun(design=design, runs=runs)


def design_assets(path: Path) -> list[dg.AssetsDefinition]:
    """Every table asset of a design file plus its report asset."""
    design = load_design(path)
    tables = [_table_asset(design, t) for t in design.tables]
    return [*tables, _report_asset(design, [a.key for a in tables])]


def all_design_assets() -> list[dg.AssetsDefinition]:
    """The assets of every design file shipped in analysis/designs/."""
    return [a for p in design_files() for a in design_assets(p)]
