"""dbt seeds, models and tests as one subsettable Dagster multi-asset, read from the prepared manifest.

The specs are built from `dbt/target/manifest.json` with the standard library only: dagster-dbt pulls
in dbt-core at import (about 2.5 s), which every CLI call, test and UI code-server load would pay.
Execution runs `dbt build` in a child process that dies with its parent (no orphaned dbt writing on
after a killed build; `dagster_project.dbt_runner`, usually started and parsed while ingestion ran),
reads `run_results.json` and reports one materialization per model or seed and one check result per
dbt test.
"""


import json
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_project import dbt_runner
from dagster_project.console import tool_output
from dagster_project.metadata import Catalog, md_table, table_metadata
from dagster_project.project import dbt_target_path, require_manifest
from dagster_project.resources import Warehouse

# Groups read like the research design: the source a model or seed belongs to, or the topic of its
# schema file (`_policies__marts.yml` -> policies); topics named after intermediate folders map onto
# the source they are derived from.
TOPIC_GROUPS = {"emissions": "ceads", "robots": "ifr", "crosswalk": "cities", "reference": "cities",
                "dictionary": "yearbook", "yearbook_panel": "yearbook", "prices": "yearbook",
                "classifications": "ifr", "marts": "panel", "coverage": "panel", "warehouse": "panel"}


def _group(node: dict[str, Any]) -> str:
    """The asset group of a dbt node, from its schema file's topic or its folder."""
    patch = (node.get("patch_path") or "").rsplit("/", 1)[-1]
    topic = patch[1:].split("__", 1)[0] if patch.startswith("_") and "__" in patch else ""
    if not topic:
        parts = Path(node["original_file_path"]).parts
        topic = parts[2] if len(parts) > 3 else parts[1] if len(parts) > 2 else "panel"
    return TOPIC_GROUPS.get(topic, topic)


def node_key(node: dict[str, Any]) -> dg.AssetKey:
    """`<schema>/<name>`, e.g. marts/city_year_panel (seeds live in schema ref)."""
    return dg.AssetKey([node.get("config", {}).get("schema") or "main", node["name"]])


def _source_key(source: dict[str, Any]) -> dg.AssetKey | None:
    """The Python asset that loads a dbt source (its `meta.dagster.asset_key`), if it has one."""
    meta = (source.get("config") or {}).get("meta") or source.get("meta") or {}
    key = (meta.get("dagster") or {}).get("asset_key")
    return dg.AssetKey(key) if key else None


@cache
def load_manifest() -> dict[str, Any]:
    """The parsed dbt manifest (prepared beforehand; see dagster_project.project)."""
    return json.loads(require_manifest().read_text(encoding="utf-8"))


def _column_schema(node: dict[str, Any]) -> dg.TableSchema | None:
    """The YAML-documented columns of a node (types are added from the table when it is built)."""
    cols = [dg.TableColumn(name=c["name"], type=c.get("data_type") or "?", description=c.get("description") or None)
            for c in node.get("columns", {}).values()]
    return dg.TableSchema(columns=cols) if cols else None


def build_specs(manifest: dict[str, Any]) -> tuple[list[dg.AssetSpec], list[dg.AssetCheckSpec], dict[str, Any]]:
    """Asset specs for models and seeds, check specs for their tests, and a lookup for execution."""
    nodes = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] in ("model", "seed")}
    keys = {uid: node_key(n) for uid, n in nodes.items()}
    keys.update({uid: k for uid, s in manifest["sources"].items() if (k := _source_key(s))})
    specs = []
    for uid, node in sorted(nodes.items()):
        meta: dict[str, Any] = {"dbt/unique_id": uid, "dbt/path": node["original_file_path"],
                                "dbt/materialized": node["config"].get("materialized", "seed")}
        if (schema := _column_schema(node)) is not None:
            meta["dagster/column_schema"] = schema
        desc = (node.get("description") or "").strip() or f"dbt {node['resource_type']} {node['name']}"
        specs.append(dg.AssetSpec(
            key=keys[uid], description=desc, group_name=_group(node), code_version=node["checksum"]["checksum"],
            deps=sorted({keys[d] for d in node["depends_on"].get("nodes", []) if d in keys and d != uid},
                        key=lambda k: k.to_user_string()),
            kinds={"dbt", "duckdb"}, metadata=meta, skippable=True))
    checks, tests = [], {}
    for uid, test in sorted(manifest["nodes"].items()):
        if test["resource_type"] != "test":
            continue
        parent = test.get("attached_node") or next(iter(test["depends_on"].get("nodes", [])), None)
        if parent not in nodes:
            continue   # tests of sources run inside `dbt build` and fail the step, but have no asset here
        blocking = test["config"].get("severity", "ERROR").upper() == "ERROR"
        desc = (test.get("description") or "").strip() or f"dbt test {test['name']}"
        checks.append(dg.AssetCheckSpec(name=test["name"], asset=keys[parent], blocking=blocking, description=desc))
        tests[uid] = (keys[parent], test["name"], blocking)
    lookup = {"nodes": {keys[u]: n for u, n in nodes.items()}, "uids": {u: keys[u] for u in nodes},
              "tests": tests}
    return specs, checks, lookup


