"""Night-light zonal statistics on real census polygons, boundary formats and code resolution, and one test
per raster/boundary fault of issue 14 (never a silent 0)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

from dagster_project.sources.boundaries import read_boundaries
from dagster_project.sources.common import MissingSourceError, SourceFormatError
from dagster_project.sources.employment import read_base_employment
from dagster_project.sources.nightlights import NO_VALID_PIXEL, calibrate_dn, read_nightlights, zonal_light

RES = 0.05
# Real census polygons of different shapes: a municipality (coded 110100), a coastal multipolygon city,
# an inland prefecture, and a province-governed county-level unit.
CENSUS_CODES = ["110100", "350200", "411300", "419001", "429004"]


@pytest.fixture(scope="module")
def census_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The census city table (WKT in column `coord`) as a boundaries folder, exactly as published."""
    folder = tmp_path_factory.mktemp("census_boundaries")
    shutil.copy(shared_data / "census" / "census_city_2010-2020_v1.csv", folder / "cities.csv")
    return folder


@pytest.fixture(scope="module")
def census_units(census_dir: Path) -> pd.DataFrame:
    """A few census polygons read through the boundaries reader."""
    table = read_boundaries(census_dir).table
    return table[table["code_as_published"].isin(CENSUS_CODES)].reset_index(drop=True)


