"""Zonal night-light statistics per unit (city, county-level unit, province) x year x sensor.

Files (any depth under `<raw>/nightlights/`, in the folders `dmsp/` and `viirs/`, both required):

- DMSP-OLS stable lights, digital numbers 0-63 (63 = saturated): NOAA NGDC names such as
  `F162005.v4b_web.stable_lights.avg_vis.tif`, or the short form `F16_2005_stable_lights.tif`;
- VIIRS annual composites, radiance in nW/cm2/sr: EOG names such as
  `VNL_v21_npp_2015_global_vcmslcfg_c202205302300.average_masked.dat.tif`, or `VNL_2015_average_masked.tif`.

The sensor and year come from the file name; a name that fits neither pattern, or that sits in a `dmsp/`
or `viirs/` folder of the other sensor, is a format error. When several DMSP satellites cover one year
(F15 and F16 overlap in 2004-2007 in the real archive), the newest satellite is used and the others are
listed in `rejected`; likewise the last-named file wins for a duplicated VIIRS year.

Zonal statistics use exactextract (Baston; the fastest published zonal-statistics engine in the
kadyb/raster-benchmark comparison, and exact: each pixel is weighted by the fraction of it the polygon
covers, so adjacent polygons split border pixels and unit sums add up to the province's). Rasters are
opened with rasterio and read window by window, one polygon's bounding box at a time, so a global
43,201 x 16,801 composite is never loaded whole. Polygons (lon/lat) are reprojected to the raster's CRS.

DMSP: each pixel's DN is inter-calibrated with `dbt/seeds/nightlights/dmsp_calibration.csv` (Li & Zhou 2017,
step 1 of Li et al. 2020; clipped to [0, 63]) before summing. DNs are whole numbers 0-63, so the calibrated
sum is computed exactly from the coverage-weighted DN histogram of each polygon: sum_v n_v * DN'(v).

Faults (never a silent 0): a raster without CRS, with several bands, whose extent (in lon/lat) does not
overlap the boundaries (a mislabelled CRS shows up this way), or without any valid pixel under the
polygons (all nodata) is an error naming the file, its CRS and both extents. A polygon that covers no
valid pixel gets null light with the reason in `note` and a row in `rejected`.

Output columns: city_code (unit code), unit_kind, province_code, year, sensor ('dmsp'|'viirs'), satellite
(F1x; null for VIIRS), sum_light (sum of DN or radiance x covered fraction), sum_light_calibrated
(inter-calibrated DMSP sum; = sum_light for VIIRS), mean_light (per covered valid pixel), n_pixels
(covered valid pixels, fractional), n_saturated (covered pixels at DN 63; null for VIIRS), source_file, note.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds, transform_geom

from dagster_project.sources.common import (
    LoadResult,
    MissingSourceError,
    Rejects,
    SourceFormatError,
    require_dir,
)

SOURCE = "nightlights"
CALIBRATION_SEED = Path(__file__).resolve().parents[2] / "dbt" / "seeds" / "nightlights" / "dmsp_calibration.csv"
DMSP_PATTERN = re.compile(r"^F(?P<sat>1\d)_?(?P<year>\d{4})[._](?:.*[._])?stable_lights[._].*tiff?$", re.I)
VIIRS_PATTERN = re.compile(
    r"^VNL_(?:v\d+_)?(?:npp_)?(?P<year>\d{4})(?:\d{2})?[_-](?:.*[._])?average_masked[._].*tiff?$", re.I)
EXPECTED_NAMES = (
    "DMSP 'F<sat><year>.v4x_web.stable_lights.avg_vis.tif' or 'F<sat>_<year>_stable_lights.tif'; VIIRS "
    "'VNL_v21_npp_<year>_global_<cfg>_c<stamp>.average_masked.dat.tif' or 'VNL_<year>_average_masked.tif'"
)
EXPECTED = (f"<raw>/nightlights/dmsp/*.tif and <raw>/nightlights/viirs/*.tif: single-band annual GeoTIFFs named "
            f"{EXPECTED_NAMES}")
SENSOR_FOLDERS = ("dmsp", "viirs")
DMSP_SATURATION = 63
COLUMNS = ["city_code", "unit_kind", "province_code", "year", "sensor", "satellite", "sum_light",
           "sum_light_calibrated", "mean_light", "n_pixels", "n_saturated", "source_file", "note"]
NO_VALID_PIXEL = "the polygon covers no valid pixel of the raster (nodata or outside it): light is null, not 0"


def parse_light_name(path: Path) -> tuple[str, int, int]:
    """Return (sensor, year, rank) from a light file name; rank orders duplicates (higher satellite wins)."""
    name = path.name
    m = DMSP_PATTERN.match(name)
    sensor, rank = ("dmsp", int(m["sat"])) if m else (None, 0)
    if m is None and (m := VIIRS_PATTERN.match(name)):
        sensor = "viirs"
    if m is None:
        raise SourceFormatError(path, "cannot infer sensor and year from the file name",
                                expected=EXPECTED_NAMES)
    year = int(m["year"])
    if not 1992 <= year <= 2100:
        raise SourceFormatError(path, f"year {year} in the file name is outside 1992-2100",
                                expected=EXPECTED_NAMES)
    folder = path.parent.name.lower()
    if folder in ("dmsp", "viirs") and folder != sensor:
        raise SourceFormatError(path, f"a {sensor} file name inside the {folder}/ folder",
                                expected=EXPECTED_NAMES)
    return sensor, year, rank


@cache
def load_dmsp_calibration() -> pd.DataFrame:
    """Return the DMSP inter-calibration seed (satellite, year or NA, step, c0, c1, c2)."""
    df = pd.read_csv(CALIBRATION_SEED, dtype={"satellite": str})
    df["year"] = df["year"].astype("Int64")
    return df


def calibrate_dn(dn: np.ndarray, *, satellite: str, year: int) -> np.ndarray:
    """Inter-calibrate DMSP digital numbers of one satellite-year (quadratic steps, clipped to [0, 63])."""
    cal = load_dmsp_calibration()
    rows = cal[cal["satellite"] == satellite]
    out = np.asarray(dn, dtype="float64")
    for step in sorted(rows["step"].unique()):
        at = rows[rows["step"] == step]
        pick = at[at["year"] == year]
        pick = pick if len(pick) else at[at["year"].isna()]
        if len(pick):
            c0, c1, c2 = pick.iloc[0][["c0", "c1", "c2"]].astype(float)
            out = np.clip(c0 + c1 * out + c2 * out**2, 0.0, DMSP_SATURATION)
    return np.clip(out, 0.0, DMSP_SATURATION)


def _extent_text(bounds: tuple[float, float, float, float]) -> str:
    """Format (west, south, east, north) for error messages."""
    return "(west {:.4f}, south {:.4f}, east {:.4f}, north {:.4f})".format(*bounds)


def zonal_light(path: Path, units: pd.DataFrame, *, sensor: str, satellite: str | None, year: int,
                max_cells_in_memory: int = 30_000_000) -> pd.DataFrame:
    """Exact zonal sums of one raster over `units` (city_code, geometry_wkt in lon/lat), read by windows."""
    from exactextract import exact_extract
    from exactextract.feature import JSONFeatureSource
    from exactextract.raster import RasterioRasterSource

    geoms = shapely.from_wkt(units["geometry_wkt"].astype(str).to_numpy())
    poly_bounds = tuple(shapely.total_bounds(geoms))
    try:
        src = rasterio.open(path)
    except RasterioError as exc:
        raise SourceFormatError(path, f"cannot be read as a GeoTIFF: {exc}", expected=EXPECTED) from exc
    with src:
        if src.crs is None:
            raise SourceFormatError(path, "the GeoTIFF has no CRS", expected="a defined CRS (EPSG:4326)")
        if src.count != 1:
            raise SourceFormatError(path, f"{src.count} bands", expected="a single-band annual composite")
        try:
            lonlat = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        except (RasterioError, ValueError) as exc:
            raise SourceFormatError(path, f"extent in CRS {src.crs} cannot be expressed in lon/lat: {exc}",
                                    expected="a raster over China in EPSG:4326") from exc
        overlap = not (lonlat[2] <= poly_bounds[0] or lonlat[0] >= poly_bounds[2]
                       or lonlat[3] <= poly_bounds[1] or lonlat[1] >= poly_bounds[3])
        if not overlap:
            raise SourceFormatError(
                path, f"the raster (CRS {src.crs.to_string()}, extent {_extent_text(src.bounds)} in its CRS = "
                f"{_extent_text(lonlat)} in lon/lat) does not overlap the boundaries (EPSG:4326, extent "
                f"{_extent_text(poly_bounds)}); is the CRS mislabelled?", expected="overlapping raster and polygons")
        crs_text = src.crs.to_string()
        to_raster = src.crs != rasterio.crs.CRS.from_epsg(4326)
        feats = []
        for k, g in enumerate(geoms):
            gj = shapely.geometry.mapping(g)
            if to_raster:
                gj = transform_geom("EPSG:4326", src.crs, gj)
            feats.append({"type": "Feature", "properties": {"k": k}, "geometry": gj})
        ops = ["count", "unique", "frac"] if sensor == "dmsp" else ["count", "sum"]
        stats = exact_extract(RasterioRasterSource(src), JSONFeatureSource(feats, srs_wkt=src.crs.to_wkt()), ops,
                              include_cols=["k"], output="pandas", max_cells_in_memory=max_cells_in_memory)
    stats = stats.sort_values("k").reset_index(drop=True)
    count = stats["count"].to_numpy(float)
    if sensor == "dmsp":
        total, calibrated, saturated = (np.zeros(len(stats)) for _ in range(3))
        # DN are whole numbers 0-63 (checked below): calibrate the 64 levels once, not every polygon's values.
        calibrated_dn = calibrate_dn(np.arange(DMSP_SATURATION + 1, dtype="float64"), satellite=satellite, year=year)
        for k, (values, frac) in enumerate(zip(stats["unique"], stats["frac"], strict=True)):
            values = np.asarray(values, dtype="float64")
            if len(values) and ((values != np.round(values)).any() or values.min() < 0
                                or values.max() > DMSP_SATURATION):
                raise SourceFormatError(path, f"DMSP values {values.min()}..{values.max()} are not whole DN 0-63",
                                        expected="DMSP stable lights as digital numbers 0-63")
            weight = np.asarray(frac, dtype="float64") * count[k]
            total[k] = float(np.dot(weight, values))
            calibrated[k] = float(np.dot(weight, calibrated_dn[values.astype(int)]))
            saturated[k] = float(weight[values >= DMSP_SATURATION].sum())
    else:
        total = stats["sum"].to_numpy(float)
        calibrated, saturated = total.copy(), np.full(len(stats), np.nan)
    if not (count > 0).any():
        raise SourceFormatError(path, f"no valid pixel under any of the {len(units)} polygons (an all-nodata "
                                f"raster?); CRS {crs_text}, extent {_extent_text(lonlat)} in lon/lat, "
                                f"boundaries extent {_extent_text(poly_bounds)}", expected="night-light values")
    empty = count <= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(empty, np.nan, total / np.where(empty, 1, count))
    return pd.DataFrame({
        "city_code": units["city_code"].to_numpy(), "unit_kind": units["unit_kind"].to_numpy(),
        "province_code": units["province_code"].to_numpy(), "year": year, "sensor": sensor,
        "satellite": satellite, "sum_light": np.where(empty, np.nan, total),
        "sum_light_calibrated": np.where(empty, np.nan, calibrated), "mean_light": mean,
        "n_pixels": count, "n_saturated": np.where(empty, np.nan, saturated), "source_file": str(path),
        "note": np.where(empty, NO_VALID_PIXEL, None)})


def read_nightlights(folder: Path, boundaries: pd.DataFrame) -> LoadResult:
    """Zonal light sums of every annual composite under `folder` per boundary polygon (cities and provinces)."""
    folder = require_dir(Path(folder), EXPECTED)
    for sub in SENSOR_FOLDERS:
        require_dir(folder / sub, EXPECTED)
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".tif", ".tiff")
                   and not p.name.startswith("."))
    for sub in SENSOR_FOLDERS:
        if not any(p.is_relative_to(folder / sub) for p in paths):
            raise MissingSourceError(folder / sub / "*.tif", EXPECTED)
    if boundaries.empty:
        raise SourceFormatError(folder, "no boundary polygons to aggregate the rasters to",
                                expected="a non-empty <raw>/boundaries/ source")
    rejects = Rejects(SOURCE)
    chosen: dict[tuple[str, int], tuple[int, Path]] = {}
    for path in paths:
        sensor, year, rank = parse_light_name(path)
        key = (sensor, year)
        if key in chosen:
            keep, drop = sorted([chosen[key], (rank, path)], key=lambda t: (t[0], t[1].name))[::-1]
            rejects.add(drop[1], f"{sensor} {year} also in {keep[1].name}; that file is used "
                        "(newer satellite or later name)", value=drop[1].name)
            chosen[key] = keep
        else:
            chosen[key] = (rank, path)
    frames = []
    for (sensor, year), (rank, path) in sorted(chosen.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        sat = f"F{rank}" if sensor == "dmsp" else None
        frame = zonal_light(path, boundaries, sensor=sensor, satellite=sat, year=year)
        for code in frame.loc[frame["note"].notna(), "city_code"]:
            rejects.add(path, f"{code}: {NO_VALID_PIXEL}", column="city_code", value=code)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)[COLUMNS].astype({
        "city_code": "string", "unit_kind": "string", "province_code": "string", "year": "int64",
        "sensor": "string", "satellite": "string", "sum_light": "float64", "sum_light_calibrated": "float64",
        "mean_light": "float64", "n_pixels": "float64", "n_saturated": "float64", "source_file": "string",
        "note": "string"})
    return LoadResult(table=table, rejected=rejects.frame(), files=paths)
