"""Boundary polygons of cities, province-governed county-level units and provinces (`<raw>/boundaries/`).

Accepted files (all in WGS 84 longitude/latitude):
- GeoJSON FeatureCollections (`*.geojson`, `*.json`; RFC 7946; a legacy `crs` member naming anything else
  is a format error);
- ESRI shapefiles (`*.shp` with its `.dbf`, and `.prj` if present, which must be geographic WGS 84);
- CSV with a WKT geometry column (`*.csv`, UTF-8 or GBK), e.g. the census city table
  `census_city_2010-2020_v1.csv` (columns city, city_code, province, province_code, ..., coord).

A file whose name contains "province" holds province polygons (code in `province_code`/`adcode`/`code`);
every other file holds city-level units, including the extra units of `<raw>/cities/*.csv` (code in
`city_code`/`adcode`/`code`, name in `city_name`/`city_cn`/`city`/`name`). Codes go through
`sources.codes.resolve_unit_code`: the census's municipality district codes (110100) become the panel's
110000, province-governed county-level units (济源 419001, <pp>90xx) are kept as their own rows
(`unit_kind` = 'county_level_unit'), and codes outside the panel (Hong Kong, Macao) or unknown go to
`rejected` with the reason. A file without any feature, or
a folder without boundary files, is an error.

Output columns:
- `city_code`: the resolved unit code (panel city, county-level unit, or province); `code_as_published`;
  `unit_kind`: 'city' | 'county_level_unit' | 'province'; `province_code`;
- `area_km2`: area on the sphere of the authalic radius (R = 6371.0072 km, equal area to WGS 84), from
  the spherical-excess line integral of Chamberlain & Duquette (2007) after densifying edges to
  `DENSIFY_DEG`; it differs from the ellipsoidal geodesic area by well under 0.5%.
- `centroid_lon`/`centroid_lat`: the planar centroid in degrees (shapely), fine for joins and maps.
- `feature_index`: 0-based position in the file. Rejected rows use the 1-based feature number (GeoJSON,
  shapefile) or the CSV line number as their `row`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from dagster_project.sources.codes import ResolvedCode, extension_cities, resolve_unit_code
from dagster_project.sources.common import LoadResult, MissingSourceError, Rejects, SourceFormatError, require_dir

SOURCE = "boundaries"
EXPECTED = ("<raw>/boundaries/: cities.geojson / *.shp / *.csv (WKT column), one (Multi)Polygon per unit, "
            "EPSG:4326; optional provinces.* with province polygons")
SUFFIXES = (".geojson", ".json", ".shp", ".csv")
AUTHALIC_RADIUS_KM = 6371.0072
DENSIFY_DEG = 0.1
CODE_KEYS = ("city_code", "adcode", "code")
PROVINCE_CODE_KEYS = ("province_code", "adcode", "code")
NAME_KEYS = ("city_name", "city_cn", "city", "name")
PROVINCE_NAME_KEYS = ("province_name", "province_cn", "province", "name")
WKT_KEYS = ("geometry_wkt", "wkt", "geometry", "geom", "the_geom", "coord")
_CODE = re.compile(r"^\d{6}$")
_WGS84 = re.compile(r"(CRS84|EPSG::?4326)$", re.IGNORECASE)
COLUMNS = ["city_code", "code_as_published", "unit_kind", "province_code", "city_name", "geometry_wkt",
           "area_km2", "centroid_lon", "centroid_lat", "source_file", "feature_index"]


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


def _geojson_features(path: Path) -> Iterator[tuple[int, dict, object]]:
    """Yield (row, properties, geometry mapping) of a GeoJSON FeatureCollection; raise if it is not one."""
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
    for i, feat in enumerate(doc["features"]):
        feat = feat if isinstance(feat, dict) else {}
        yield i + 1, feat.get("properties") or {}, feat.get("geometry")


def _shapefile_features(path: Path) -> Iterator[tuple[int, dict, object]]:
    """Yield (row, attributes, geometry mapping) of an ESRI shapefile; its .prj must be WGS 84 lon/lat."""
    import shapefile  # pyshp; only boundary folders with shapefiles need it
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    prj = path.with_suffix(".prj")
    if prj.is_file():
        try:
            crs = CRS.from_wkt(prj.read_text(encoding="utf-8", errors="replace"))
        except CRSError as exc:
            raise SourceFormatError(prj, f"unreadable projection: {exc}", expected="geographic WGS 84") from exc
        if not (crs.is_geographic and crs.to_epsg() in (4326, None) and "WGS" in crs.to_wkt().upper()):
            raise SourceFormatError(prj, f"coordinates are in {crs.to_string()}, not WGS 84 lon/lat",
                                    expected="EPSG:4326 (geographic WGS 84)")
    try:
        reader = shapefile.Reader(str(path), encoding="utf-8", encodingErrors="replace")
    except (shapefile.ShapefileException, OSError) as exc:
        raise SourceFormatError(path, f"cannot be read as a shapefile: {exc}", expected=EXPECTED) from exc
    with reader:
        fields = [f[0] for f in reader.fields[1:]]
        for i, sr in enumerate(reader.iterShapeRecords()):
            geom = sr.shape.__geo_interface__ if sr.shape.shapeType != shapefile.NULL else None
            yield i + 1, dict(zip(fields, list(sr.record), strict=True)), geom


def _csv_features(path: Path) -> Iterator[tuple[int, dict, object]]:
    """Yield (line, columns, WKT string) of a CSV with a WKT geometry column (UTF-8 or GBK)."""
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise SourceFormatError(path, "neither UTF-8 nor GBK text", expected=EXPECTED)
    csv.field_size_limit(1 << 30)  # census polygons run to megabytes per cell
    rows = csv.DictReader(io.StringIO(text))
    keys = {k.strip().lower(): k for k in (rows.fieldnames or [])}
    wkt_col = next((keys[k] for k in WKT_KEYS if k in keys), None)
    if wkt_col is None:
        raise SourceFormatError(path, f"no WKT geometry column among {list(keys)}", row=1,
                                expected=f"one of the columns {', '.join(WKT_KEYS)} holding WKT")
    for i, row in enumerate(rows):
        props = {k.strip().lower(): v for k, v in row.items() if k is not None and k != wkt_col}
        yield i + 2, props, row.get(wkt_col)


def _geometry(value: object) -> shapely.Geometry:
    """Turn a GeoJSON mapping or a WKT string into a shapely geometry (raises on unreadable input)."""
    if isinstance(value, str):
        return shapely.from_wkt(value.strip())
    return shape(value)


def _features(path: Path) -> Iterator[tuple[int, dict, object]]:
    """Dispatch on the file suffix."""
    suffix = path.suffix.lower()
    if suffix == ".shp":
        return _shapefile_features(path)
    if suffix == ".csv":
        return _csv_features(path)
    return _geojson_features(path)


def read_boundaries(folder: Path) -> LoadResult:
    """Read every boundary file in `folder` into one row per unit polygon, rejecting unusable features."""
    folder = require_dir(Path(folder), EXPECTED)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES
                   and not p.name.startswith(("~$", ".")))
    if not files:
        raise MissingSourceError(folder / "cities.geojson", EXPECTED)
    rejects = Rejects(SOURCE)
    rows: list[dict] = []
    seen: dict[str, str] = {}
    extra = extension_cities(folder.parent)
    for path in files:
        level = "province" if "province" in path.stem.lower() else "city"
        code_keys, name_keys = ((PROVINCE_CODE_KEYS, PROVINCE_NAME_KEYS) if level == "province"
                                else (CODE_KEYS, NAME_KEYS))
        n_features = 0
        is_json = path.suffix.lower() in (".geojson", ".json")
        col_prefix = "properties." if is_json else ""
        for i, (row, props, geometry) in enumerate(_features(path)):
            n_features += 1
            where = f"features[{i}]" if is_json else (f"line {row}" if path.suffix.lower() == ".csv"
                                                      else f"record {row}")
            props = {str(k).lower(): v for k, v in props.items()}
            code = _first(props, code_keys)
            code = str(code).strip() if code is not None else ""
            code = code[:-2] if code.endswith(".0") else code  # numeric codes via spreadsheets
            if not _CODE.match(code):
                rejects.add(path, f"{where}: missing or malformed {code_keys[0]} (need 6 digits)",
                            row=row, column=col_prefix + code_keys[0], value=code or None)
                continue
            resolved = resolve_unit_code(code, level=level, extra_cities=extra)
            if not isinstance(resolved, ResolvedCode):
                rejects.add(path, f"{where}: {resolved}", row=row, column=col_prefix + code_keys[0], value=code)
                continue
            try:
                geom = _geometry(geometry)
            except (KeyError, TypeError, AttributeError, ValueError, shapely.errors.GEOSException) as exc:
                rejects.add(path, f"{where}: unreadable geometry ({exc})", row=row, column="geometry",
                            value=code)
                continue
            if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
                kind = "missing" if geom is None else f"{geom.geom_type}{' (empty)' if geom.is_empty else ''}"
                rejects.add(path, f"{where}: geometry is {kind}, need a non-empty Polygon or MultiPolygon",
                            row=row, column="geometry", value=code)
                continue
            if not geom.is_valid:
                rejects.add(path, f"{where}: invalid geometry ({shapely.is_valid_reason(geom)})", row=row,
                            column="geometry", value=code)
                continue
            minx, miny, maxx, maxy = geom.bounds
            if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
                rejects.add(path, f"{where}: coordinates {geom.bounds} are not lon/lat degrees",
                            row=row, column="geometry", value=code)
                continue
            key = f"{resolved.kind}:{resolved.code}"
            if key in seen:
                rejects.add(path, f"{where}: duplicate {resolved.kind} {resolved.code} (published as "
                            f"{code}), first seen at {seen[key]}", row=row, column=col_prefix + code_keys[0],
                            value=code)
                continue
            seen[key] = f"{path.name} {where}"
            centroid = geom.centroid
            name = _first(props, name_keys)
            rows.append({
                "city_code": resolved.code,
                "code_as_published": code,
                "unit_kind": resolved.kind,
                "province_code": resolved.province_code,
                "city_name": None if name is None else str(name),
                "geometry_wkt": shapely.to_wkt(geom, rounding_precision=-1, trim=True),
                "area_km2": spherical_area_km2(geom),
                "centroid_lon": centroid.x,
                "centroid_lat": centroid.y,
                "source_file": str(path),
                "feature_index": i,
            })
        if n_features == 0:
            raise SourceFormatError(path, "the boundary file has no features", expected=EXPECTED)
    table = pd.DataFrame(rows, columns=COLUMNS)
    table = table.astype({"city_code": "string", "code_as_published": "string", "unit_kind": "string",
                          "province_code": "string", "city_name": "string", "geometry_wkt": "string",
                          "area_km2": "float64", "centroid_lon": "float64", "centroid_lat": "float64",
                          "source_file": "string", "feature_index": "int64"})
    if not (table["unit_kind"] != "province").any():
        raise SourceFormatError(folder, "no usable city polygon in any boundary file "
                                f"({len(rejects.rows)} rejected)", expected=EXPECTED)
    return LoadResult(table=table, rejected=rejects.frame(), files=files)
