"""The vectorised yearbook and CEADs provincial readers, cell by cell against openpyxl's reading of the files.

openpyxl parses the sheet XML itself (no calamine, no numpy), so a row of a reader's table that names the
wrong cell, drops a cell or mislabels a row or column fails here.
"""

from __future__ import annotations

import random
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from dagster_project.sources.ceads import read_provincial_inventories
from dagster_project.sources.yearbook import read_yearbook

REPO = Path(__file__).resolve().parents[1]
PROVINCIAL = REPO.parent / "shared" / "data" / "ceads" / "provincial"


def _cells(path: Path, sheets: set[str] | None = None) -> dict[tuple[str, int, str], object]:
    """Every non-empty cell of a workbook (or of some of its sheets) as {(sheet, row, column letter): value},
    read by openpyxl."""
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return {(ws.title, c.row, c.column_letter): c.value for ws in wb.worksheets
                if sheets is None or ws.title in sheets for r in ws.iter_rows()
                for c in r if c.value is not None and not (isinstance(c.value, str) and not c.value.strip())}
    finally:
        wb.close()


def test_real_provincial_inventories_match_openpyxl_cell_by_cell() -> None:
    """Every row of the real 2012 and 2019 inventories is its openpyxl cell (exact), and every numeric
    cell under a fuel label in a sector row is a row: 63,360 of 63,360 cells, tolerance 0."""
    table = read_provincial_inventories(PROVINCIAL).table
    cells: dict[tuple[str, int, str], object] = {}
    for path in sorted(PROVINCIAL.glob("*.xlsx")):
        cells |= {(path.name, *k): v for k, v in _cells(path).items()}
    got = {(r.source_file, r.sheet, r.row, r.column): r for r in table.itertuples(index=False)}
    assert len(got) == len(table)
    for (file, sheet, row, column), r in got.items():
        assert r.co2_mt == float(cells[file, sheet, row, column]), (file, sheet, row, column)
        assert r.sector_raw == cells[file, sheet, row, "A"]
        assert r.fuel_raw == cells[file, sheet, 1, column]
    # The other direction: numbers in the province sheets' data rows (below the two header rows, right
    # of the labels; the real files have no blank-labelled or negative cells, so all of them are rows).
    numeric = {k for k, v in cells.items()
               if k[1] != "NOTE" and k[2] > 2 and k[3] != "A" and isinstance(v, int | float)}
    assert numeric == set(got)


def test_yearbook_edition_cells_match_openpyxl(sample_dir: Path) -> None:
    """400 random rows of the sample's per-edition tables: value_raw is the openpyxl cell (text as is,
    numbers as repr) and value is that number times unit_factor to 1e-12 relative (achieved: exact
    or 12-digit rounding)."""
    table = read_yearbook(sample_dir / "yearbook").table
    editions = table[table["edition"].notna()]
    picks = editions.iloc[random.Random(0).sample(range(len(editions)), 400)]
    sheets = picks.groupby("source_file")["sheet"].agg(set).to_dict()
    by_file: dict[str, dict] = {}
    for r in picks.itertuples(index=False):
        if r.source_file not in by_file:     # each workbook read once (setdefault would read it per row)
            by_file[r.source_file] = _cells(sample_dir / "yearbook" / r.source_file, sheets[r.source_file])
        cells = by_file[r.source_file]
        cell = cells[r.sheet, r.row, r.column]
        assert r.value_raw == (cell if isinstance(cell, str) else repr(cell)), (r.source_file, r.sheet, r.row)
        if not isinstance(cell, str):
            assert r.value == pytest.approx(cell * r.unit_factor, rel=1e-12, abs=0)
    assert not pd.isna(picks["city_name"]).any()
