"""The per-cell (vectorised) Theil, Gini and Dagum against the one-set functions, cell by cell.

`theil`, `gini` and `dagum` are checked against closed forms and brute force in test_inequality_indices.py;
here every cell of `theil_cells`, `gini_cells`, `dagum_cells` and `inequality_by` must equal them. Data: uneven
cells (2 to 150 units; one row in `inequality_by`) and groups, a cell of one group, single-member groups, tied
values, zero weights. Differences come only from the order of floating-point sums; achieved < 1e-14 relative
to the cell's total (Theil, Gini), asserted 1e-12.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis.inequality as ineq
from analysis.inequality import dagum, dagum_cells, gini, gini_cells, inequality_by, theil, theil_cells

TOL = 1e-12


@pytest.fixture()
def units() -> pd.DataFrame:
    """Lognormal values with ties, weights with zeros, uneven cells and groups (one single-group cell)."""
    rng = np.random.default_rng(12)
    sizes = [150, 80, 40, 17, 9, 5, 3, 2]
    cell = np.repeat(np.arange(len(sizes)) * 10 + 2001, sizes)         # labels 2001, 2011, ...: not 0..k-1
    n = len(cell)
    x = rng.lognormal(0, 1, n)
    x[::7] = np.round(x[::7], 1) + 0.1                                  # ties
    x[5:15] = x[20]                                                     # a block of ties across groups
    w = rng.uniform(0.2, 4, n)
    group = rng.choice(["east", "north", "south", "west", "z-solo"], n, p=[0.4, 0.3, 0.2, 0.09, 0.01])
    group[cell == 2041] = "east"                                        # one group only
    group[np.flatnonzero(cell == 2001)[:2]] = ["z-solo", "zz-one"]      # single-member groups
    # zero weights where each group keeps a positive total (a group of zero weight has no mean)
    zero = (rng.random(n) < 0.1) & (cell <= 2021) & np.isin(group, ["east", "north", "south"])
    w[zero] = 0.0
    frame = pd.DataFrame({"cell": cell, "x": x, "w": w, "group": group})
    return frame.sample(frac=1, random_state=3).reset_index(drop=True)  # cells interleaved in the input


def close(a: float, b: float, scale: float) -> bool:
    """|a − b| within TOL of the cell's scale."""
    return abs(a - b) <= TOL * scale


@pytest.mark.parametrize("measure", ["L", "T"])
@pytest.mark.parametrize("weighted", [True, False])
def test_theil_cells_equals_theil(units: pd.DataFrame, measure: str, weighted: bool) -> None:
    """Total, between and within of every cell = `theil` on that cell's rows (1e-12 of the total)."""
    w = units["w"] if weighted else None
    out = theil_cells(units["x"], cells=units["cell"], weights=w, groups=units["group"], measure=measure)
    assert list(out.index) == sorted(units["cell"].unique())
    for label, rows in units.groupby("cell"):
        ref = theil(rows["x"], rows["w"] if weighted else None, rows["group"], measure=measure)
        got = out.loc[label]
        assert got["n"] == len(rows)
        for col, want in (("total", ref.total), ("between", ref.between), ("within", ref.within)):
            assert close(got[col], want, ref.total), (label, col, got[col], want)
    plain = theil_cells(units["x"], cells=units["cell"], measure=measure)
    assert (plain["between"] == 0).all() and (plain["within"] == plain["total"]).all()


def test_gini_cells_equals_gini(units: pd.DataFrame) -> None:
    """Weighted and unweighted Gini of every cell = `gini` (1e-12 of the Gini); ties keep the stable order."""
    for w in ("w", None):
        out = gini_cells(units["x"], cells=units["cell"], weights=units[w] if w else None)
        for label, rows in units.groupby("cell"):
            want = gini(rows["x"], rows[w] if w else None)
            assert close(out[label], want, want), (label, out[label], want)


def test_cells_from_several_key_columns(units: pd.DataFrame) -> None:
    """A frame of key columns makes one cell per combination, labelled by a MultiIndex in sorted order."""
    keys = units[["cell", "group"]]
    out = gini_cells(units["x"], cells=keys)
    assert list(out.index) == sorted(set(map(tuple, keys.to_numpy().tolist())))
    for (label, group), rows in units.groupby(["cell", "group"]):
        want = gini(rows["x"])
        assert close(out[(label, group)], want, max(want, 1.0))       # single-member cells: exactly 0


