"""Zonal night-light statistics per city x year x sensor from annual GeoTIFF composites.

Files (any depth under `<raw>/nightlights/`, conventionally `dmsp/` and `viirs/`):

- DMSP-OLS stable lights, digital numbers 0-63 (63 = saturated): NOAA NGDC names such as
  `F162005.v4b_web.stable_lights.avg_vis.tif`, or the short form `F16_2005_stable_lights.tif`;
- VIIRS annual composites, radiance in nW/cm2/sr: EOG names such as
  `VNL_v21_npp_2015_global_vcmslcfg_c202205302300.average_masked.dat.tif`, or `VNL_2015_average_masked.tif`.

The sensor and year come from the file name; a name that fits neither pattern, or that sits in a `dmsp/`
or `viirs/` folder of the other sensor, is a format error naming the file and the expected patterns. When
several DMSP satellites cover one year (F15 and F16 overlap in 2004-2007 in the real archive), the newest
satellite is used and the others are listed in `rejected`; likewise the last-named file wins for a
duplicated VIIRS year.

Zonal statistics: the city polygons (`geometry_wkt` of `read_boundaries`, lon/lat) are rasterised once
per distinct grid (CRS, transform, shape) with the pixel-centre rule (label = city position + 1, 0 =
none; where polygons overlap, the later city wins), then `numpy.bincount` sums values per label. Pixels
equal to the file's nodata value or non-finite are skipped. Rasters in another CRS get the polygons
reprojected with GDAL (`rasterio.warp.transform_geom`). A city whose polygon contains no pixel centre
gets n_pixels 0, sum 0 and a null mean.

Output columns: city_code, year, sensor ('dmsp'|'viirs'), sum_light (sum of DN or of radiance),
mean_light (per valid pixel), n_pixels (valid pixels), n_saturated (DN >= 63; null for VIIRS),
source_file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.errors import RasterioError
from rasterio.features import rasterize
from rasterio.warp import transform_geom

from dagster_project.sources.common import (
    LoadResult,
    MissingSourceError,
    Rejects,
    SourceFormatError,
    require_dir,
)

SOURCE = "nightlights"
DMSP_PATTERN = re.compile(r"^F(?P<sat>1\d)_?(?P<year>\d{4})[._](?:.*[._])?stable_lights[._].*tiff?$", re.I)
VIIRS_PATTERN = re.compile(
    r"^VNL_(?:v\d+_)?(?:npp_)?(?P<year>\d{4})(?:\d{2})?[_-](?:.*[._])?average_masked[._].*tiff?$", re.I)
EXPECTED_NAMES = (
    "DMSP 'F<sat><year>.v4x_web.stable_lights.avg_vis.tif' or 'F<sat>_<year>_stable_lights.tif'; VIIRS "
    "'VNL_v21_npp_<year>_global_<cfg>_c<stamp>.average_masked.dat.tif' or 'VNL_<year>_average_masked.tif'"
)
EXPECTED = f"<raw>/nightlights/{{dmsp,viirs}}/*.tif: single-band annual GeoTIFFs named {EXPECTED_NAMES}"
DMSP_SATURATION = 63
COLUMNS = ["city_code", "year", "sensor", "sum_light", "mean_light", "n_pixels", "n_saturated", "source_file"]


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


def _labels_for_grid(geoms: list, crs: rasterio.crs.CRS, transform, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise city polygons (lon/lat) onto one grid: label i + 1 for city i, 0 outside every polygon."""
    shapes = []
    for i, g in enumerate(geoms):
        gj = shapely.geometry.mapping(g)
        if crs != rasterio.crs.CRS.from_epsg(4326):
            gj = transform_geom("EPSG:4326", crs, gj)
        shapes.append((gj, i + 1))
    return rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="int32")


def _read_band(path: Path) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Read band 1 (float64), its validity mask and grid key (crs, transform, shape); raise if unreadable."""
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise SourceFormatError(path, "the GeoTIFF has no CRS", expected="a defined CRS (EPSG:4326)")
            if src.count != 1:
                raise SourceFormatError(path, f"{src.count} bands", expected="a single-band annual composite")
            data = src.read(1, masked=True)
            key = (src.crs, src.transform, (src.height, src.width))
    except RasterioError as exc:
        raise SourceFormatError(path, f"cannot be read as a GeoTIFF: {exc}", expected=EXPECTED) from exc
    valid = ~np.ma.getmaskarray(data) & np.isfinite(data.filled(0).astype("float64"))
    return np.where(valid, data.filled(0), 0).astype("float64"), valid, key


def read_nightlights(folder: Path, boundaries: pd.DataFrame) -> LoadResult:
    """Zonal sum, mean and pixel counts of every annual light composite under `folder` per city polygon."""
    folder = require_dir(Path(folder), EXPECTED)
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".tif", ".tiff")
                   and not p.name.startswith("."))
    if not paths:
        raise MissingSourceError(folder / "{dmsp,viirs}/*.tif", EXPECTED)
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

    codes = boundaries["city_code"].astype(str).to_numpy()
    geoms = list(shapely.from_wkt(boundaries["geometry_wkt"].astype(str).to_numpy()))
    n = len(codes)
    grids: dict[tuple, np.ndarray] = {}
    frames = []
    for (sensor, year), (_, path) in sorted(chosen.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        values, valid, grid = _read_band(path)
        if grid not in grids:
            grids[grid] = _labels_for_grid(geoms, *grid)
        labels = np.where(valid, grids[grid], 0).ravel()
        n_pix = np.bincount(labels, minlength=n + 1)[1:]
        total = np.bincount(labels, weights=values.ravel(), minlength=n + 1)[1:]
        saturated = (np.bincount(labels, weights=(values.ravel() >= DMSP_SATURATION), minlength=n + 1)[1:]
                     if sensor == "dmsp" else np.full(n, np.nan))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n_pix > 0, total / n_pix, np.nan)
        frames.append(pd.DataFrame({"city_code": codes, "year": year, "sensor": sensor, "sum_light": total,
                                    "mean_light": mean, "n_pixels": n_pix, "n_saturated": saturated,
                                    "source_file": str(path)}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    table = table[COLUMNS].astype({"city_code": "string", "year": "int64", "sensor": "string",
                                   "sum_light": "float64", "mean_light": "float64", "n_pixels": "int64",
                                   "n_saturated": "Int64", "source_file": "string"})
    return LoadResult(table=table, rejected=rejects.frame(), files=paths)
