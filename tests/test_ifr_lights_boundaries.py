"""Round trips, determinism and bad inputs for the IFR, night-light and boundary writers and readers."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from openpyxl import load_workbook

from dagster_project.sample.boundaries import write_boundaries
from dagster_project.sample.dgp import Truth, simulate
from dagster_project.sample.ifr import write_ifr
from dagster_project.sample.nightlights import DMSP_SATURATION, write_nightlights
from dagster_project.sources.boundaries import read_boundaries
from dagster_project.sources.common import SourceFormatError
from dagster_project.sources.ifr import read_ifr
from dagster_project.sources.nightlights import read_nightlights

YEARS = range(2010, 2016)  # both sensors: DMSP 2010-2013, VIIRS 2012-2015


def _write_all(truth: Truth, out: Path) -> list[Path]:
    """Run the three writers into `out` and return every path written."""
    return write_boundaries(truth, out) + write_ifr(truth, out) + write_nightlights(truth, out)


@pytest.fixture(scope="module")
def truth() -> Truth:
    """A small universe: 30 cities, 6 years."""
    return simulate(n_cities=30, years=YEARS, seed=7)


@pytest.fixture(scope="module")
def raw(truth: Truth, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The written sample files (treat as read-only; tests that break files copy them first)."""
    out = tmp_path_factory.mktemp("raw")
    _write_all(truth, out)
    return out


@pytest.fixture(scope="module")
def boundaries(raw: Path) -> pd.DataFrame:
    """The city rows of the boundary table read back from the sample GeoJSON (provinces.geojson aside)."""
    table = read_boundaries(raw / "boundaries").table
    return table[table["unit_kind"] == "city"].reset_index(drop=True)


def _copy(src: Path, dst: Path) -> Path:
    """Copy a source folder to `dst` and return it."""
    shutil.copytree(src, dst)
    return dst


# ---------------------------------------------------------------- round trips
def test_boundaries_round_trip(truth: Truth, raw: Path, boundaries: pd.DataFrame) -> None:
    """One valid polygon per city, tiling without overlap, each with its seat inside."""
    res = read_boundaries(raw / "boundaries")
    assert res.rejected.empty
    assert sorted(boundaries["city_code"]) == sorted(truth.cities["city_code"])
    geoms = shapely.from_wkt(boundaries["geometry_wkt"].to_numpy(str))
    assert shapely.is_valid(geoms).all()
    assert shapely.union_all(geoms).area == pytest.approx(shapely.area(geoms).sum(), rel=1e-9)
    seats = truth.cities.set_index("city_code").loc[boundaries["city_code"]]
    assert shapely.contains_xy(geoms, seats["seat_lon"].to_numpy(), seats["seat_lat"].to_numpy()).all()
    assert (boundaries["area_km2"] > 0).all()
    provinces = res.table[res.table["unit_kind"] == "province"]
    assert set(provinces["city_code"]) == set(truth.cities["province_code"])
    assert provinces["area_km2"].sum() == pytest.approx(boundaries["area_km2"].sum(), rel=1e-9)
    doc = json.loads((raw / "boundaries" / "cities.geojson").read_text(encoding="utf-8"))
    assert doc["metadata"]["synthetic"] is True
    assert all(f["properties"]["synthetic_boundary"] is True for f in doc["features"])


def test_spherical_area_matches_a_known_cell() -> None:
    """A 1x1 degree cell at the equator has R^2 * (pi/180) * sin(1 deg) km2 on the authalic sphere."""
    from dagster_project.sources.boundaries import AUTHALIC_RADIUS_KM, spherical_area_km2

    expected = AUTHALIC_RADIUS_KM**2 * np.radians(1.0) * np.sin(np.radians(1.0))
    assert spherical_area_km2(shapely.box(0, 0, 1, 1)) == pytest.approx(expected, rel=1e-6)


def test_ifr_round_trip_is_exact(truth: Truth, raw: Path) -> None:
    """Every truth value comes back exactly; the written subtotals D and All add up; no rejects."""
    res = read_ifr(raw / "ifr")
    assert res.rejected.empty, res.rejected.to_string()
    got = res.table
    merged = truth.ifr.merge(got, on=["country", "industry_code", "year"], how="left", suffixes=("", "_read"))
    assert merged["installations_read"].notna().all()
    assert (merged["installations"] == merged["installations_read"]).all()
    assert (merged["operational_stock"] == merged["operational_stock_read"]).all()
    extra = set(got["industry_code"]) - set(truth.ifr["industry_code"])
    assert extra == {"D", "All"}
    assert set(got["country"]) == {"CN", "US"}
    assert set(got.loc[got["country"] == "CN", "sheet"]) == {"IFR_data"}
    assert got.loc[got["country"] == "US", "sheet"].isna().all()


