"""`carbonpanel sql`: one read-only query on the warehouse, with clear errors instead of tracebacks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

READ_ONLY_TYPES = ("SELECT", "EXPLAIN", "PRAGMA")
HOW_TO_WRITE = (
    "carbonpanel sql only reads the warehouse (every build replaces it, so changes would be lost anyway).\n"
    "To work with the data elsewhere: `carbonpanel export --format parquet|csv|dta|xlsx --out FILE`;\n"
    "to experiment with SQL that writes, open a copy with a DuckDB 2.x client:\n"
    "  cp {warehouse} /tmp/scratch.duckdb && duckdb /tmp/scratch.duckdb")


class QueryError(ValueError):
    """The query is empty, has several statements, writes, or fails; the message says what to do."""


@dataclass
class QueryResult:
    """A query's rows and how many there were in total."""

    frame: pd.DataFrame
    total_rows: int


def check_query(query: str, *, warehouse: Path) -> str:
    """Return the statement type of a single read-only statement, or raise QueryError explaining why not."""
    try:
        statements = duckdb.connect().extract_statements(query)
    except duckdb.ParserException as exc:
        raise QueryError(f"query does not parse: {exc}") from exc
    if not statements:
        raise QueryError('empty query: pass one SQL statement, e.g. carbonpanel sql "select * from '
                         'marts.city_year_panel limit 5"')
    if len(statements) > 1:
        raise QueryError(f"{len(statements)} statements given; carbonpanel sql runs exactly one "
                         "(remove the extra `;`-separated statements or run them one by one)")
    kind = statements[0].type.name
    if kind not in READ_ONLY_TYPES:
        raise QueryError(f"{kind} statements are refused: " + HOW_TO_WRITE.format(warehouse=warehouse))
    return kind


def run_query(query: str, *, warehouse: Path) -> QueryResult:
    """Run one read-only statement on the warehouse and return all of its rows."""
    if not warehouse.exists():
        raise QueryError(f"no warehouse at {warehouse}; run `make run` or `carbonpanel build` first")
    check_query(query, warehouse=warehouse)
    try:
        conn = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        raise QueryError(f"cannot open {warehouse} read-only ({exc}); is a build writing it right now?") from exc
    try:
        frame = conn.execute(query).df()
    except duckdb.Error as exc:
        hint = ""
        if isinstance(exc, duckdb.CatalogException):
            hint = ("\nlist the tables with: carbonpanel sql \"select table_schema, table_name from "
                    "information_schema.tables order by 1, 2\"")
        raise QueryError(f"query failed: {exc}{hint}") from exc
    finally:
        conn.close()
    return QueryResult(frame=frame, total_rows=len(frame))


def format_result(result: QueryResult, *, max_rows: int) -> str:
    """Render the rows as a text table; a truncated table says how many rows there were."""
    df = result.frame
    shown = df if result.total_rows <= max_rows else df.head(max_rows)
    with pd.option_context("display.max_columns", 50, "display.width", 200):
        text = shown.to_string(index=False)
    if result.total_rows > max_rows:
        text += (f"\n… showing the first {max_rows:,} of {result.total_rows:,} rows "
                 "(raise --max-rows, or use --csv for all rows)")
    else:
        text += f"\n({result.total_rows:,} row{'s' if result.total_rows != 1 else ''})"
    return text
