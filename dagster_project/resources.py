"""Dagster resources: the DuckDB warehouse and the dbt CLI, both pointed at absolute paths."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from dagster_project.config import DBT_DIR, settings
from dagster_project.project import dbt_executable
from dagster_project.warehouse import connect


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file; one writer at a time (runs use the in-process executor)."""

    path: str
    raw_dir: str

    @contextlib.contextmanager
    def connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open a connection that is always closed, so dbt can take the write lock afterwards."""
        conn = connect(Path(self.path), read_only=read_only)
        try:
            yield conn
        finally:
            conn.close()


def make_resources(warehouse: Path | None = None, raw_dir: Path | None = None) -> dict[str, object]:
    """Build the resource dict for the given (or configured) warehouse and raw folder."""
    from dagster_dbt import DbtCliResource

    s = settings()
    return {
        "warehouse": Warehouse(path=str(warehouse or s.warehouse), raw_dir=str(raw_dir or s.raw_dir)),
        "dbt": DbtCliResource(project_dir=str(DBT_DIR), profiles_dir=str(DBT_DIR),
                              dbt_executable=dbt_executable()),
    }
