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
    """Run a read-only query on the warehouse and print the result."""
    import duckdb

    path = settings().warehouse
    if not path.exists():
        raise SystemExit(f"no warehouse at {path}; run `make run` or `carbonpanel build` first")
    conn = duckdb.connect(str(path), read_only=True)
    try:
        df = conn.execute(args.query).df()
    except duckdb.Error as exc:
        raise SystemExit(f"query failed: {exc}") from exc
    finally:
        conn.close()
    if args.csv:
        df.to_csv(sys.stdout, index=False)
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", args.max_rows, "display.max_columns", 50, "display.width", 200):
            print(df.to_string(index=False, max_rows=args.max_rows))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export the panel as Stata .dta (with Chinese/English variable labels), CSV or Parquet."""
    from dagster_project.export import export_panel

    path = export_panel(settings().warehouse, Path(args.out), fmt=args.format, label_language=args.labels)
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

    p = sub.add_parser("sql", help="run a read-only SQL query on the warehouse")
    p.add_argument("query")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.add_argument("--max-rows", type=int, default=200)
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("export", help="export marts.city_year_panel")
    p.add_argument("--format", choices=["dta", "csv", "parquet"], default="dta")
    p.add_argument("--labels", choices=["en", "cn"], default="en", help="language of .dta variable labels")
    p.add_argument("--out", default="reports/city_year_panel.dta")
    p.set_defaults(func=cmd_export)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
