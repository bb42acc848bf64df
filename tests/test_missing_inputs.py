"""Any subset of sources and yearbook variables: missing sources fail clearly, missing variables are nulls.

Sources: each ingestion reader runs on the session sample with its folder removed (no build needed).

Variables: a full build per dropped variable would take minutes each, so the yearbook chain is re-run
directly in DuckDB instead. `dbt compile` renders the models from int_yearbook__filled down to the
panel and the coverage report once, against a copy of the session warehouse; each case then deletes
one variable (or every per-edition cell, leaving only the vendor panel) from the resolved cells
(int_yearbook__cells_resolved) inside a transaction, re-creates the compiled tables, checks the panel
and rolls back. The compiled SQL is exactly what `dbt build` runs, so a column the SQL names but the
data lacks fails here as a Binder Error, as it did in the build. A few seconds per case on 120 cities
x 19 years, instead of a two-minute build.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from scratch_warehouse import ScratchWarehouse

from dagster_project.assets.ingest import SPECS
from dagster_project.sources.common import MissingSourceError
from dagster_project.sources.yearbook import load_dictionary

# The models downstream of int_yearbook__cells_resolved that shape the panel's yearbook columns, in
# build order (the precedence rule is re-run: a vendor cell only reaches the panel where no edition has it).
CHAIN = [("intermediate", "int_yearbook__conflicts"), ("intermediate", "int_yearbook__values"),
         ("intermediate", "int_yearbook__filled"), ("intermediate", "int_yearbook__filled_wide"),
         ("marts", "city_year_panel"), ("marts", "yearbook_coverage")]
VARIABLES = sorted(load_dictionary().variables)


# ---------------------------------------------------------------------------------------- sources
REQUIRED = [s for s in SPECS if s.absent is None]
OPTIONAL = [s for s in SPECS if s.absent is not None]


@pytest.mark.parametrize("spec", REQUIRED, ids=[s.table for s in REQUIRED])
def test_missing_source_folder_fails_with_the_documented_message(spec, sample_dir: Path, tmp_path: Path) -> None:
    """Every other source present, this one's folder absent: MissingSourceError naming path and layout
    (README "Using real data": a missing folder fails that source's asset with the path and the layout)."""
    raw = tmp_path / "raw"
    for item in sample_dir.rglob("*"):
        rel = item.relative_to(sample_dir)
        if item.is_file() and not rel.as_posix().startswith(spec.subdir + "/"):
            (raw / rel).parent.mkdir(parents=True, exist_ok=True)
            (raw / rel).symlink_to(item)
    folder = raw / spec.subdir
    assert not folder.exists()
    with pytest.raises(MissingSourceError) as err:
        spec.read(folder)
    assert str(err.value).startswith(f"missing source input: {folder}")
    assert "\nexpected layout: " in str(err.value) and err.value.expected


@pytest.mark.parametrize("spec", OPTIONAL, ids=[s.table for s in OPTIONAL])
def test_missing_optional_source_folder_gives_an_empty_table(spec, tmp_path: Path) -> None:
    """An optional source's folder absent: its reader returns no rows and no files (the asset logs `absent`)."""
    folder = tmp_path / spec.subdir
    result = spec.read(folder)
    assert result.table.empty and not result.files and result.rejected.empty


# ---------------------------------------------------------------------------------------- variables
@pytest.fixture(scope="module")
def chain(built_warehouse: Path, worker_scratch: ScratchWarehouse,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A private copy of the session warehouse, the compiled SQL of CHAIN and the full build's panel."""
    # Compiled at the worker's reused path (dbt parses only what changed), then moved out of the other
    # tests' way: the cases keep a connection to it. The SQL names the database by its basename, `panel`.
    worker_scratch.fresh(copy_of=built_warehouse)
    run = worker_scratch.dbt("compile", "--select", *[m for _, m in CHAIN])
    assert run.returncode == 0, run.stdout[-3000:]
    compiled = {}
    for schema, model in CHAIN:
        path = next((worker_scratch.target() / "compiled").rglob(f"{model}.sql"))
        compiled[(schema, model)] = path.read_text(encoding="utf-8")
    wh = worker_scratch.move_to(tmp_path_factory.mktemp("chain"))
    conn = duckdb.connect(str(wh))
    full = conn.execute("select * from marts.city_year_panel order by city_code, year").df()
    try:
        yield {"conn": conn, "compiled": compiled, "full": full}
    finally:
        conn.close()


def _rebuild_without(chain: dict, where: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Delete `where` from the resolved cells, rebuild CHAIN, return (panel, coverage); then roll back."""
    conn = chain["conn"]
    conn.execute("begin")
    try:
        n = conn.execute(f"delete from intermediate.int_yearbook__cells_resolved where {where}").fetchone()[0]
        assert n > 0, f"nothing to delete for {where}: the case would be vacuous"
        for (schema, model), sql in chain["compiled"].items():
            conn.execute(f"create or replace table {schema}.{model} as ({sql})")
        panel = conn.execute("select * from marts.city_year_panel order by city_code, year").df()
        coverage = conn.execute("select * from marts.yearbook_coverage").df()
    finally:
        conn.execute("rollback")
    return panel, coverage


@pytest.mark.parametrize("variable", VARIABLES)
def test_panel_builds_without_each_yearbook_variable(chain: dict, variable: str) -> None:
    """With one variable absent from every file: the same panel columns and rows, that variable's columns
    null, its flags false, a coverage row per year with n_observed = 0, and every other yearbook
    column unchanged (exact equality)."""
    panel, coverage = _rebuild_without(chain, f"variable = '{variable}'")
    full = chain["full"]
    assert list(panel.columns) == list(full.columns)
    assert len(panel) == len(full)
    scopes = load_dictionary().variables[variable].scopes
    own = [variable] + [f"{variable}_{s}" for s in scopes[1:]]
    for col in own:
        assert col in panel.columns
        assert panel[col].isna().all(), col
        if f"{col}_imputed" in panel.columns:
            assert not panel[f"{col}_imputed"].any()
    cov = coverage[coverage.variable == variable]
    assert set(cov.column_name) == set(own)
    assert (cov.n_observed == 0).all() and (cov.n_imputed == 0).all() and (cov.n_missing == cov.n_expected).all()
    assert cov.year.nunique() == full.year.nunique()
    others = [c for c in load_dictionary().variables if c != variable and c in full.columns]
    pd.testing.assert_frame_equal(panel[others], full[others])


def test_panel_builds_from_vendor_panels_only(chain: dict) -> None:
    """Only the vendor panel's cells (every per-edition workbook removed): the panel keeps every
    dictionary column; variables the vendor file lacks are null with a zero-observed coverage row."""
    panel, coverage = _rebuild_without(chain, "edition is not null")
    assert list(panel.columns) == list(chain["full"].columns)
    observed = coverage.groupby("variable")["n_observed"].sum()
    assert set(observed.index) == set(VARIABLES)
    assert (observed > 0).any(), "the vendor panel publishes something"
    for v in observed[observed == 0].index:
        assert panel[v].isna().all(), v
