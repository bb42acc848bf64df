"""What the Dagster UI shows for a warehouse table: rows, typed and labelled columns, preview, coverage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    import duckdb

PREVIEW_ROWS = 5
_CELL = 40


def _md_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """A Markdown table (pandas' to_markdown needs tabulate, which is not a dependency)."""
    def cell(v: Any) -> str:
        text = "" if v is None else str(v)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= _CELL else text[:_CELL - 1] + "…"

    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "\n".join("| " + " | ".join(cell(v) for v in r) + " |" for r in rows)


def _exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether a table or view exists."""
    return bool(conn.execute("select count(*) from information_schema.tables where table_schema = ? "
                             "and table_name = ?", [schema, table]).fetchone()[0])


def dictionary_labels(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Variable -> 'English label / 中文 [unit]' from the panel's variable dictionary, when it is built."""
    for schema, table in (("marts", "variable_dictionary"), ("raw", "yearbook_dictionary")):
        if _exists(conn, schema, table):
            rows = conn.execute(f"select variable, label_en, label_cn, unit from {schema}.{table}").fetchall()
            return {v: " / ".join(x for x in (en, cn) if x) + (f" [{u}]" if u else "") for v, en, cn, u in rows}
    return {}


def table_metadata(conn: duckdb.DuckDBPyConnection, schema: str, table: str, *,
                   descriptions: dict[str, str] | None = None, rejected_asset: str | None = None) -> dict[str, Any]:
    """Row count, column schema (types, dictionary labels), preview, coverage by year and rejected rows."""
    if not _exists(conn, schema, table):
        return {"table": f"{schema}.{table}", "note": "table not found after the build"}
    cols = conn.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                        "and table_name = ? order by ordinal_position", [schema, table]).fetchall()
    labels = dictionary_labels(conn)
    docs = descriptions or {}
    schema_md = dg.TableSchema(columns=[
        dg.TableColumn(name=c, type=t, description=(labels.get(c) or docs.get(c) or None)) for c, t in cols])
    n = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
    preview = conn.execute(f'select * from "{schema}"."{table}" limit {PREVIEW_ROWS}').fetchall()
    meta: dict[str, Any] = {
        "dagster/row_count": int(n),
        "dagster/column_schema": schema_md,
        "dagster/table_name": f"{schema}.{table}",
        "preview": dg.MetadataValue.md(_md_table([c for c, _ in cols], preview)),
    }
    if any(c == "year" for c, _ in cols):
        years = conn.execute(f'select year, count(*) from "{schema}"."{table}" group by 1 order by 1').fetchall()
        meta["coverage_by_year"] = dg.MetadataValue.md(_md_table(["year", "rows"], years))
    if rejected_asset and _exists(conn, "raw", "rejected_rows"):
        meta["rejected_rows"] = int(conn.execute("select count(*) from raw.rejected_rows where asset = ?",
                                                 [rejected_asset]).fetchone()[0])
    return meta
