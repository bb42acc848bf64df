"""`make bench`: time sample generation and the full build at 1x and 10x universes.

Figures asked for by the issues:
- issue 2: full build after installation (target < 2 minutes on 2 cores); build time at 1x (338 real
  cities x 19 years) and 10x (3,000 units x 25 years), and how close to linear the growth is.
- issue 8: TWFE with two fixed effects and clustered errors on 1,000,000 rows against pyfixest feols.
- issue 5: Callaway-Sant'Anna with 999 multiplier-bootstrap draws on 300 cities x 15 years, and a
  1,000-draw placebo test, each timed, against pyfixest on the same data where it has an estimator.
- issue 10: the Luenberger decomposition (CRS and VRS frontiers of every year and every cross-period
  pair) for 280 cities x 14 years, production (T) and green (GT), target < 60 s on 2 cores; also with the
  contemporaneous and global frontiers in one call, as the measure asset runs it (issue 12), wall and CPU.

- issue 9: zonal night-light sums for 340 polygons over a 4,000 x 4,000 raster (seconds per raster, VIIRS-style
  float sums and DMSP-style calibrated histograms), and the peak memory of zonal statistics on a
  43,201 x 16,801 tiled, compressed GeoTIFF (the global DMSP grid; written sparse, so it is small on disk),
  measured in a child process (ru_maxrss) against the same process before it opens the raster.
- issue 12: importing the Dagster definitions (median of BENCH_REPEAT runs, wall and CPU), the cold
  build of the warehouse layer alone (ingest, dbt, checks; `WAREHOUSE_LAYER`) and of everything, a
  no-change rebuild (recomputes nothing) and a rebuild after one IFR file changed, each with
  wall and CPU seconds (the machine is shared: CPU seconds are the steadier figure).

Results are printed and written to .bench/results.json. BENCH_SCALES=1x skips the 10x build;
BENCH_SCALES=none runs only the estimator, zonal and import timings; BENCH_ZONAL=0 skips the zonal ones,
BENCH_ESTIMATORS=0 the estimator ones.
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


# Ingestion, dbt and every check: the warehouse without the measure marts and the paper analyses.
WAREHOUSE_LAYER = "key:raw/* or kind:dbt"


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
            df, y="y", unit="unit", time="year", group="g", bootstrap=999, seed=1, progress=False)),
        "cs_dr_999_bootstrap_all_aggregations_s": best_of(lambda: [callaway_santanna(
            df, y="y", unit="unit", time="year", group="g", bootstrap=999, seed=1, progress=False).aggregate(k)
            for k in ("simple", "group", "dynamic", "calendar")]),
        "placebo_1000_draws_s": best_of(lambda: placebo(df, y="y", unit="unit", time="year", group="g",
                                                        n_draws=1000, seed=1, progress=False)),
        # pyfixest has no Callaway-Sant'Anna; its heterogeneity-robust estimators on the same data:
        "pyfixest_did2s_s": best_of(lambda: pf.did2s(
            df.assign(treat=((df.g > 0) & (df.year >= df.g)).astype(int)), yname="y",
            first_stage="~ 0 | unit + year", second_stage="~ treat", treatment="treat", cluster="unit")),
        "pyfixest_twfe_s": best_of(lambda: pf.feols(
            "y ~ treat | unit + year", df.assign(treat=((df.g > 0) & (df.year >= df.g)).astype(int)),
            vcov={"CRV1": "unit"})),
    }
    return {k: round(v, 3) for k, v in out.items()}


def productivity() -> dict[str, float]:
    """Issue 10 timings: Luenberger T and GT on 280 units x 14 years, SBI (non-radial) and radial."""
    import numpy as np
    import pandas as pd

    from analysis.productivity import luenberger

    # Cobb-Douglas frontier with 3% technical progress a year and half-normal inefficiency; CO2 ∝ output.
    rng = np.random.default_rng(0)
    n, t = 280, 14
    df = pd.DataFrame({"unit": np.repeat(np.arange(n), t), "year": np.tile(np.arange(2006, 2006 + t), n)})
    df["K"] = np.exp(rng.normal(5, 1, len(df)))
    df["L"] = np.exp(rng.normal(3, 0.5, len(df)))
    df["Y"] = df.K ** 0.4 * df.L ** 0.6 * np.exp(0.03 * (df.year - 2006) - np.abs(rng.normal(0, 0.3, len(df))))
    df["CO2"] = df.Y * np.exp(rng.normal(0, 0.3, len(df)))
    out = {}
    for measure in ("nonradial", "radial"):
        for spec, bad in (("T", []), ("GT", ["CO2"])):
            direction = {"K": -1, "L": -1, "Y": 1, **({"CO2": -1} if bad else {})}
            t0 = time.perf_counter()
            luenberger(df, inputs=["K", "L"], good=["Y"], bad=bad, unit="unit", time="year", direction=direction,
                       measure=measure)
            out[f"luenberger_{spec}_{measure}_s"] = time.perf_counter() - t0
        out[f"luenberger_T_plus_GT_{measure}_s"] = out[f"luenberger_T_{measure}_s"] + out[f"luenberger_GT_{measure}_s"]
    # As marts/city_year_measures runs it: SBI, both frontiers per call (they share D^t(t)); CPU is the steadier
    # figure on the shared machine.
    wall, cpu = time.perf_counter(), time.process_time()
    for bad in ([], ["CO2"]):
        luenberger(df, inputs=["K", "L"], good=["Y"], bad=bad, unit="unit", time="year", measure="nonradial",
                   direction={"K": -1, "L": -1, "Y": 1, **({"CO2": -1} if bad else {})},
                   frontier=("contemporaneous", "global"))
    out["luenberger_T_plus_GT_nonradial_both_frontiers_s"] = time.perf_counter() - wall
    out["luenberger_T_plus_GT_nonradial_both_frontiers_cpu_s"] = time.process_time() - cpu
    return {k: round(v, 2) for k, v in out.items()}


def threshold_iv() -> dict[str, float]:
    """Issue 9 timings: Hansen panel threshold on 8,000 observations (400 units x 20 years)."""
    import numpy as np
    import pandas as pd

    from analysis.threshold import panel_threshold

    rng = np.random.default_rng(0)
    n, t = 400, 20
    q = rng.uniform(0, 1, n * t)
    x, z = rng.normal(size=n * t), rng.normal(size=n * t)
    slope = np.where(q <= 0.4, 1.0, np.where(q <= 0.7, 0.5, -0.2))
    df = pd.DataFrame({"unit": np.repeat(np.arange(n), t), "year": np.tile(np.arange(t), n), "q": q, "x": x,
                       "z": z, "y": np.repeat(rng.normal(size=n), t) + slope * x + 0.3 * z + rng.normal(size=n * t)})
    kw = dict(y="y", regime_x="x", q="q", controls=["z"], unit="unit", time="year", seed=1, progress=False)
    panel_threshold(df, bootstrap=0, **kw)          # warm-up: imports (pyfixest) are not the estimator's time
    out = {
        "threshold_search_all_values_1thr_s": best_of(lambda: panel_threshold(df, grid="all", bootstrap=0, **kw)),
        "threshold_hansen_2thr_300_bootstrap_each_s": best_of(
            lambda: panel_threshold(df, n_thresholds=2, bootstrap=300, **kw)),
    }
    return {k: round(v, 3) for k, v in out.items()}


def twfe_1m() -> dict[str, float]:
    """Issue 8: TWFE with two fixed effects and clustered errors on 1,000,000 rows, ours against pyfixest feols.

    Both are timed after one warm-up call (pyfixest compiles its demeaning kernels on first use); the
    figure is the median of five calls each, interleaved so that load on the shared machine hits both.
    """
    import statistics
    import warnings

    import numpy as np
    import pandas as pd
    import pyfixest as pf

    from analysis import twfe

    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(0)
    n = 1_000_000
    df = pd.DataFrame({"unit": rng.integers(0, 50_000, n), "year": rng.integers(1990, 2020, n)})
    df["x"] = rng.normal(size=n) + 0.01 * df["unit"] % 7
    df["y"] = 0.5 * df["x"] + rng.normal(size=n)

    def ours() -> object:
        return twfe(df, y="y", x=["x"], unit="unit", time="year", cluster="unit")

    def ref() -> object:
        return pf.feols("y ~ x | unit + year", df, vcov={"CRV1": "unit"})

    a, b = ours(), ref()
    assert abs(float(a.params["x"]) - float(b.coef()["x"])) < 1e-10
    t_ours, t_ref = [], []
    for _ in range(5):
        for fn, sink in ((ours, t_ours), (ref, t_ref)):
            t0 = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - t0)
    return {"twfe_1m_rows_ours_s": round(statistics.median(t_ours), 3),
            "twfe_1m_rows_pyfixest_s": round(statistics.median(t_ref), 3)}
def _bench_polygons(n: int = 340) -> object:
    """n synthetic city polygons (Voronoi cells of real seats plus synthetic units) as a boundaries table."""
    import tempfile

    from dagster_project.sample.boundaries import write_boundaries
    from dagster_project.sample.dgp import simulate
    from dagster_project.sources.boundaries import read_boundaries

    truth = simulate(n_cities=n, years=[2010])
    with tempfile.TemporaryDirectory() as tmp:
        write_boundaries(truth, Path(tmp))
        (Path(tmp) / "boundaries" / "provinces.geojson").unlink()
        # Units beyond the 338 real ones are synthetic extension units (<raw>/cities/), as in the sample.
        (Path(tmp) / "cities").mkdir()
        truth.cities[["city_code", "province_code"]].to_csv(Path(tmp) / "cities" / "units.csv", index=False)
        return read_boundaries(Path(tmp) / "boundaries").table


def zonal() -> dict[str, float]:
    """Issue 9 timings: 340 polygons x a 4,000 x 4,000 raster, and memory on a 43,201 x 16,801 tiled GeoTIFF."""
    import tempfile

    import numpy as np
    import rasterio
    import shapely
    from rasterio.transform import from_bounds

    from dagster_project.sources.nightlights import zonal_light

    units = _bench_polygons()
    out: dict[str, float] = {"polygons": len(units)}
    west, south, east, north = shapely.total_bounds(shapely.from_wkt(units["geometry_wkt"].to_numpy(str)))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        profile = {"driver": "GTiff", "width": 4000, "height": 4000, "count": 1, "crs": "EPSG:4326",
                   "transform": from_bounds(west, south, east, north, 4000, 4000), "tiled": True,
                   "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
        viirs, dmsp = Path(tmp) / "viirs.tif", Path(tmp) / "dmsp.tif"
        with rasterio.open(viirs, "w", dtype="float32", **profile) as dst:
            dst.write(rng.gamma(1.0, 2.0, size=(4000, 4000)).astype("float32"), 1)
        with rasterio.open(dmsp, "w", dtype="uint8", **profile) as dst:
            dst.write(rng.integers(0, 64, size=(4000, 4000)).astype("uint8"), 1)
        out["zonal_4000x4000_viirs_sum_s"] = round(best_of(lambda: zonal_light(
            viirs, units, sensor="viirs", satellite=None, year=2015)), 2)
        out["zonal_4000x4000_dmsp_calibrated_s"] = round(best_of(lambda: zonal_light(
            dmsp, units, sensor="dmsp", satellite="F16", year=2005)), 2)

        # The global DMSP grid: 30 arc-second pixels, lon -180..180.0083, lat -65..75; only tiles over the
        # polygons are written (GDAL leaves the others sparse), so the file stays small.
        big = Path(tmp) / "F162005.v4b_web.stable_lights.avg_vis.tif"
        res = 1 / 120
        transform = from_bounds(-180 - res / 2, -65 - res / 2, 180 + res / 2, 75 + res / 2, 43201, 16801)
        with rasterio.open(big, "w", driver="GTiff", width=43201, height=16801, count=1, dtype="uint8",
                           crs="EPSG:4326", transform=transform, tiled=True, blockxsize=512, blockysize=512,
                           compress="deflate", sparse_ok=True, nodata=255) as dst:
            win = dst.window(west, south, east, north).round_offsets().round_lengths()
            for r0 in range(int(win.row_off), int(win.row_off + win.height), 1024):
                h = min(1024, int(win.row_off + win.height) - r0)
                block = rng.integers(0, 64, size=(h, int(win.width))).astype("uint8")
                dst.write(block, 1, window=rasterio.windows.Window(win.col_off, r0, win.width, h))
        out["global_tif_mb_on_disk"] = round(big.stat().st_size / 1e6, 1)
        units.to_csv(Path(tmp) / "units.csv", index=False)
        child = subprocess.run([sys.executable, __file__, "--zonal-memory", str(big), str(Path(tmp) / "units.csv")],
                               check=True, capture_output=True, text=True, cwd=ROOT)
        out.update(json.loads(child.stdout.strip().splitlines()[-1]))
    out["global_raster_in_memory_mb_if_loaded"] = round(43201 * 16801 / 1e6, 1)
    return out


def zonal_memory_child(tif: str, units_path: str) -> None:
    """Child process: peak RSS before and after zonal statistics on one large raster (printed as JSON)."""
    import resource

    import pandas as pd

    from dagster_project.sources.nightlights import zonal_light

    units = pd.read_csv(units_path, dtype=str)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    zonal_light(Path(tif), units, sensor="dmsp", satellite="F16", year=2005)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"global_zonal_s": round(elapsed, 1), "peak_rss_before_mb": round(before, 1),
                      "peak_rss_after_mb": round(after, 1)}))


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
        builds, rebuilds, changes, warehouse_only = [], [], [], []
        for _ in range(int(os.environ.get("BENCH_BUILD_REPEAT", "1"))):
            # The warehouse layer alone (ingest, dbt, every check; no measures or paper analyses) ...
            wh.unlink(missing_ok=True)
            try:
                warehouse_only.append(run_cpu([exe, "build", "--full", "--select", WAREHOUSE_LAYER], env))
            except subprocess.CalledProcessError:
                # A blocking check failed on this sample (the build printed which): a time of an unpublished
                # build is not comparable, so the scale is reported as failed and the bench goes on.
                results[name] = {"sample_s": round(t_sample, 1), "failed": "warehouse build not published "
                                 "(a blocking check failed; see the build output above)"}
                print(f"{name}: {results[name]}", flush=True)
                break
        if name in results:
            continue
        for _ in range(int(os.environ.get("BENCH_BUILD_REPEAT", "1"))):
            # ... and everything, analyses included, from an empty warehouse.
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
                         "warehouse_layer_s": round(statistics.median(w for w, _ in warehouse_only), 1),
                         "warehouse_layer_cpu_s": round(statistics.median(c for _, c in warehouse_only), 1),
                         "rebuild_s": round(t_rebuild, 1),
                         "build_cpu_s": round(statistics.median(c for _, c in builds), 1),
                         "rebuild_cpu_s": round(statistics.median(c for _, c in rebuilds), 1),
                         "ifr_change_s": round(statistics.median(w for w, _ in changes), 1),
                         "ifr_change_cpu_s": round(statistics.median(c for _, c in changes), 1),
                         "warehouse_mb": round(wh.stat().st_size / 1e6, 1)}
        print(f"{name}: {results[name]}", flush=True)
    if {"1x", "10x"} <= results.keys() and not any("failed" in results[k] for k in ("1x", "10x")):
        r1, r10 = results["1x"], results["10x"]
        results["growth"] = {"rows_ratio": round(r10["panel_rows"] / r1["panel_rows"], 2),
                             "build_time_ratio": round(r10["build_s"] / r1["build_s"], 2)}
    results["definitions_import"] = import_timing(int(os.environ.get("BENCH_REPEAT", "5")))
    print(f"definitions import: {results['definitions_import']}", flush=True)
    results["productivity_280x14"] = productivity()
    print(f"Luenberger (280 units x 14 years): {results['productivity_280x14']}")
    if os.environ.get("BENCH_ZONAL", "1") != "0":
        results["zonal"] = zonal()
        print(f"zonal statistics: {results['zonal']}", flush=True)
    if os.environ.get("BENCH_ESTIMATORS", "1") != "0":
        results["threshold_8000_obs"] = threshold_iv()
        print(f"panel threshold (8,000 observations): {results['threshold_8000_obs']}", flush=True)
        results["estimators_300x15"] = estimators()
        print(f"estimators (300 units x 15 years): {results['estimators_300x15']}", flush=True)
        results["twfe_1m_rows"] = twfe_1m()
        print(f"TWFE, 1M rows, two FE, clustered: {results['twfe_1m_rows']}", flush=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print("\n| scale | panel rows | yearbook cells | raw MB | sample s | warehouse layer s (CPU) | build s (CPU) "
          "| no-change rebuild s (CPU) | IFR change s (CPU) | warehouse MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        if name in SCALES and "failed" in r:
            print(f"| {name} | | | | {r['sample_s']} | {r['failed']} | | | | |")
        elif name in SCALES:
            print(f"| {name} | {r['panel_rows']:,} | {r['yearbook_cells']:,} | {r['raw_mb']} | {r['sample_s']} | "
                  f"{r['warehouse_layer_s']} ({r['warehouse_layer_cpu_s']}) | "
                  f"{r['build_s']} ({r['build_cpu_s']}) | {r['rebuild_s']} ({r['rebuild_cpu_s']}) | "
                  f"{r['ifr_change_s']} ({r['ifr_change_cpu_s']}) | {r['warehouse_mb']} |")
    if "growth" in results:
        print(f"\n10x/1x: rows x{results['growth']['rows_ratio']}, build time x{results['growth']['build_time_ratio']}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--zonal-memory":
        zonal_memory_child(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(main())
