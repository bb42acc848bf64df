"""Great Expectations suites as blocking Dagster checks: a failing suite stops downstream assets."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from scratch_warehouse import ScratchWarehouse

from dagster_project.assets.checks import make_gx_check
from dagster_project.resources import Warehouse
from dagster_project.warehouse import replace_raw_table
from expectations.suites import ifr_robots


def _ifr(installations: list[int]) -> pd.DataFrame:
    n = len(installations)
    return pd.DataFrame({"country": ["CN"] * n, "industry_code": [f"{i}" for i in range(n)],
                         "year": [2015] * n, "installations": installations, "operational_stock": [1] * n})


def test_suite_passes_and_fails() -> None:
    # Imported here, not at collection: Great Expectations costs 3 s of CPU in every xdist worker otherwise.
    from expectations.validate import validate

    assert validate(_ifr([1, 2, 3]), ifr_robots()).success
    bad = validate(_ifr([1, -2, 3]), ifr_robots())
    assert not bad.success
    assert bad.failures[0]["expectation"] == "expect_column_values_to_be_between"
    assert bad.failures[0]["unexpected_count"] == 1


def test_failed_check_blocks_downstream(tmp_path: Path) -> None:
    wh = Warehouse(path=str(tmp_path / "w.duckdb"), raw_dir=str(tmp_path))
    data = {"df": _ifr([1, -5])}

    @dg.asset(key=["raw", "ifr_robots"])
    def ifr_asset(warehouse: Warehouse) -> None:
        with warehouse.connection() as conn:
            replace_raw_table(conn, "ifr_robots", data["df"], asset="ifr_robots")

    ran = []

    @dg.asset(deps=[ifr_asset])
    def downstream() -> None:
        ran.append(True)

    check = make_gx_check("raw", "ifr_robots")
    result = dg.materialize([ifr_asset, check, downstream], resources={"warehouse": wh}, raise_on_error=False)
    evals = result.get_asset_check_evaluations()
    assert len(evals) == 1 and not evals[0].passed
    assert not ran and not result.success

    data["df"] = _ifr([1, 5])
    result = dg.materialize([ifr_asset, check, downstream], resources={"warehouse": wh})
    assert result.success and ran


def test_check_loads_only_the_suites_columns_and_still_reports_a_missing_one() -> None:
    """The GX check reads the columns its suite names; a named column the table lacks fails the suite."""
    import duckdb

    from expectations.suites import SUITES
    from expectations.validate import columns_needed, validate

    suite = SUITES[("raw", "ifr_robots")](duckdb.connect())
    assert set(columns_needed(suite)) == {"country", "industry_code", "year", "installations", "operational_stock"}
    ok = pd.DataFrame({"country": ["CN"], "industry_code": ["C"], "year": [2010], "installations": [1.0],
                       "operational_stock": [2.0]})
    assert validate(ok, suite).success
    missing = validate(ok.drop(columns="operational_stock"), suite)
    assert not missing.success and any(f["kwargs"].get("column") == "operational_stock" for f in missing.failures)


def test_required_columns_test_names_each_column_with_its_nulls(scratch: ScratchWarehouse) -> None:
    """A table's required columns are one dbt test (`not_null_columns`), not one per column: planted nulls in
    two of them (3 rows of city_code, 2 of year) fail it with one row per column and its count, and the
    Dagster check shows those rows (the test's compiled query re-run on the warehouse)."""
    import json

    from dagster_project.assets.dbt import _failing_rows  # reads the manifest the session fixture prepares

    with duckdb.connect(str(scratch.path)) as conn:
        conn.execute("update marts.city_year_panel set city_code = null where rowid in (0, 1, 2)")
        conn.execute("update marts.city_year_panel set year = null where rowid in (10, 11)")
    run = scratch.dbt("test", "--select", "not_null_city_year_panel")
    assert run.returncode == 1 and "not_null_city_year_panel" in run.stdout and "Got 2 results" in run.stdout
    result = json.loads((scratch.target() / "run_results.json").read_text(encoding="utf-8"))["results"][0]
    with duckdb.connect(str(scratch.path), read_only=True) as conn:
        shown = _failing_rows(conn, result["compiled_code"]).value
    assert shown.splitlines()[2:] == ["| city_code | 3 |", "| year | 2 |"], shown
