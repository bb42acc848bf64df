"""What the Dagster UI shows for a warehouse table: rows, typed and labelled columns, preview, coverage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    import duckdb

PREVIEW_ROWS = 5
_CELL = 40


def md_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """A Markdown table (pandas' to_markdown needs tabulate, which is not a dependency)."""
    def cell(v: Any) -> str:
        text = "" if v is None else str(v)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= _CELL else text[:_CELL - 1] + "…"

    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "\n".join("| " + " | ".join(cell(v) for v in r) + " |" for r in rows)


@dataclass(frozen=True)
class Catalog:
    """One snapshot of the warehouse's columns and variable labels, read once for many tables.

    An information_schema query costs ~6 ms in DuckDB; describing the 114 dbt tables of a build
    table by table (existence, columns, labels) spent 3-8 s on such lookups alone.
    """

    columns: dict[tuple[str, str], list[tuple[str, str]]]
    labels: dict[str, str]

    @classmethod
    def read(cls, conn: duckdb.DuckDBPyConnection) -> Catalog:
        """The columns of every table and view, and the dictionary labels if a dictionary is built."""
        columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for schema, table, column, dtype in conn.execute(
                "select schema_name, table_name, column_name, data_type from duckdb_columns() "
                "where database_name = current_database() order by schema_name, table_name, column_index"
        ).fetchall():
            columns.setdefault((schema, table), []).append((column, dtype))
        labels: dict[str, str] = {}
        for schema, table in (("marts", "variable_dictionary"), ("raw", "yearbook_dictionary")):
            if (schema, table) in columns:
                rows = conn.execute(f"select variable, label_en, label_cn, unit from {schema}.{table}").fetchall()
                labels = {v: " / ".join(x for x in (en, cn) if x) + (f" [{u}]" if u else "")
                          for v, en, cn, u in rows}
                break
        return cls(columns=columns, labels=labels)


def dictionary_labels(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Variable -> 'English label / 中文 [unit]' from the panel's variable dictionary, when it is built."""
    return Catalog.read(conn).labels


def table_metadata(conn: duckdb.DuckDBPyConnection, schema: str, table: str, *,
                   descriptions: dict[str, str] | None = None, rejected_asset: str | None = None,
                   catalog: Catalog | None = None) -> dict[str, Any]:
    """Row count, column schema (types, dictionary labels), preview, coverage by year and rejected rows.

    Pass a `catalog` read after the tables were written when describing many tables at once.
    """
    catalog = catalog or Catalog.read(conn)
    cols = catalog.columns.get((schema, table))
    if cols is None:
        return {"table": f"{schema}.{table}", "note": "table not found after the build"}
    docs = descriptions or {}
    schema_md = dg.TableSchema(columns=[
        dg.TableColumn(name=c, type=t, description=(catalog.labels.get(c) or docs.get(c) or None)) for c, t in cols])
    name = f'"{schema}"."{table}"'
    preview = conn.execute(f"select * from {name} limit {PREVIEW_ROWS}").fetchall()
    meta: dict[str, Any] = {"dagster/column_schema": schema_md, "dagster/table_name": f"{schema}.{table}",
                            "preview": dg.MetadataValue.md(md_table([c for c, _ in cols], preview))}
    if any(c == "year" for c, _ in cols):
        # One scan gives both the coverage and the row count (a view is evaluated once, not twice).
        years = conn.execute(f"select year, count(*) from {name} group by 1 order by 1").fetchall()
        meta["dagster/row_count"] = int(sum(n for _, n in years))
        meta["coverage_by_year"] = dg.MetadataValue.md(md_table(["year", "rows"], years))
    else:
        meta["dagster/row_count"] = int(conn.execute(f"select count(*) from {name}").fetchone()[0])
    if rejected_asset and ("raw", "rejected_rows") in catalog.columns:
        meta["rejected_rows"] = int(conn.execute("select count(*) from raw.rejected_rows where asset = ?",
                                                 [rejected_asset]).fetchone()[0])
    return meta
