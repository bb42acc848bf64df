"""Writing into the DuckDB warehouse safely: one transaction per asset, and whole-build file swaps.

Two guarantees from the design card:
- an ingestion asset replaces its raw table and its rows in `raw.rejected_rows` in ONE transaction,
  so a failed asset leaves both as they were and a rerun is idempotent;
- `carbonpanel build` works on a copy of the warehouse and swaps it in only when every asset and
  blocking check succeeded (`staged_warehouse`), so a failed build leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.sources.common import REJECTED_COLUMNS

REJECTED_DDL = """
create table if not exists raw.rejected_rows (
    source varchar, file varchar, sheet varchar, "row" bigint, "column" varchar, value varchar,
    reason varchar, asset varchar, loaded_at timestamp default current_timestamp
)"""
SOURCE_FILES_DDL = """
create table if not exists raw.source_files (
    asset varchar, file varchar, bytes bigint, sha256 varchar, loaded_at timestamp default current_timestamp
)"""


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (creating its folder when writing)."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only)


def table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists (readers of the warehouse use it to skip what a build has not made yet)."""
    return bool(conn.execute("select count(*) from information_schema.tables where table_schema = ? "
                             "and table_name = ?", [schema, table]).fetchone()[0])


def replace_raw_table(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    df: pd.DataFrame,
    *,
    asset: str,
    rejected: pd.DataFrame | None = None,
    files: list[tuple[str, int, str]] | None = None,
) -> None:
    """Atomically replace `raw.<table>` and this asset's rejected rows and file manifest."""
    rej = rejected if rejected is not None else pd.DataFrame(columns=REJECTED_COLUMNS)
    rej = rej[REJECTED_COLUMNS].assign(asset=asset)
    manifest = pd.DataFrame(files or [], columns=["file", "bytes", "sha256"]).assign(asset=asset)
    conn.execute("begin transaction")
    try:
        conn.execute("create schema if not exists raw")
        conn.execute(REJECTED_DDL)
        conn.execute(SOURCE_FILES_DDL)
        conn.register("_new_table", df)
        conn.execute(f"create or replace table raw.{table} as select * from _new_table")
        conn.unregister("_new_table")
        conn.execute("delete from raw.rejected_rows where asset = ?", [asset])
        if len(rej):
            conn.register("_rej", rej)
            conn.execute(
                'insert into raw.rejected_rows (source, file, sheet, "row", "column", value, reason, asset) '
                'select source, file, sheet, "row", "column", value, reason, asset from _rej'
            )
            conn.unregister("_rej")
        conn.execute("delete from raw.source_files where asset = ?", [asset])
        if len(manifest):
            conn.register("_files", manifest)
            conn.execute("insert into raw.source_files (asset, file, bytes, sha256) "
                         "select asset, file, bytes, sha256 from _files")
            conn.unregister("_files")
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise


@contextlib.contextmanager
def staged_warehouse(target: Path) -> Iterator[Path]:
    """Yield a staging copy of `target`; swap it in atomically on success, delete it on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".building")
    for leftover in (staging, staging.with_name(staging.name + ".wal")):
        leftover.unlink(missing_ok=True)
    if target.exists():
        shutil.copy2(target, staging)
    try:
        yield staging
    except BaseException:
        staging.unlink(missing_ok=True)
        staging.with_name(staging.name + ".wal").unlink(missing_ok=True)
        raise
    # DuckDB checkpoints on close; a leftover WAL would mean an open writer, so refuse to swap.
    if staging.with_name(staging.name + ".wal").exists():
        raise RuntimeError(f"{staging} still has a write-ahead log; a connection was left open")
    os.replace(staging, target)
