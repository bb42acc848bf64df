"""A choropleth of a city-level value from the boundary polygons (matplotlib + shapely, no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def choropleth(
    boundaries: pd.DataFrame,
    values: pd.Series,
    *,
    out: Path,
    title: str,
    legend: str,
    n_classes: int = 5,
) -> tuple[Path, int, int]:
    """Draw `values` (indexed by city_code) on `boundaries` (city_code, geometry_wkt) in quantile classes.

    Returns the PNG path, the number of cities drawn with a value and the number drawn as "no data".
    """
    import shapely
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PatchCollection
    from matplotlib.colors import BoundaryNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon as MplPolygon

    vals = values.dropna()
    edges = np.unique(np.quantile(vals, np.linspace(0, 1, n_classes + 1))) if len(vals) else np.array([0.0, 1.0])
    if len(edges) < 2:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    fig = Figure(figsize=(8, 6.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    patches, colours, empty = [], [], []
    n_value = n_missing = 0
    for code, wkt in zip(boundaries["city_code"], boundaries["geometry_wkt"], strict=True):
        geom = shapely.from_wkt(wkt)
        polys = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
        v = vals.get(code, np.nan)
        for poly in polys:
            patch = MplPolygon(np.asarray(poly.exterior.coords), closed=True)
            (patches if not pd.isna(v) else empty).append(patch)
            if not pd.isna(v):
                colours.append(v)
        n_value, n_missing = (n_value + 1, n_missing) if not pd.isna(v) else (n_value, n_missing + 1)
    cmap = "YlOrRd"
    norm = BoundaryNorm(edges, ncolors=256)
    coll = PatchCollection(patches, cmap=cmap, norm=norm, edgecolor="white", linewidth=0.3)
    coll.set_array(np.asarray(colours, float))
    ax.add_collection(coll)
    if empty:
        ax.add_collection(PatchCollection(empty, facecolor="#dddddd", edgecolor="white", linewidth=0.3, hatch="//"))
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title)
    cbar = fig.colorbar(coll, ax=ax, shrink=0.6, spacing="uniform")
    cbar.set_label(legend)
    fig.text(0.02, 0.02, f"{n_value} cities with a value; {n_missing} without (grey). Classes: quantiles.",
             fontsize=8, color="#444")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return out, n_value, n_missing