def _write_raster(path: Path, data: np.ndarray, west: float, north: float, *, crs: str = "EPSG:4326",
                  nodata: float | None = None) -> Path:
    """Write a single-band GeoTIFF at RES degrees with its top-left corner at (west, north)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype, crs=crs, transform=Affine(RES, 0.0, west, 0.0, -RES, north),
                       nodata=nodata) as dst:
        dst.write(data, 1)
    return path


def _grid_over(units: pd.DataFrame) -> tuple[float, float, int, int]:
    """(west, north, width, height) of a RES grid covering the polygons with a margin."""
    minx, miny, maxx, maxy = shapely.total_bounds(shapely.from_wkt(units["geometry_wkt"].to_numpy(str)))
    west, north = np.floor(minx) - 0.5, np.ceil(maxy) + 0.5
    return west, north, int(np.ceil((maxx - west) / RES)) + 10, int(np.ceil((north - miny) / RES)) + 10


def _brute_force(units: pd.DataFrame, values: np.ndarray, west: float, north: float) -> np.ndarray:
    """Sum of value x (area of pixel ∩ polygon / pixel area), pixel by pixel with shapely (independent)."""
    h, w = values.shape
    cols, rows = np.meshgrid(np.arange(w), np.arange(h))
    x0, y1 = west + cols.ravel() * RES, north - rows.ravel() * RES
    boxes = shapely.box(x0, y1 - RES, x0 + RES, y1)
    out = []
    for wkt in units["geometry_wkt"]:
        poly = shapely.from_wkt(wkt)
        hit = shapely.intersects(boxes, poly)
        frac = shapely.area(shapely.intersection(boxes[hit], poly)) / RES**2
        out.append(float(np.dot(frac, values.ravel()[hit])))
    return np.array(out)


def test_zonal_sums_on_census_polygons_match_pixel_by_pixel_intersection(census_units: pd.DataFrame,
                                                                         tmp_path: Path) -> None:
    """exactextract sums over real census polygons = shapely pixel ∩ polygon areas (independent), both sensors.

    VIIRS (float radiance) and DMSP (DN 0-63, inter-calibrated per pixel for F16 2005). Achieved: largest
    relative difference 2.3e-9 (exactextract's float accumulation); tolerance 1e-8.
    """
    assert len(census_units) == len(CENSUS_CODES)
    west, north, w, h = _grid_over(census_units)
    rng = np.random.default_rng(3)
    radiance = rng.gamma(2.0, 3.0, size=(h, w)).astype("float32")
    viirs = _write_raster(tmp_path / "viirs.tif", radiance, west, north)
    got = zonal_light(viirs, census_units, sensor="viirs", satellite=None, year=2015)
    expected = _brute_force(census_units, radiance.astype("float64"), west, north)
    np.testing.assert_allclose(got["sum_light"].to_numpy(), expected, rtol=1e-8)

    dn = rng.integers(0, 64, size=(h, w)).astype("uint8")
    dmsp = _write_raster(tmp_path / "dmsp.tif", dn, west, north)
    got = zonal_light(dmsp, census_units, sensor="dmsp", satellite="F16", year=2005)
    np.testing.assert_allclose(got["sum_light"].to_numpy(), _brute_force(census_units, dn.astype(float), west, north),
                               rtol=1e-8)
    calibrated = calibrate_dn(dn.astype(float), satellite="F16", year=2005)
    np.testing.assert_allclose(got["sum_light_calibrated"].to_numpy(),
                               _brute_force(census_units, calibrated, west, north), rtol=1e-8)
    np.testing.assert_allclose(got["n_saturated"].to_numpy(),
                               _brute_force(census_units, (dn == 63).astype(float), west, north), rtol=1e-8)


def test_dmsp_calibration_follows_the_published_steps() -> None:
    """F16 2005: step 1 (-0.3209, 1.4619, -0.0072) then F16B (-1.2802, 1.3313, -0.0055), clipped to [0, 63]."""
    dn = np.array([0.0, 10.0, 40.0, 63.0])
    s1 = np.clip(-0.3209 + 1.4619 * dn - 0.0072 * dn**2, 0, 63)
    s2 = np.clip(-1.2802 + 1.3313 * s1 - 0.0055 * s1**2, 0, 63)
    np.testing.assert_allclose(calibrate_dn(dn, satellite="F16", year=2005), s2, rtol=0, atol=1e-12)
    # F18 2011 is not in the table: only clipped.
    np.testing.assert_array_equal(calibrate_dn(dn, satellite="F18", year=2011), dn)


def test_census_boundaries_resolve_municipality_codes(census_dir: Path) -> None:
    """Census 110100/120100/310100/500100 become the panel's 1x0000; county-level units keep their own rows;
    Hong Kong and Macao go to rejected with the reason."""
    res = read_boundaries(census_dir)
    t = res.table.set_index("code_as_published")
    for published, panel in {"110100": "110000", "120100": "120000", "310100": "310000", "500100": "500000"}.items():
        assert t.loc[published, "city_code"] == panel and t.loc[published, "unit_kind"] == "city"
    assert t.loc["419001", "unit_kind"] == "county_level_unit" and t.loc["419001", "province_code"] == "410000"
    assert (res.table["unit_kind"] == "county_level_unit").sum() == 30
    assert set(res.rejected["value"]) == {"810000", "820000"}
    assert res.rejected["reason"].str.contains("outside the panel").all()


def test_shapefile_boundaries_read_like_geojson(census_units: pd.DataFrame, tmp_path: Path) -> None:
    """A shapefile (pyshp-written, WGS 84 .prj) gives the same units and geometries; a projected .prj is refused."""
    import shapefile

    folder = tmp_path / "boundaries"
    folder.mkdir()
    with shapefile.Writer(str(folder / "cities"), shapeType=shapefile.POLYGON, encoding="utf-8") as w:
        w.field("city_code", "C", size=6)
        w.field("city_name", "C", size=20)
        for r in census_units.itertuples():
            w.shape(shapely.geometry.mapping(shapely.from_wkt(r.geometry_wkt)))
            w.record(r.code_as_published, r.city_name)
    (folder / "cities.prj").write_text(rasterio.crs.CRS.from_epsg(4326).to_wkt(version="WKT1_ESRI"))
    got = read_boundaries(folder).table.set_index("code_as_published")
    for r in census_units.itertuples():
        assert got.loc[r.code_as_published, "city_code"] == r.city_code
        assert shapely.from_wkt(got.loc[r.code_as_published, "geometry_wkt"]).equals(shapely.from_wkt(r.geometry_wkt))
    (folder / "cities.prj").write_text(rasterio.crs.CRS.from_epsg(3857).to_wkt())
    with pytest.raises(SourceFormatError, match="not WGS 84"):
        read_boundaries(folder)


# ---------------------------------------------------------------- faults (issue 14)
@pytest.fixture()
def lights_dir(census_units: pd.DataFrame, tmp_path: Path) -> tuple[Path, tuple[float, float, int, int]]:
    """A valid nightlights folder (one DMSP, one VIIRS year) over the census polygons."""
    grid = _grid_over(census_units)
    west, north, w, h = grid
    folder = tmp_path / "nightlights"
    _write_raster(folder / "dmsp" / "F162005.v4b_web.stable_lights.avg_vis.tif",
                  np.full((h, w), 10, dtype="uint8"), west, north)
    _write_raster(folder / "viirs" / "VNL_2015_average_masked.tif", np.full((h, w), 2.5, dtype="float32"),
                  west, north)
    return folder, grid


def test_mislabelled_crs_raster_is_an_error_naming_file_crs_and_extents(lights_dir, census_units) -> None:
    """Lon/lat pixels labelled EPSG:3857 land near (0, 0) in lon/lat: an error, not light 0."""
    folder, (west, north, w, h) = lights_dir
    bad = _write_raster(folder / "viirs" / "VNL_2016_average_masked.tif", np.full((h, w), 2.5, dtype="float32"),
                        west, north, crs="EPSG:3857")
    with pytest.raises(SourceFormatError) as err:
        read_nightlights(folder, census_units)
    msg = str(err.value)
    assert bad.name in msg and "EPSG:3857" in msg and "does not overlap" in msg and "west" in msg


def test_raster_outside_the_boundaries_is_an_error(lights_dir, census_units) -> None:
    """A correctly labelled raster over another continent: error with both extents."""
    folder, (_, _, w, h) = lights_dir
    bad = _write_raster(folder / "viirs" / "VNL_2016_average_masked.tif", np.ones((h, w), dtype="float32"), 10.0, 5.0)
    with pytest.raises(SourceFormatError, match="does not overlap") as err:
        read_nightlights(folder, census_units)
    assert bad.name in str(err.value) and "EPSG:4326" in str(err.value)


def test_all_nodata_raster_is_an_error(lights_dir, census_units) -> None:
    """Every pixel nodata: an error naming the file, never light 0 for every city."""
    folder, (west, north, w, h) = lights_dir
    bad = _write_raster(folder / "viirs" / "VNL_2016_average_masked.tif", np.full((h, w), -999, dtype="float32"),
                        west, north, nodata=-999)
    with pytest.raises(SourceFormatError, match="no valid pixel") as err:
        read_nightlights(folder, census_units)
    assert bad.name in str(err.value)


def test_polygon_covering_no_valid_pixel_is_null_with_a_reason(lights_dir, census_units) -> None:
    """Nodata over one city: its light is null (not 0), the note and a rejected row say why."""
    folder, (west, north, w, h) = lights_dir
    data = np.full((h, w), 2.5, dtype="float32")
    target = shapely.from_wkt(census_units.loc[census_units["code_as_published"] == "350200", "geometry_wkt"].iloc[0])
    minx, miny, maxx, maxy = target.bounds
    c0, c1 = int((minx - west) / RES) - 1, int((maxx - west) / RES) + 2
    r0, r1 = int((north - maxy) / RES) - 1, int((north - miny) / RES) + 2
    data[r0:r1, c0:c1] = -1
    _write_raster(folder / "viirs" / "VNL_2015_average_masked.tif", data, west, north, nodata=-1)
    res = read_nightlights(folder, census_units)
    row = res.table[(res.table["city_code"] == "350200") & (res.table["sensor"] == "viirs")].iloc[0]
    assert pd.isna(row["sum_light"]) and row["note"] == NO_VALID_PIXEL
    assert res.rejected["reason"].str.contains("350200").any()
    others = res.table[(res.table["city_code"] != "350200") & (res.table["sensor"] == "viirs")]
    assert (others["sum_light"] > 0).all()


def test_missing_viirs_folder_fails_as_the_readme_says(lights_dir, census_units) -> None:
    """No nightlights/viirs/: MissingSourceError naming the folder, not a silent DMSP-only table."""
    folder, _ = lights_dir
    shutil.rmtree(folder / "viirs")
    with pytest.raises(MissingSourceError, match="viirs"):
        read_nightlights(folder, census_units)


@pytest.mark.parametrize("name, text", [
    ("cities.geojson", json.dumps({"type": "FeatureCollection", "features": []})),
    ("cities.csv", "city,city_code,coord\n"),
])
def test_empty_boundaries_file_is_an_error(tmp_path: Path, name: str, text: str) -> None:
    """A boundaries file without features is an error naming it, not 0 rows and a 'ready' warehouse."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(SourceFormatError, match="no features") as err:
        read_boundaries(tmp_path)
    assert name in str(err.value)


def test_base_employment_rows_are_checked_and_located(tmp_path: Path) -> None:
    """Bad rows of the base-employment source are quarantined with file, row, column and reason."""
    folder = tmp_path / "employment"
    folder.mkdir()
    (folder / "base.csv").write_text(
        "year,city_code,city_name,industry_code,industry_name,classification,employment\n"
        "2004,110100,北京市,37,交通运输设备制造业,GB/T 4754-2002,1000\n"     # census-style code -> 110000
        "2004,110000,北京市,37,交通运输设备制造业,GB/T 4754-2002,1000\n"     # duplicate after resolution
        "2004,999999,?,13,农副食品加工业,GB/T 4754-2002,5\n"
        "2004,000000,全国,13,农副食品加工业,GB/T 4754-2017,5\n"
        "2004,000000,全国,13,农副食品加工业,GB/T 4754-2002,-5\n"
        "2004,419001,济源市,7,石油和天然气开采业,2002,12\n", encoding="utf-8")
    res = read_base_employment(folder)
    assert list(res.table["city_code"]) == ["110000", "419001"]
    assert list(res.table["industry_code"]) == ["37", "07"]
    assert res.table.loc[1, "unit_kind"] == "county_level_unit"
    rej = res.rejected.set_index("row")
    assert set(rej.index) == {3, 4, 5, 6}
    assert "duplicate" in rej.loc[3, "reason"] and rej.loc[4, "column"] == "city_code"
    assert rej.loc[5, "column"] == "classification" and rej.loc[6, "column"] == "employment"
    assert read_base_employment(tmp_path / "absent").table.empty   # optional source