@pytest.mark.parametrize("batch", [ineq.PAIR_BATCH, 500])
def test_dagum_cells_equals_dagum(units: pd.DataFrame, batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Gini, within, net between and transvariation of every cell = `dagum` (1e-12 of the Gini).

    With a batch of 500 pairs the 150-unit cell is split over batches of 3 units, and batches span cells.
    """
    monkeypatch.setattr(ineq, "PAIR_BATCH", batch)
    for w in ("w", None):
        out = dagum_cells(units["x"], cells=units["cell"], groups=units["group"], weights=units[w] if w else None)
        for label, rows in units.groupby("cell"):
            ref = dagum(rows["x"], rows["group"], rows[w] if w else None)
            for col in ("gini", "within", "net_between", "transvariation"):
                assert close(out.loc[label, col], getattr(ref, col), ref.gini), (label, col)
            assert out.loc[label, "n"] == len(rows)
    one = out.loc[2041]
    assert one["net_between"] == 0 and one["transvariation"] == 0 and close(one["within"], one["gini"], one["gini"])


def test_inequality_by_equals_cell_loop() -> None:
    """Per-cell Theil (split by group) and Gini, drops counted: equal to `theil`/`gini` on each cell's valid rows."""
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame({"city": rng.choice(["a", "b", "c", "d"], n), "year": rng.integers(2010, 2016, n),
                       "v": rng.lognormal(0, 1, n), "pop": rng.uniform(1, 5, n),
                       "region": rng.choice(["e", "w"], n)}).astype({"year": "int32"})
    df.loc[rng.random(n) < 0.05, "v"] = np.nan
    df.loc[rng.random(n) < 0.05, "v"] = 0.0
    df.loc[rng.random(n) < 0.05, "pop"] = -1.0
    df.loc[rng.random(n) < 0.02, "city"] = None                         # in no cell
    lone = (df["city"] == "a") & (df["year"] == 2010)
    df = pd.concat([df[~lone], df[lone].head(1)], ignore_index=True)   # a cell with one row: NaN measures
    out = inequality_by(df, value="v", by=["city", "year"], weight="pop", group="region")
    assert list(out.columns) == ["city", "year", "n", "n_dropped", "theil", "theil_between", "theil_within", "gini"]
    assert out["year"].dtype == "int64"                                 # as a frame of records infers
    cells = list(df.dropna(subset=["city"]).groupby(["city", "year"]))
    assert len(out) == len(cells)
    for row, ((city, year), cell) in zip(out.itertuples(index=False), cells, strict=True):
        ok = cell["v"].notna() & (cell["v"] > 0) & (cell["pop"] > 0)
        assert (row.city, row.year, row.n, row.n_dropped) == (city, year, ok.sum(), (~ok).sum())
        use = cell[ok]
        if len(use) < 2:
            assert np.isnan([row.theil, row.theil_between, row.theil_within, row.gini]).all()
            continue
        t = theil(use["v"], use["pop"], use["region"])
        assert close(row.theil, t.total, t.total) and close(row.theil_between, t.between, t.total)
        assert close(row.theil_within, t.within, t.total)
        g = gini(use["v"], use["pop"])
        assert close(row.gini, g, g)
    assert (out["city"] == "a").any() and out.loc[(out["city"] == "a") & (out["year"] == 2010), "theil"].isna().all()


def test_cells_bad_input_named() -> None:
    """Missing cell or group labels, negative values and a cell without a positive total are refused by name."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="cells must have one non-missing label"):
        gini_cells(x, cells=[1, 1, None, 2])
    with pytest.raises(ValueError, match="groups must have one non-missing label"):
        theil_cells(x, cells=[1, 1, 2, 2], groups=["a", None, "a", "b"])
    with pytest.raises(ValueError, match="non-negative"):
        dagum_cells(-x, cells=[1, 1, 2, 2], groups=["a", "b", "a", "b"])
    with pytest.raises(ValueError, match="not in cell 2"):
        gini_cells(x, cells=[1, 1, 2, 2], weights=[1.0, 1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="zero value"):
        theil_cells([0.0, 1.0, 2.0], cells=[1, 1, 1])