def test_light_sums_are_proportional_to_light_index(
    truth: Truth, raw: Path, boundaries: pd.DataFrame
) -> None:
    """Within each sensor-year, zonal sums track light_index (corr > 0.99); DMSP stays within 0-63."""
    res = read_nightlights(raw / "nightlights", boundaries)
    tab = res.table
    assert res.rejected.empty
    assert set(tab.loc[tab["sensor"] == "dmsp", "year"]) == {2010, 2011, 2012, 2013}
    assert set(tab.loc[tab["sensor"] == "viirs", "year"]) == {2012, 2013, 2014, 2015}
    assert (tab["n_pixels"] > 0).all()
    assert tab.loc[tab["sensor"] == "viirs", "n_saturated"].isna().all()
    merged = tab.merge(truth.city_year[["city_code", "year", "light_index"]], on=["city_code", "year"])
    assert len(merged) == len(tab) == len(truth.cities) * 8
    for (_, _), g in merged.groupby(["sensor", "year"]):
        assert np.corrcoef(g["sum_light"], g["light_index"])[0, 1] > 0.99
    with rasterio.open(next((raw / "nightlights" / "dmsp").glob("*.tif"))) as src:
        assert src.read(1).max() <= DMSP_SATURATION and src.crs.to_epsg() == 4326


