"""`make bench`: time sample generation and the full build at 1x and 10x universes.

Figures asked for by the issues:
- issue 2: full build after installation (target < 2 minutes on 2 cores); build time at 1x (338 real
  cities x 19 years) and 10x (3,000 units x 25 years), and how close to linear the growth is.
- issue 5: Callaway-Sant'Anna with 999 multiplier-bootstrap draws on 300 cities x 15 years, and a
  1,000-draw placebo test, each timed, against pyfixest on the same data where it has an estimator.

- issue 12: importing the Dagster definitions (median of BENCH_REPEAT runs, wall and CPU), the cold
  build, a no-change rebuild (recomputes nothing) and a rebuild after one IFR file changed, each with
  wall and CPU seconds (the machine is shared: CPU seconds are the steadier figure).

Results are printed and written to .bench/results.json. BENCH_SCALES=1x skips the 10x build;
BENCH_SCALES=none runs only the estimator and import timings.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".bench"
SCALES = {"1x": (None, "2003-2021"), "10x": (3000, "1997-2021")}


def run(cmd: list[str], env: dict[str, str]) -> float:
    """Run a command, fail loudly, return wall seconds."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    return time.perf_counter() - t0


def run_cpu(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, CPU seconds of the child and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = run(cmd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def import_timing(repeat: int) -> dict[str, float]:
    """Median wall and CPU seconds of importing the Dagster definitions in a fresh interpreter."""
    env = {**os.environ}
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = run_cpu([sys.executable, "-c", "import dagster_project.definitions"], env)
        walls.append(w)
        cpus.append(c)
    return {"import_wall_s": round(statistics.median(walls), 2), "import_cpu_s": round(statistics.median(cpus), 2),
            "runs": repeat}


def bump_ifr(raw: Path) -> None:
    """Change one IFR installations cell (as a user replacing the IFR export would)."""
    import openpyxl

    book = raw / "ifr" / "IFR_data_CN.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb.worksheets[0]
    col = [c.value for c in ws[1]].index("delivered") + 1
    ws.cell(4, col).value = (ws.cell(4, col).value or 0) + 1   # row 4: a level-1 industry in the first year
    wb.save(book)


def best_of(fn: object, repeat: int = 3) -> float:
    """Fastest wall time of `repeat` calls (the machine may be shared)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def estimators() -> dict[str, float]:
    """Issue 5 timings on a 300 x 15 staggered panel."""
    import warnings

    import pyfixest as pf

    from analysis.did import callaway_santanna, placebo
    from analysis.did.callaway_santanna import _bench_data

    warnings.filterwarnings("ignore")
    df = _bench_data()
    out = {
        "cs_dr_999_bootstrap_s": best_of(lambda: callaway_santanna(
            df, "y", "unit", "year", "g", bootstrap=999, seed=1, progress=False)),
        "cs_dr_999_bootstrap_all_aggregations_s": best_of(lambda: [callaway_santanna(
            df, "y", "unit", "year", "g", bootstrap=999, seed=1, progress=False).aggregate(k)
            for k in ("simple", "group", "dynamic", "calendar")]),
        "placebo_1000_draws_s": best_of(lambda: placebo(df, "y", "unit", "year", "g", n_draws=1000, seed=1,
                                                        progress=False)),
        # pyfixest has no Callaway-Sant'Anna; its heterogeneity-robust estimators on the same data:
        "pyfixest_did2s_s": best_of(lambda: pf.did2s(
            df.assign(treat=((df.g > 0) & (df.year >= df.g)).astype(int)), yname="y",
            first_stage="~ 0 | unit + year", second_stage="~ treat", treatment="treat", cluster="unit")),
        "pyfixest_twfe_s": best_of(lambda: pf.feols(
            "y ~ treat | unit + year", df.assign(treat=((df.g > 0) & (df.year >= df.g)).astype(int)),
            vcov={"CRV1": "unit"})),
    }
    return {k: round(v, 3) for k, v in out.items()}


def main() -> int:
    """Run every scale and print a table of timings."""
    scales = [s for s in os.environ.get("BENCH_SCALES", "1x,10x").split(",") if s in SCALES]
    OUT.mkdir(exist_ok=True)
    results = {}
    exe = str(Path(sys.executable).with_name("carbonpanel"))
    for name in scales:
        cities, years = SCALES[name]
        raw, wh = OUT / f"raw_{name}", OUT / f"panel_{name}.duckdb"
        shutil.rmtree(raw, ignore_errors=True)
        wh.unlink(missing_ok=True)
        env = {**os.environ, "CARBONPANEL_RAW_DIR": str(raw), "CARBONPANEL_WAREHOUSE": str(wh),
               "CARBONPANEL_REPORTS_DIR": str(OUT / f"reports_{name}")}
        sample_cmd = [exe, "sample", "--years", years, "--out", str(raw)]
        if cities:
            sample_cmd += ["--cities", str(cities)]
        t_sample = run(sample_cmd, env)
        repeat = int(os.environ.get("BENCH_REPEAT", "3"))
        builds, rebuilds, changes = [], [], []
        for _ in range(int(os.environ.get("BENCH_BUILD_REPEAT", "1"))):
            wh.unlink(missing_ok=True)
            builds.append(run_cpu([exe, "build", "--full"], env))
        for _ in range(repeat):
            rebuilds.append(run_cpu([exe, "build"], env))
        for _ in range(int(os.environ.get("BENCH_BUILD_REPEAT", "1"))):
            bump_ifr(raw)
            changes.append(run_cpu([exe, "build"], env))
        t_build = statistics.median(w for w, _ in builds)
        t_rebuild = statistics.median(w for w, _ in rebuilds)
        import duckdb

        conn = duckdb.connect(str(wh), read_only=True)
        rows = conn.execute("select count(*) from marts.city_year_panel").fetchone()[0]
        cells = conn.execute("select count(*) from raw.yearbook_indicators").fetchone()[0]
        conn.close()
        size = sum(p.stat().st_size for p in raw.rglob("*") if p.is_file())
        results[name] = {"panel_rows": rows, "yearbook_cells": cells, "raw_mb": round(size / 1e6, 1),
                         "sample_s": round(t_sample, 1), "build_s": round(t_build, 1),
                         "rebuild_s": round(t_rebuild, 1),
                         "build_cpu_s": round(statistics.median(c for _, c in builds), 1),
                         "rebuild_cpu_s": round(statistics.median(c for _, c in rebuilds), 1),
                         "ifr_change_s": round(statistics.median(w for w, _ in changes), 1),
                         "ifr_change_cpu_s": round(statistics.median(c for _, c in changes), 1),
                         "warehouse_mb": round(wh.stat().st_size / 1e6, 1)}
        print(f"{name}: {results[name]}", flush=True)
    if {"1x", "10x"} <= results.keys():
        r1, r10 = results["1x"], results["10x"]
        results["growth"] = {"rows_ratio": round(r10["panel_rows"] / r1["panel_rows"], 2),
                             "build_time_ratio": round(r10["build_s"] / r1["build_s"], 2)}
    results["definitions_import"] = import_timing(int(os.environ.get("BENCH_REPEAT", "5")))
    print(f"definitions import: {results['definitions_import']}", flush=True)
    if os.environ.get("BENCH_ESTIMATORS", "1") != "0":
        results["estimators_300x15"] = estimators()
    print(f"estimators (300 units x 15 years): {results.get('estimators_300x15')}")
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print("\n| scale | panel rows | yearbook cells | raw MB | sample s | build s (CPU) | no-change rebuild s (CPU) "
          "| IFR change s (CPU) | warehouse MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        if name in SCALES:
            print(f"| {name} | {r['panel_rows']:,} | {r['yearbook_cells']:,} | {r['raw_mb']} | {r['sample_s']} | "
                  f"{r['build_s']} ({r['build_cpu_s']}) | {r['rebuild_s']} ({r['rebuild_cpu_s']}) | "
                  f"{r['ifr_change_s']} ({r['ifr_change_cpu_s']}) | {r['warehouse_mb']} |")
    if "growth" in results:
        print(f"\n10x/1x: rows x{results['growth']['rows_ratio']}, build time x{results['growth']['build_time_ratio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