SPECS, CHECK_SPECS, LOOKUP = build_specs(load_manifest())
DBT_KEYS = frozenset(LOOKUP["nodes"])


def _failing_rows(conn: Any, sql: str, *, limit: int = 20) -> dg.MetadataValue:
    """The first rows a failed or warned dbt test returned, as the UI shows them (its compiled query, re-run)."""
    import duckdb  # not at module level: loading the definitions imports no DuckDB

    if not sql.strip():
        return dg.MetadataValue.text("(dbt gave no compiled query for this test)")
    try:
        rel = conn.sql(f"select * from ({sql}) as failing limit {limit}")
        return dg.MetadataValue.md(md_table(rel.columns, rel.fetchall()))
    except duckdb.Error as error:     # reported, not raised: the check result itself must still be recorded
        return dg.MetadataValue.text(f"could not re-run the test's query: {error}")


@dg.multi_asset(specs=SPECS, check_specs=CHECK_SPECS, can_subset=True, name="carbon_panel_dbt",
                description="`dbt build` of the selected seeds and models with their tests.")
def carbon_panel_dbt(context: dg.AssetExecutionContext, warehouse: Warehouse) -> Iterator[Any]:
    """Build the selected dbt nodes into the run's warehouse and report rows, schema and test results."""
    selected = set(context.selected_asset_keys)
    checks_selected = set(context.selected_asset_check_keys)
    nodes = LOOKUP["nodes"]
    args = ["build"]
    if selected != set(nodes):
        args += ["--select", *sorted(nodes[k]["name"] for k in selected)]
    t0 = time.perf_counter()
    # dbt prints ~900 lines; as Dagster log events each would be a write to the run's event store (a
    # third of a cold build). They go to the CLI's log file and progress bar, or to the step's captured
    # stdout in a UI run; the event log gets the summary and, on failure, the tail.
    target = dbt_target_path(Path(warehouse.path))
    results_path = target / "run_results.json"
    results_path.unlink(missing_ok=True)      # never report a previous build's results
    # The child was usually started when ingestion began (dbt imported and the project parsed by now).
    dbt = dbt_runner.take(context.run_id, warehouse=warehouse.active_path, target=target)
    warehouse.release()        # DuckDB lets one process at a time open the file for writing
    code, lines = dbt.run(args, on_line=tool_output)
    results = json.loads(results_path.read_text(encoding="utf-8"))["results"] if results_path.exists() else []
    by_uid = {r["unique_id"]: r for r in results}
    failures = [f"{r['unique_id']}: {r['status']}: {(r.get('message') or '').strip()}" for r in results
                if r["status"] in ("error", "fail")]
    with warehouse.connection(read_only=True) as conn:
        catalog = Catalog.read(conn)
        # dbt's execution order is topological, which Dagster requires of a multi-asset's outputs.
        for r in results:
            key = LOOKUP["uids"].get(r["unique_id"])
            if key is None or key not in selected or r["status"] != "success":
                continue
            node = nodes[key]
            meta = table_metadata(conn, node["config"].get("schema") or "main", node.get("alias") or node["name"],
                                  descriptions={c: v.get("description", "") for c, v in node["columns"].items()},
                                  catalog=catalog)
            meta["dbt/seconds"] = round(float(r.get("execution_time") or 0), 2)
            yield dg.MaterializeResult(asset_key=key, metadata=meta)
        for uid, (key, name, blocking) in sorted(LOOKUP["tests"].items()):
            r = by_uid.get(uid)
            if dg.AssetCheckKey(key, name) not in checks_selected or r is None or r["status"] == "skipped":
                continue
            meta = {"status": r["status"], "failures": int(r.get("failures") or 0),
                    "message": (r.get("message") or "")[:2000]}
            if r["status"] in ("fail", "warn"):
                meta["failing_rows"] = _failing_rows(conn, r.get("compiled_code") or "")
            yield dg.AssetCheckResult(
                asset_key=key, check_name=name, passed=r["status"] == "pass",
                severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN, metadata=meta)
    context.log.info(f"dbt build: {len(results)} nodes in {time.perf_counter() - t0:.1f}s, exit code {code}")
    if code != 0:
        tail = "\n".join(lines[-30:])
        raise dg.Failure(description="dbt build failed:\n" + ("\n".join(failures[:20]) or tail),
                         metadata={"dbt_output_tail": dg.MetadataValue.text(tail)})