def test_nightlights_handle_a_second_grid(
    truth: Truth, raw: Path, boundaries: pd.DataFrame, tmp_path: Path
) -> None:
    """A file on a coarser grid is rasterised separately and still gives proportional sums."""
    folder = _copy(raw / "nightlights", tmp_path / "nightlights")
    path = next((folder / "viirs").glob("*2015*.tif"))
    with rasterio.open(path) as src:
        data, profile = src.read(1), src.profile
    h, w = data.shape[0] // 2 * 2, data.shape[1] // 2 * 2
    coarse = data[:h, :w].reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3)).astype("float32")
    profile.update(width=w // 2, height=h // 2, transform=profile["transform"] @ rasterio.Affine.scale(2))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(coarse, 1)
    tab = read_nightlights(folder, boundaries).table
    g = tab[(tab["sensor"] == "viirs") & (tab["year"] == 2015)].merge(
        truth.city_year[["city_code", "year", "light_index"]], on=["city_code", "year"])
    assert np.corrcoef(g["sum_light"], g["light_index"])[0, 1] > 0.99
    fine = tab[(tab["sensor"] == "viirs") & (tab["year"] == 2014)]
    assert g["n_pixels"].sum() < fine["n_pixels"].sum() / 3  # really read on the coarse grid


def test_duplicate_dmsp_year_keeps_newest_satellite(
    raw: Path, boundaries: pd.DataFrame, tmp_path: Path
) -> None:
    """Two satellites for one year: the newer one is used, the older file is listed as rejected."""
    folder = _copy(raw / "nightlights", tmp_path / "nightlights")
    newer, older = "F182010.v4c_web.stable_lights.avg_vis.tif", "F162010.v4b_web.stable_lights.avg_vis.tif"
    shutil.copy(folder / "dmsp" / newer, folder / "dmsp" / older)
    res = read_nightlights(folder, boundaries)
    assert len(res.rejected) == 1 and res.rejected["file"].iloc[0].endswith(older)
    used = res.table.loc[(res.table["sensor"] == "dmsp") & (res.table["year"] == 2010), "source_file"]
    assert used.str.endswith(newer).all()


# ---------------------------------------------------------------- determinism
def test_writers_are_byte_deterministic(tmp_path: Path) -> None:
    """Same seed, same bytes, for every file of the three sources."""
    digests = []
    for run in ("a", "b"):
        truth = simulate(n_cities=30, years=range(2012, 2014), seed=11)
        out = tmp_path / run
        paths = _write_all(truth, out)
        digests.append({str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths})
    assert digests[0] == digests[1]
    assert len(digests[0]) == 2 + 2 + 4  # cities + provinces geojson, xlsx + csv, 2 DMSP + 2 VIIRS years


# ---------------------------------------------------------------- bad inputs
def test_unknown_ifr_code_is_rejected_with_its_location(raw: Path, tmp_path: Path) -> None:
    """An unknown code in the CSV export becomes a rejected row naming file, line and column."""
    folder = _copy(raw / "ifr", tmp_path / "ifr")
    csv_path = folder / "ifr_US.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(";A-B;", ";XYZ;", 1)
    lines[3] = lines[3].replace(";C;", ";24-28;", 1)
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = read_ifr(folder)
    rej = res.rejected.set_index("row")
    assert rej.loc[3, "reason"] == "unknown IFR industry code" and rej.loc[3, "value"] == "XYZ"
    assert rej.loc[3, "file"].endswith("ifr_US.csv") and rej.loc[3, "column"] == "industry_code"
    assert "older IFR classification" in rej.loc[4, "reason"]
    assert "XYZ" not in set(res.table["industry_code"])


def test_text_in_numeric_ifr_cell_is_rejected(raw: Path, tmp_path: Path) -> None:
    """Text in an installations cell of the workbook is rejected naming file, sheet, row and column."""
    folder = _copy(raw / "ifr", tmp_path / "ifr")
    xlsx = folder / "IFR_data_CN.xlsx"
    wb = load_workbook(xlsx)
    wb["IFR_data"]["F5"] = "n/a"  # row 5 = the fourth data row
    wb.save(xlsx)
    res = read_ifr(folder)
    rej = res.rejected[res.rejected["reason"].str.startswith("not a number")]
    assert len(rej) == 1
    r = rej.iloc[0]
    assert r["file"].endswith("IFR_data_CN.xlsx") and r["sheet"] == "IFR_data"
    assert r["row"] == 5 and r["column"] == "installations" and r["value"] == "n/a"
    assert 5 not in set(res.table.loc[res.table["country"] == "CN", "row"])


def test_ifr_subtotal_mismatch_is_reported(raw: Path, tmp_path: Path) -> None:
    """A D (manufacturing) subtotal that is not the sum of its sub-codes is reported; the row is kept."""
    folder = _copy(raw / "ifr", tmp_path / "ifr")
    csv_path = folder / "ifr_US.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    i = next(k for k, line in enumerate(lines) if line.split(";")[1] == "D")
    cells = lines[i].split(";")
    cells[4] = str(int(cells[4]) + 100)
    lines[i] = ";".join(cells)
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = read_ifr(folder)
    mism = res.rejected[res.rejected["reason"].str.startswith("subtotal mismatch")]
    # D itself and All (whose children include D) no longer add up.
    assert set(mism["row"]) == {i + 1, i - 2} and set(mism["column"]) == {"installations"}
    assert (res.table["row"] == i + 1).any()


def test_geojson_feature_without_city_code_is_rejected(raw: Path, tmp_path: Path) -> None:
    """A feature without city_code (and one with a self-intersecting ring) becomes a rejected row."""
    folder = tmp_path / "boundaries"
    folder.mkdir()
    doc = json.loads((raw / "boundaries" / "cities.geojson").read_text(encoding="utf-8"))
    del doc["features"][3]["properties"]["city_code"]
    bowtie = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]
    doc["features"][5]["geometry"] = {"type": "Polygon", "coordinates": bowtie}
    (folder / "cities.geojson").write_text(json.dumps(doc), encoding="utf-8")
    res = read_boundaries(folder)
    rej = res.rejected.set_index("row")
    assert set(rej.index) == {4, 6}
    assert "features[3]" in rej.loc[4, "reason"] and rej.loc[4, "column"] == "properties.city_code"
    assert "invalid geometry" in rej.loc[6, "reason"] and rej.loc[6, "file"].endswith("cities.geojson")
    assert len(res.table) == len(doc["features"]) - 2


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_tiff_names_the_file(
    raw: Path, boundaries: pd.DataFrame, tmp_path: Path, damage: str
) -> None:
    """An unreadable GeoTIFF raises SourceFormatError naming the file."""
    folder = _copy(raw / "nightlights", tmp_path / "nightlights")
    path = next((folder / "viirs").glob("*2013*.tif"))
    data = path.read_bytes()
    path.write_bytes(b"this is not a tiff" if damage == "garbage" else data[: len(data) // 3])
    with pytest.raises(SourceFormatError, match=path.name.replace(".", r"\.")):
        read_nightlights(folder, boundaries)


def test_badly_named_tiff_names_file_and_pattern(raw: Path, boundaries: pd.DataFrame, tmp_path: Path) -> None:
    """A light file whose name gives no year raises SourceFormatError naming it and the expected pattern."""
    folder = _copy(raw / "nightlights", tmp_path / "nightlights")
    src = next((folder / "dmsp").glob("*.tif"))
    src.rename(folder / "dmsp" / "stable_lights_latest.tif")
    with pytest.raises(SourceFormatError, match=r"stable_lights_latest\.tif.*expected DMSP 'F<sat><year>"):
        read_nightlights(folder, boundaries)


def test_dmsp_bloom_keeps_city_totals() -> None:
    """Light clipped at DN 63 moves to the same city's unsaturated pixels, so each city's total is kept."""
    from dagster_project.sample.nightlights import _bloom

    labels = np.array([1, 1, 1, 1, 2, 2])
    share = np.array([0.7, 0.2, 0.05, 0.05, 0.9, 0.1])
    values = share * np.array([0.0, 150.0, 40.0])[labels]  # city 1: 105 DN in one pixel
    out = _bloom(values, share, labels, 3)
    assert out.max() <= DMSP_SATURATION
    np.testing.assert_allclose(np.bincount(labels, weights=out), np.bincount(labels, weights=values))
