"""`carbonpanel`: build the warehouse, write sample data, query the panel with SQL."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from dagster_project.build import run_build
from dagster_project.config import settings

__all__ = ["main", "run_build"]


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


def cmd_build(args: argparse.Namespace) -> int:
    """Build the warehouse: the stale assets by default, all with --full, or a --select selection."""
    run_build(args.select, full=args.full, verbose=args.verbose, wait_s=args.wait)
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
    # GX draws a tqdm bar per check, which would interleave with the build's lines; tqdm reads this
    # variable when it is first imported, so it is set before anything imports it.
    os.environ.setdefault("TQDM_DISABLE", "1")
    parser = argparse.ArgumentParser(prog="carbonpanel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="materialize the stale assets (or a selection) and publish the warehouse")
    p.add_argument("--select", help="Dagster asset selection, e.g. 'key:raw/ifr_robots+' or 'group:ifr'")
    p.add_argument("--full", action="store_true", help="rebuild every asset, not only the stale ones")
    p.add_argument("--verbose", action="store_true", help="print the full Dagster event log")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for another build of the same warehouse to finish (default: refuse)")
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


def run() -> None:
    """The `carbonpanel` console script: `main`, then end the process without tearing down the interpreter."""
    from dagster_project.process import exit_now

    exit_now(main())


if __name__ == "__main__":
    run()
