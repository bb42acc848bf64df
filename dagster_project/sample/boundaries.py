"""Synthetic city boundaries for the sample: Voronoi cells around the real city seats (NOT real boundaries).

The project needs polygons to aggregate night-light rasters to cities, and real prefecture boundaries
cannot be shipped in the repository. So the sample draws one Voronoi cell per city seat, clipped to a
plausible mainland envelope (the convex hull of all seats buffered by `ENVELOPE_BUFFER_DEG`). The cells
tile the envelope without gaps or overlaps, which is all the light downscaling needs; their shapes and
areas have nothing to do with the real administrative units. Every feature says so in its properties,
and the FeatureCollection carries a `metadata` member (a foreign member that RFC 7946 allows).

The night-light writer imports `city_feature_collection` so that rasters and boundaries come from the
very same coordinates (the floats written to the file), and a reader's rasterisation reproduces the
writer's city labels exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

from dagster_project.sample.dgp import Truth
from dagster_project.sample.files import write_text

# Coordinates are written with 5 decimals (about 1 m): enough for a 0.05-degree light grid, and fixed
# so that reruns give identical bytes.
COORD_DECIMALS = 5
ENVELOPE_BUFFER_DEG = 1.0
BOUNDARY_FILE = "boundaries/cities.geojson"
PROVINCE_FILE = "boundaries/provinces.geojson"
NOTE = (
    "SYNTHETIC boundary: the Voronoi cell of the city seat, clipped to the buffered convex hull of all "
    "seats. Not a real administrative boundary; shape and area are meaningless outside the sample."
)


def _round_coords(geom: Polygon | MultiPolygon) -> list:
    """Return GeoJSON coordinates with Python-rounded floats (exact repr round trip through JSON)."""
    def ring(coords: object) -> list[list[float]]:
        """One ring as [[lon, lat], ...] rounded to COORD_DECIMALS."""
        return [[round(float(x), COORD_DECIMALS), round(float(y), COORD_DECIMALS)] for x, y in coords]

    def poly(p: Polygon) -> list:
        """One polygon as a list of rings."""
        # RFC 7946: exterior rings counter-clockwise, holes clockwise.
        p = orient(p, 1.0)
        return [ring(p.exterior.coords)] + [ring(r.coords) for r in p.interiors]

    if isinstance(geom, Polygon):
        return poly(geom)
    return [poly(p) for p in geom.geoms]


def voronoi_cells(lon: np.ndarray, lat: np.ndarray) -> list[Polygon | MultiPolygon]:
    """Return one Voronoi cell per seat (input order), clipped to the buffered hull of the seats (degrees)."""
    pts = shapely.points(lon, lat)
    envelope = shapely.buffer(shapely.convex_hull(shapely.multipoints(pts)), ENVELOPE_BUFFER_DEG, quad_segs=8)
    # Voronoi in degrees would stretch cells east-west; squash longitude by cos(mean latitude) first so
    # that a cell is roughly "the area nearer this seat than any other" in kilometres, then undo it.
    k = float(np.cos(np.radians(np.mean(lat))))
    squash = np.array([k, 1.0])

    def scale(geom: shapely.Geometry, f: np.ndarray) -> shapely.Geometry:
        """Multiply (lon, lat) coordinates by the factors f."""
        return shapely.transform(geom, lambda c: c * f)

    cells = shapely.voronoi_polygons(
        scale(shapely.multipoints(pts), squash), extend_to=scale(envelope, squash), ordered=True
    )
    out = [shapely.intersection(scale(cell, 1.0 / squash), envelope) for cell in shapely.get_parts(cells)]
    if len(out) != len(lon):
        raise ValueError(f"Voronoi gave {len(out)} cells for {len(lon)} seats (duplicate seat coordinates?)")
    return out


def city_feature_collection(truth: Truth) -> dict:
    """Build the GeoJSON FeatureCollection (dict) of synthetic city polygons, sorted by city_code."""
    cities = truth.cities.sort_values("city_code").reset_index(drop=True)
    cells = voronoi_cells(cities["seat_lon"].to_numpy(float), cities["seat_lat"].to_numpy(float))
    features = []
    for row, cell in zip(cities.itertuples(index=False), cells, strict=True):
        coords = _round_coords(cell)
        kind = "Polygon" if isinstance(cell, Polygon) else "MultiPolygon"
        geom = shapely.geometry.shape({"type": kind, "coordinates": coords})
        if geom.is_empty or not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            raise ValueError(f"synthetic cell of {row.city_code} is invalid after rounding: {reason}")
        features.append({
            "type": "Feature",
            "properties": {
                "city_code": row.city_code,
                "city_cn": row.city_cn,
                "city_en": row.city_en,
                "province_code": row.province_code,
                "synthetic_boundary": True,
                "note": NOTE,
            },
            "geometry": {"type": kind, "coordinates": coords},
        })
    return {
        "type": "FeatureCollection",
        "name": "carbon_panel_synthetic_city_boundaries",
        "metadata": {
            "synthetic": True,
            "warning": "NOT REAL BOUNDARIES. Generated for the carbon-panel sample data only.",
            "method": (
                "Voronoi cells around the city seats (dbt/seeds/reference/cities.csv, AMap coordinates), "
                "computed with longitude scaled by cos(mean latitude), clipped to the convex hull of all "
                f"seats buffered by {ENVELOPE_BUFFER_DEG} degree"
            ),
            "crs": "EPSG:4326 (WGS 84 longitude/latitude, RFC 7946)",
            "coordinate_decimals": COORD_DECIMALS,
            "generator": "dagster_project.sample.boundaries.write_boundaries",
            "n_features": len(features),
        },
        "features": features,
    }


def polygons_from_collection(fc: dict) -> list[tuple[str, Polygon | MultiPolygon]]:
    """Return (city_code, shapely geometry) pairs from a FeatureCollection dict, in feature order."""
    return [(f["properties"]["city_code"], shapely.geometry.shape(f["geometry"])) for f in fc["features"]]


def province_feature_collection(fc: dict) -> dict:
    """Province polygons as the union of their cities' synthetic cells (so units tile their province)."""
    by_province: dict[str, list] = {}
    for f in fc["features"]:
        by_province.setdefault(f["properties"]["province_code"], []).append(shapely.geometry.shape(f["geometry"]))
    features = []
    for code in sorted(by_province):
        union = shapely.union_all(by_province[code])
        features.append({
            "type": "Feature",
            "properties": {"province_code": code, "synthetic_boundary": True,
                           "note": "SYNTHETIC: union of the province's synthetic city cells"},
            "geometry": shapely.geometry.mapping(union),
        })
    return {"type": "FeatureCollection", "name": "carbon_panel_synthetic_province_boundaries",
            "metadata": {"synthetic": True, "method": "union of the city Voronoi cells of cities.geojson",
                         "crs": "EPSG:4326 (WGS 84 longitude/latitude, RFC 7946)"},
            "features": features}


def _dump(fc: dict) -> str:
    """Serialise a FeatureCollection with one feature per line (diff-able, reproducible bytes)."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in fc["features"]]
    head = {k: v for k, v in fc.items() if k != "features"}
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ',"features":[\n'
    return text + ",\n".join(lines) + "\n]}\n"


def write_boundaries(truth: Truth, out_dir: Path) -> list[Path]:
    """Write synthetic city polygons (cities.geojson) and their province unions (provinces.geojson)."""
    fc = city_feature_collection(truth)
    return [write_text(Path(out_dir) / BOUNDARY_FILE, _dump(fc)),
            write_text(Path(out_dir) / PROVINCE_FILE, _dump(province_feature_collection(fc)))]
