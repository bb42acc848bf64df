"""What a report's numbers rest on: the source files read (name, sha256, publisher) and data-quality results."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.warehouse import table_exists

# Who publishes each raw table's files (README, "Sources and licences"); keyed by raw table / ingest asset.
PUBLISHERS = {
    "yearbook_indicators": "National Bureau of Statistics of China: China City Statistical Yearbook (or a vendor panel "
                           "of it)",
    "yearbook_dictionary": "carbon-panel: yearbook data dictionary (dagster_project/sources/yearbook_dictionary.yaml)",
    "ceads_city_emissions": "CEADs (ceads.net): emission inventories for 290 Chinese cities (Shan et al.)",
    "ceads_provincial_emissions": "CEADs (ceads.net): provincial emission inventories (Shan et al.)",
    "ceads_county_emissions": "CEADs: county-level CO2 (Chen et al. 2020, Sci. Data 7:391)",
    "ifr_robots": "International Federation of Robotics: World Robotics",
    "nightlights": "NOAA / Earth Observation Group: DMSP-OLS and VIIRS annual composites",
    "city_boundaries": "city polygons supplied in <raw>/boundaries/",
    "city_extensions": "user-supplied units in <raw>/cities/",
}
QUALITY_TABLES = ("ceads_reconciliation", "yearbook_coverage")


def source_files(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every file the build read, with size, sha256 and publisher (from raw.source_files)."""
    if not table_exists(conn, "raw", "source_files"):
        return pd.DataFrame(columns=["table", "file", "bytes", "sha256", "publisher", "loaded_at"])
    df = conn.execute("select asset as \"table\", file, bytes, sha256, loaded_at from raw.source_files "
                      "order by asset, file").df()
    df["file"] = df["file"].map(lambda f: Path(f).name)
    df["publisher"] = df["table"].map(PUBLISHERS).fillna("(publisher not recorded)")
    return df[["table", "file", "bytes", "sha256", "publisher", "loaded_at"]]


def rejected_summary(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Quarantined rows by raw table and reason (raw.rejected_rows)."""
    if not table_exists(conn, "raw", "rejected_rows"):
        return pd.DataFrame(columns=["table", "reason", "rows"])
    return conn.execute("select asset as \"table\", reason, count(*) as \"rows\" from raw.rejected_rows "
                        "group by all order by 1, 3 desc").df()


def stored_test_failures(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """dbt tests that store their failing rows (schema dbt_test__audit): test name and failing row count."""
    tables = conn.execute("select table_schema, table_name from information_schema.tables "
                          "where table_schema like 'dbt_test__audit%' order by 2").fetchall()
    rows = [{"test": t, "failing rows": conn.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]}
            for s, t in tables]
    return pd.DataFrame(rows, columns=["test", "failing rows"])


def check_result_tables(conn: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Any persisted check-result tables (name containing 'check_result'), rendered as they are."""
    tables = conn.execute("select table_schema, table_name from information_schema.tables "
                          "where table_name like '%check_result%' order by 1, 2").fetchall()
    return {f"{s}.{t}": conn.execute(f'select * from "{s}"."{t}"').df() for s, t in tables}


def quality_marts(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The reconciliation and coverage marts that exist, with their row counts (inspect them with SQL)."""
    rows = [{"table": f"marts.{t}", "rows": conn.execute(f"select count(*) from marts.{t}").fetchone()[0]}
            for t in QUALITY_TABLES if table_exists(conn, "marts", t)]
    return pd.DataFrame(rows, columns=["table", "rows"])
