"""Sample night-light rasters: DMSP-OLS-like stable lights (<= 2013) and VIIRS-like radiance (>= 2012).

What is planted (module constants, so tests can compare):

- The grid is EPSG:4326 at `RESOLUTION_DEG` covering the synthetic boundary envelope. Each pixel belongs to
  the city whose synthetic polygon (`sample.boundaries`, the very same coordinates written to the GeoJSON)
  contains its centre, exactly what `rasterio.features.rasterize` gives a reader.
- City c's light in year t is spread over its own cell with a Gaussian kernel around its seat, of width
  `KERNEL_SIGMA_KM * (light_index / KERNEL_REF_LIGHT) ** KERNEL_EXPONENT` (bright cities sprawl), truncated
  at `KERNEL_CUTOFF_SIGMAS` widths and renormalised, so the city's zonal sum is its target total.
- Target total = light_index x sensor gain x exp(N(0, `LIGHT_NOISE_SD`)) noise, drawn per city, year and
  sensor from a generator seeded by (truth.seed, `NOISE_STREAM`). Gains: `DMSP_DN_PER_UNIT` times the
  satellite's `DMSP_SATELLITE_GAIN` (uncalibrated sensors differ, as the real F15/F16/F18 do), and
  `VIIRS_RADIANCE_PER_UNIT` for VIIRS. Within a year, zonal sums are therefore proportional to light_index
  up to the noise (and < 1 DN of rounding for DMSP).
- DMSP: digital numbers saturate at 63. Light above 63 is spread over the same city's unsaturated pixels
  in proportion to the kernel (a stylised blooming/overglow), so dense cities show saturated cores while
  their totals stay proportional; light is lost only if a whole cell saturates. `DMSP_DN_PER_UNIT` keeps that
  rare on the real-city universe (the densest cell averages 26-33 DN in the full 2003-2021 universe for the
  seeds tried, and 59 in the worst draw seen, a 2003-2013-only universe), but not on the 10x universe, whose
  small synthetic cells carry a prefecture's light each (474 of 3,000 cells saturated in every pixel in 2013):
  saturation is real DMSP behaviour the harmonisation must handle, so it is not rendered away. Then uint8
  with the largest-remainder rule per city, so rounding moves a city's total by < 1 DN and dim cities do
  not vanish.
- VIIRS: float32 nW/cm2/sr, rounded to 0.01, background 0.
- File names follow the publishers: `dmsp/F{sat}{year}.v4{b,c}_web.stable_lights.avg_vis.tif` (NOAA NGDC
  version 4 composites; one satellite per year, the newest) and
  `viirs/VNL_v21_npp_{year}_global_{vcmcfg,vcmslcfg}_c202205302300.average_masked.dat.tif` (EOG VNL v2.1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from affine import Affine
from rasterio.features import rasterize

from dagster_project.sample.boundaries import city_feature_collection, polygons_from_collection
from dagster_project.sample.dgp import Truth, haversine_km

RESOLUTION_DEG = 0.05
KERNEL_SIGMA_KM = 12.0
KERNEL_REF_LIGHT = 5000.0
KERNEL_EXPONENT = 0.3
KERNEL_CUTOFF_SIGMAS = 3.0
LIGHT_NOISE_SD = 0.01
NOISE_STREAM = 0x4E4C  # "NL": keeps this generator independent of the simulate() stream
DMSP_DN_PER_UNIT = 0.10
DMSP_SATELLITE_GAIN = {14: 1.05, 15: 1.0, 16: 0.93, 18: 1.12}
DMSP_SATURATION = 63
DMSP_FIRST_YEAR, DMSP_LAST_YEAR = 1992, 2013
VIIRS_RADIANCE_PER_UNIT = 0.05
VIIRS_FIRST_YEAR = 2012
_GTIFF = {"driver": "GTiff", "compress": "deflate", "zlevel": 9, "tiled": False}


def dmsp_satellite(year: int) -> int:
    """Return the DMSP satellite whose composite the sample ships for `year` (the newest flying one)."""
    if year >= 2010:
        return 18
    if year >= 2004:
        return 16
    if year >= 2000:
        return 15
    return 14


def dmsp_file_name(year: int) -> str:
    """NOAA NGDC v4 stable-lights file name for `year`."""
    sat = dmsp_satellite(year)
    return f"F{sat}{year}.v4{'c' if sat == 18 else 'b'}_web.stable_lights.avg_vis.tif"


def viirs_file_name(year: int) -> str:
    """EOG VNL v2.1 annual masked-average file name for `year` (2012-2013 lack stray-light correction)."""
    cfg = "vcmcfg" if year <= 2013 else "vcmslcfg"
    return f"VNL_v21_npp_{year}_global_{cfg}_c202205302300.average_masked.dat.tif"


def light_grid(fc: dict) -> tuple[Affine, int, int]:
    """Return (transform, width, height) of the grid covering every polygon, snapped to the resolution."""
    bounds = np.array([[*shape_bounds(f["geometry"])] for f in fc["features"]])
    r = RESOLUTION_DEG
    west, south = np.floor(bounds[:, 0].min() / r) * r, np.floor(bounds[:, 1].min() / r) * r
    east, north = np.ceil(bounds[:, 2].max() / r) * r, np.ceil(bounds[:, 3].max() / r) * r
    width, height = round((east - west) / r), round((north - south) / r)
    return Affine(r, 0.0, round(west, 6), 0.0, -r, round(north, 6)), width, height


def shape_bounds(geometry: dict) -> tuple[float, float, float, float]:
    """Bounds (minx, miny, maxx, maxy) of a GeoJSON Polygon/MultiPolygon geometry dict."""
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    xy = np.array([pt for poly in polys for ring in poly for pt in ring])
    return xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()


def _largest_remainder(values: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Round non-negative `values` to integers so each label's integer sum equals its rounded real sum."""
    floor = np.floor(values)
    rem = values - floor
    target = np.round(np.bincount(labels, weights=values, minlength=n_labels))
    deficit = (target - np.bincount(labels, weights=floor, minlength=n_labels)).astype(np.int64)
    # Rank pixels within their label by descending remainder; the `deficit` largest get +1.
    order = np.lexsort((-rem, labels))
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, np.arange(n_labels))
    rank = np.arange(len(order)) - starts[sorted_labels]
    bump = np.zeros(len(values))
    bump[order] = rank < deficit[sorted_labels]
    return floor + bump


