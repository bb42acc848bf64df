"""`carbonpanel`: build the warehouse, write sample data, query the panel with SQL."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from dagster_project.config import RAW_LAYOUT, settings


def _years(text: str) -> range:
    """Parse 'A-B' into an inclusive year range."""
    try:
        a, b = (int(v) for v in text.split("-"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"years must look like 2003-2021, got {text!r}") from exc
    if b < a:
        raise argparse.ArgumentTypeError(f"years {text!r}: end before start")
    return range(a, b + 1)


def cmd_sample(args: argparse.Namespace) -> int:
    """Write the deterministic sample raw files."""
    from dagster_project.sample import generate

    out = Path(args.out).resolve()
    t0 = time.perf_counter()
    paths = generate(out, n_cities=args.cities, years=args.years, seed=args.seed)
    (out / ".complete").write_text("ok\n")
    size = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} files ({size / 1e6:.1f} MB) to {out} in {time.perf_counter() - t0:.1f}s")
    return 0


def run_build(select: str | None = None, warehouse: Path | None = None, raw_dir: Path | None = None) -> None:
    """Materialize the selected assets into a staging copy and swap it in only if everything passed."""
    import dagster as dg

    from dagster_project.definitions import build_definitions
    from dagster_project.warehouse import staged_warehouse

    s = settings()
    target = warehouse or s.warehouse
    raw = raw_dir or s.raw_dir
    if not raw.is_dir():
        raise SystemExit(f"raw data folder {raw} does not exist.\nexpected layout:\n{RAW_LAYOUT}\n"
                         "Generate the sample with `carbonpanel sample --out data/sample` or set CARBONPANEL_RAW_DIR.")
    with staged_warehouse(target) as staging:
        defs = build_definitions(warehouse=staging, raw_dir=raw)
        if select:
            job = dg.define_asset_job("cli_build", selection=dg.AssetSelection.from_string(select))
            defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
            job_def = defs.resolve_job_def("cli_build")
        else:
            job_def = defs.resolve_job_def("refresh_all")
        result = job_def.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
        failed_checks = [c for c in result.get_asset_check_evaluations()
                         if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
        for c in result.get_asset_check_evaluations():
            print(f"check {c.asset_key.to_user_string()}:{c.check_name}: {'passed' if c.passed else 'FAILED'}")
            if not c.passed:
                for key, value in c.metadata.items():
                    print(f"    {key}: {getattr(value, 'value', value)}")
        if not result.success or failed_checks:
            failures = [ev.message for ev in result.all_events if ev.is_failure]
            raise SystemExit("build failed; the previous warehouse is unchanged.\n" + "\n".join(
                str(f) for f in failures[:10]))
    print(f"warehouse ready: {target}")


def cmd_build(args: argparse.Namespace) -> int:
    """Build the warehouse (all assets by default)."""
    t0 = time.perf_counter()
    run_build(args.select)
    print(f"build finished in {time.perf_counter() - t0:.1f}s")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    """Run one read-only query on the warehouse and print the result."""
    from dagster_project.commands.sql import QueryError, format_result, run_query

    try:
        result = run_query(args.query, warehouse=settings().warehouse)
    except QueryError as exc:
        raise SystemExit(str(exc)) from exc
    if args.csv:
        result.frame.to_csv(sys.stdout, index=False)
    else:
        print(format_result(result, max_rows=args.max_rows))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export the panel (with treatment variables, labels, codebook) as .dta, Parquet, CSV or Excel."""
    from dagster_project.commands.export import ExportError, export_panel

    out = Path(args.out) if args.out else settings().reports_dir / f"city_year_panel.{args.format}"
    try:
        paths = export_panel(settings().warehouse, out, fmt=args.format, variables=args.vars, years=args.years,
                             policies=args.policy or (), label_language=args.labels)
    except ExportError as exc:
        raise SystemExit(str(exc)) from exc
    for path in paths:
        print(f"wrote {path}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the configuration and the raw folder against the documented layout, per source."""
    from dagster_project.commands.doctor import format_report, run_doctor

    report = run_doctor(raw_dir=settings().raw_dir, settings=settings())
    print(format_report(report))
    return 0 if report.ok else 1


def cmd_report(args: argparse.Namespace) -> int:
    """Write one self-contained HTML report per paper from the warehouse."""
    from dagster_project.commands.report import ReportError, write_reports

    out = Path(args.out) if args.out else settings().reports_dir
    try:
        paths = write_reports(settings().warehouse, out, papers=args.paper)
    except ReportError as exc:
        raise SystemExit(str(exc)) from exc
    for path in paths:
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `carbonpanel` console script."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    parser = argparse.ArgumentParser(prog="carbonpanel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="materialize assets (all by default) into the warehouse")
    p.add_argument("--select", help="Dagster asset selection, e.g. 'key:raw/ifr_robots+' or 'group:analysis'")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("sample", help="write the deterministic sample raw files")
    p.add_argument("--cities", type=int, default=None, help="number of cities (default: all real ones)")
    p.add_argument("--years", type=_years, default=range(2003, 2022), help="A-B, default 2003-2021")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--out", default=str(settings().raw_dir))
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("sql", help="run one read-only SQL query on the warehouse")
    p.add_argument("query")
    p.add_argument("--csv", action="store_true", help="print all rows as CSV instead of a table")
    p.add_argument("--max-rows", type=int, default=200, help="rows shown in the table (default 200)")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("export", help="export the panel with treatment variables, labels and a codebook")
    p.add_argument("--format", choices=["dta", "parquet", "csv", "xlsx"], default="dta")
    p.add_argument("--vars", nargs="+", metavar="VAR", help="panel variables (default: all); ids always kept")
    p.add_argument("--years", type=_years, default=None, help="A-B, default: every year")
    p.add_argument("--policy", nargs="+", metavar="ID", help="add these policies' treatment variables, "
                   "e.g. bigdata_pilot_zone")
    p.add_argument("--labels", choices=["en", "cn"], default="en", help="language of labels and value labels")
    p.add_argument("--out", default=None, help="output file (default: <reports>/city_year_panel.<format>)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("doctor", help="check the configuration and raw folder before a build")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("report", help="write the HTML report of each paper")
    p.add_argument("--paper", nargs="+", metavar="ID", help="e.g. seed002 (default: every paper with results)")
    p.add_argument("--out", default=None, help="folder (default: <reports>)")
    p.set_defaults(func=cmd_report)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
