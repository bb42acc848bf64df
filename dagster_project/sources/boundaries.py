"""City boundary polygons from GeoJSON FeatureCollections (`<raw>/boundaries/*.geojson`).

Accepted property names: the code in `city_code` (or `adcode`/`code`, as Aliyun DataV files have it), the
name in `city_name` (or `city_cn`/`name`). Geometry must be a valid, non-empty Polygon or MultiPolygon in
WGS 84 longitude/latitude (RFC 7946); a legacy `crs` member naming anything else is a format error.

Output columns:
- `area_km2`: area on the sphere of the authalic radius (R = 6371.0072 km, equal area to WGS 84), from
  the spherical-excess line integral of Chamberlain & Duquette (2007) after densifying edges to
  `DENSIFY_DEG`; it differs from the ellipsoidal geodesic area by well under 0.5%.
- `centroid_lon`/`centroid_lat`: the planar centroid in degrees (shapely), fine for joins and maps,
  not a geodesic centroid.
- `feature_index`: 0-based position in the file's `features` array. Rejected rows use the 1-based
  feature number as their `row` and name `features[i]` in the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from dagster_project.sources.common import LoadResult, Rejects, SourceFormatError, require_files

SOURCE = "boundaries"
EXPECTED = "<raw>/boundaries/*.geojson: GeoJSON FeatureCollection(s), one (Multi)Polygon per city, EPSG:4326"
AUTHALIC_RADIUS_KM = 6371.0072
DENSIFY_DEG = 0.1
CODE_KEYS = ("city_code", "adcode", "code")
NAME_KEYS = ("city_name", "city_cn", "name")
_CODE = re.compile(r"^\d{6}$")
_WGS84 = re.compile(r"(CRS84|EPSG::?4326)$", re.IGNORECASE)
COLUMNS = ["city_code", "city_name", "geometry_wkt", "area_km2", "centroid_lon", "centroid_lat",
           "source_file", "feature_index"]


def _ring_area_km2(coords: np.ndarray) -> float:
    """Signed-free area of one closed lon/lat ring on the authalic sphere (Chamberlain & Duquette 2007)."""
    lon, lat = np.radians(coords[:-1, 0]), np.radians(coords[:-1, 1])
    # Sum over vertices of (lon_{i+1} - lon_{i-1}) * sin(lat_i): the spherical-excess line integral.
    total = np.sum((np.roll(lon, -1) - np.roll(lon, 1)) * np.sin(lat))
    return abs(total) * AUTHALIC_RADIUS_KM**2 / 2.0


def spherical_area_km2(geom: shapely.Geometry) -> float:
    """Area in km2 of a lon/lat Polygon or MultiPolygon on the authalic sphere (holes subtracted)."""
    geom = shapely.segmentize(geom, DENSIFY_DEG)
    area = 0.0
    for poly in shapely.get_parts(geom):
        area += _ring_area_km2(np.asarray(poly.exterior.coords))
        area -= sum(_ring_area_km2(np.asarray(r.coords)) for r in poly.interiors)
    return area


def _first(props: dict, keys: tuple[str, ...]) -> object:
    """Return the value of the first key present (and not null) in `props`, else None."""
    for k in keys:
        if props.get(k) is not None:
            return props[k]
    return None


def _load_collection(path: Path) -> list:
    """Parse one GeoJSON file and return its features list; raise SourceFormatError if it is not one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceFormatError(path, f"not valid UTF-8 JSON: {exc}", expected=EXPECTED) from exc
    is_fc = isinstance(doc, dict) and doc.get("type") == "FeatureCollection"
    if not is_fc or not isinstance(doc.get("features"), list):
        raise SourceFormatError(path, "top level is not a GeoJSON FeatureCollection with a features list",
                                expected=EXPECTED)
    crs = ((doc.get("crs") or {}).get("properties") or {}).get("name")
    if crs is not None and not _WGS84.search(str(crs)):
        raise SourceFormatError(path, f"coordinates are in {crs}, not WGS 84 lon/lat", column="crs",
                                expected="EPSG:4326 / OGC:CRS84 (RFC 7946)")
    return doc["features"]


def read_boundaries(folder: Path) -> LoadResult:
    """Read every `*.geojson` in `folder` into one row per city polygon, rejecting unusable features."""
    files = require_files(Path(folder), "*.geojson", EXPECTED)
    rejects = Rejects(SOURCE)
    rows: list[dict] = []
    seen: dict[str, str] = {}
    for path in files:
        for i, feat in enumerate(_load_collection(path)):
            where = f"features[{i}]"
            props = (feat or {}).get("properties") or {}
            code = _first(props, CODE_KEYS)
            code = str(code).strip() if code is not None else ""
            if not _CODE.match(code):
                rejects.add(path, f"{where}: missing or malformed city_code (need 6 digits)", row=i + 1,
                            column="properties.city_code", value=code or None)
                continue
            try:
                geom = shape(feat["geometry"])
            except (KeyError, TypeError, AttributeError, ValueError, shapely.errors.GEOSException) as exc:
                rejects.add(path, f"{where}: unreadable geometry ({exc})", row=i + 1, column="geometry",
                            value=code)
                continue
            if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
                kind = f"{geom.geom_type}{' (empty)' if geom.is_empty else ''}"
                rejects.add(path, f"{where}: geometry is {kind}, need a non-empty Polygon or MultiPolygon",
                            row=i + 1, column="geometry", value=code)
                continue
            if not geom.is_valid:
                rejects.add(path, f"{where}: invalid geometry ({shapely.is_valid_reason(geom)})", row=i + 1,
                            column="geometry", value=code)
                continue
            if code in seen:
                rejects.add(path, f"{where}: duplicate city_code, first seen at {seen[code]}", row=i + 1,
                            column="properties.city_code", value=code)
                continue
            seen[code] = f"{path.name} {where}"
            centroid = geom.centroid
            name = _first(props, NAME_KEYS)
            rows.append({
                "city_code": code,
                "city_name": None if name is None else str(name),
                "geometry_wkt": shapely.to_wkt(geom, rounding_precision=-1, trim=True),
                "area_km2": spherical_area_km2(geom),
                "centroid_lon": centroid.x,
                "centroid_lat": centroid.y,
                "source_file": str(path),
                "feature_index": i,
            })
    table = pd.DataFrame(rows, columns=COLUMNS)
    table = table.astype({"city_code": "string", "city_name": "string", "geometry_wkt": "string",
                          "area_km2": "float64", "centroid_lon": "float64", "centroid_lat": "float64",
                          "source_file": "string", "feature_index": "int64"})
    return LoadResult(table=table, rejected=rejects.frame(), files=files)