def _bloom(values: np.ndarray, share: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Clip values at the DMSP saturation and spread each city's excess over its unsaturated pixels."""
    v = values.copy()
    for _ in range(500):
        excess = np.bincount(labels, weights=np.maximum(v - DMSP_SATURATION, 0.0), minlength=n_labels)
        if excess.max() <= 1e-9:
            break
        v = np.minimum(v, DMSP_SATURATION)
        # Spread like the kernel; the tiny constant falls back to "evenly" once the kernel's support is full.
        room = np.where(v < DMSP_SATURATION, share + 1e-9, 0.0)
        room_sum = np.bincount(labels, weights=room, minlength=n_labels)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = v + np.where(room_sum[labels] > 0, excess[labels] * room / room_sum[labels], 0.0)
    return np.minimum(v, DMSP_SATURATION)


def _write_tif(path: Path, data: np.ndarray, transform: Affine, description: str) -> Path:
    """Write one single-band deflate GeoTIFF in EPSG:4326 (GDAL stamps no time, so bytes are reproducible)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"predictor": 3} if data.dtype == np.float32 else {"predictor": 2}
    with rasterio.open(path, "w", width=data.shape[1], height=data.shape[0], count=1, dtype=data.dtype,
                       crs="EPSG:4326", transform=transform, **_GTIFF, **extra) as dst:
        dst.write(data, 1)
        dst.update_tags(DESCRIPTION=description, SYNTHETIC="carbon-panel sample data; not real night lights")
    return path


def write_nightlights(truth: Truth, out_dir: Path) -> list[Path]:
    """Write DMSP-like and VIIRS-like annual GeoTIFFs under `out_dir/nightlights/` and return their paths."""
    fc = city_feature_collection(truth)
    codes_geoms = polygons_from_collection(fc)
    codes = [c for c, _ in codes_geoms]
    transform, width, height = light_grid(fc)
    n = len(codes)
    # Label 0 = outside every cell; city i gets label i + 1 (same convention as the reader).
    labels = rasterize(((g, i + 1) for i, (_, g) in enumerate(codes_geoms)), out_shape=(height, width),
                       transform=transform, fill=0, dtype="int32")
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    if (counts[1:] == 0).any():
        empty = [codes[i] for i in np.flatnonzero(counts[1:] == 0)]
        raise ValueError(f"cities without a pixel centre in their cell at {RESOLUTION_DEG} deg: {empty}")

    inside = labels.ravel() > 0
    lab = labels.ravel()[inside]
    rows, cols = np.divmod(np.flatnonzero(inside), width)
    lon = transform.c + (cols + 0.5) * transform.a
    lat = transform.f + (rows + 0.5) * transform.e
    seats = truth.cities.set_index("city_code").loc[codes, ["seat_lon", "seat_lat"]].to_numpy(float)
    dist_km = haversine_km(lon, lat, seats[lab - 1, 0], seats[lab - 1, 1])

    light = (truth.city_year.pivot(index="city_code", columns="year", values="light_index")
             .reindex(index=codes, columns=truth.years))
    rng = np.random.default_rng([truth.seed, NOISE_STREAM])
    out = Path(out_dir) / "nightlights"
    written: list[Path] = []
    for year in truth.years:
        # Draw both sensors' noise every year so a year's draws do not depend on which sensors exist.
        noise = np.exp(rng.normal(0.0, LIGHT_NOISE_SD, size=(2, n)))
        level = light[year].to_numpy(float)
        sigma = KERNEL_SIGMA_KM * (level / KERNEL_REF_LIGHT) ** KERNEL_EXPONENT
        s = sigma[lab - 1]
        w = np.where(dist_km <= KERNEL_CUTOFF_SIGMAS * s, np.exp(-0.5 * (dist_km / s) ** 2), 0.0)
        # A cell whose pixels all lie beyond the cutoff (seat near its edge) keeps its nearest pixel lit.
        wsum = np.bincount(lab, weights=w, minlength=n + 1)
        unlit = np.flatnonzero(wsum[1:] == 0) + 1
        if len(unlit):
            nearest = pd.Series(dist_km).groupby(lab).idxmin()
            w[nearest.loc[unlit].to_numpy()] = 1.0
            wsum = np.bincount(lab, weights=w, minlength=n + 1)
        share = w / wsum[lab]
        if DMSP_FIRST_YEAR <= year <= DMSP_LAST_YEAR:
            sat = dmsp_satellite(year)
            total = level * DMSP_DN_PER_UNIT * DMSP_SATELLITE_GAIN[sat] * noise[0]
            dn = _largest_remainder(_bloom(total[lab - 1] * share, share, lab, n + 1), lab, n + 1)
            img = np.zeros(height * width, dtype=np.uint8)
            img[inside] = np.minimum(dn, DMSP_SATURATION).astype(np.uint8)
            desc = f"DMSP-OLS-like stable lights, F{sat} {year}, digital number 0-63"
            written.append(_write_tif(out / "dmsp" / dmsp_file_name(year), img.reshape(height, width),
                                      transform, desc))
        if year >= VIIRS_FIRST_YEAR:
            total = level * VIIRS_RADIANCE_PER_UNIT * noise[1]
            img = np.zeros(height * width, dtype=np.float32)
            img[inside] = np.round(total[lab - 1] * share, 2)
            desc = f"VIIRS-like annual average masked radiance {year}, nW/cm2/sr"
            written.append(_write_tif(out / "viirs" / viirs_file_name(year), img.reshape(height, width),
                                      transform, desc))
    return written
