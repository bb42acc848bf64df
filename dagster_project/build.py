"""`carbonpanel build`: materialize what is stale (or a selection) and publish it all-or-nothing.

Runs are recorded in the project's Dagster instance (`DAGSTER_HOME`, default `.dagster/`, the one
`make dev` opens), so the UI shows what the CLI built. Publication, locking and the content-hash rule
live in the `Warehouse` resource and `dagster_project.versions`, shared with runs started from the UI,
a schedule or a sensor.
"""

from __future__ import annotations

import difflib
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster_project.config import PROJECT_ROOT, RAW_LAYOUT, settings

DAGSTER_YAML = """\
# Written by carbonpanel on first use. One run at a time: runs started from the UI, a schedule or a
# sensor queue behind each other (the warehouse lock refuses a concurrent CLI build with a clear message).
telemetry:
  enabled: false
nux:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1
"""


@dataclass
class BuildSummary:
    """What one build did, as the final console summary reports it."""

    selected: int = 0
    assets: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    checks: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    rejected_rows: int = 0
    seconds: float = 0.0
    warehouse: str = ""
    run_id: str | None = None
    log_file: str | None = None
    published: bool = False


def dagster_home() -> Path:
    """The project-local Dagster instance folder (DAGSTER_HOME, default `.dagster/`), created if missing."""
    home = Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def resolve_selection(select: str, asset_graph: Any) -> list[Any]:
    """Resolve a Dagster selection string; a malformed one or one matching nothing is an error with close matches."""
    import dagster as dg

    names = sorted(k.to_user_string() for k in asset_graph.materializable_asset_keys)
    groups = sorted({asset_graph.get(k).group_name for k in asset_graph.materializable_asset_keys} - {None})
    problem = None
    try:
        keys = dg.AssetSelection.from_string(select).resolve(asset_graph)
    except (dg.DagsterInvalidSubsetError, dg.DagsterError) as exc:
        keys, problem = set(), str(exc).splitlines()[0]
    if keys and problem is None:
        return sorted(keys, key=lambda k: k.to_user_string())
    token = re.sub(r"^[a-z_]+:|[+*()\"']", "", select.strip().split()[-1] if select.strip() else "")
    leaves = {n.rsplit("/", 1)[-1]: n for n in names}
    close = [f"key:{n}" for n in difflib.get_close_matches(token, names, n=5, cutoff=0.5)]
    close += [f"key:{leaves[n]}" for n in difflib.get_close_matches(token, list(leaves), n=5, cutoff=0.6)
              if f"key:{leaves[n]}" not in close]
    close += [f"group:{g}" for g in difflib.get_close_matches(token, groups, n=3, cutoff=0.6)]
    what = f"is not a valid selection ({problem})" if problem else "matches no asset"
    hint = ("close matches: " + ", ".join(close[:8])) if close else f"groups: {', '.join(groups)}"
    raise SystemExit(f"--select {select!r} {what}.\n{hint}\n"
                     "Syntax: 'key:raw/ifr_robots+' (asset and downstream), 'group:ifr', 'key:marts/*'.")


def _print_summary(s: BuildSummary, echo: Any) -> None:
    """The final summary: assets, checks, rejected rows, time, warehouse, and the located errors."""
    c = s.checks
    echo(f"\n{'published' if s.published else 'NOT published'}: {len(s.assets)} assets built, "
         f"{len(s.unchanged)} unchanged; checks {c.get('passed', 0)} passed, {c.get('warned', 0)} warned, "
         f"{c.get('failed', 0)} failed; {s.rejected_rows:,} rejected rows in raw.rejected_rows; "
         f"{s.seconds:.1f}s")
    echo(f"warehouse: {s.warehouse}")
    if s.log_file:
        echo(f"full event log: {s.log_file}")
    for e in s.errors[:10]:
        echo(f"error: {e}")


def run_build(select: str | None = None, warehouse: Path | None = None, raw_dir: Path | None = None, *,
              full: bool = False, verbose: bool = False, wait_s: float = 0.0, quiet: bool = False) -> BuildSummary:
    """Materialize the stale assets (or `select`) into a staging copy and publish it only if everything passed."""
    import dagster as dg

    from dagster_project.event_store import tune_run_history
    from dagster_project.project import ensure_manifest
    from dagster_project.warehouse import (
        WarehouseNotWritableError,
        busy_message,
        check_writable,
        clear_leftovers,
        lock_holder,
    )

    echo = (lambda *_: None) if quiet else print
    warnings.filterwarnings("ignore", message=".*currently in beta.*")
    warnings.filterwarnings("ignore", message=".*sqlglotrs.*")
    t0 = time.perf_counter()
    s = settings()
    target = (warehouse or s.warehouse).resolve()
    raw = (raw_dir or s.raw_dir).resolve()
    if not raw.is_dir():
        raise SystemExit(f"raw data folder {raw} does not exist.\nexpected layout:\n{RAW_LAYOUT}\n"
                         "Generate the sample with `carbonpanel sample --out data/sample` or set CARBONPANEL_RAW_DIR.")
    try:
        check_writable(target)
    except WarehouseNotWritableError as exc:
        raise SystemExit(str(exc)) from None
    holder = lock_holder(target)
    if holder is not None and wait_s <= 0:
        raise SystemExit(busy_message(target, holder))
    if holder is None:
        clear_leftovers(target)   # staging files of killed runs
    home = dagster_home()
    tune_run_history()
    instance = dg.DagsterInstance.get()
    mark_dead_cli_runs(instance)
    ensure_manifest()   # an entry point, not an import: keep the manifest current before loading the definitions

    from dagster_project.console import CURRENT, concise_console, log_path
    from dagster_project.definitions import build_definitions
    from dagster_project.versions import stale_keys

    summary = BuildSummary(warehouse=str(target))
    defs = build_definitions(warehouse=target, raw_dir=raw, lock_wait_s=wait_s)
    graph = defs.resolve_asset_graph()
    if select:
        keys = resolve_selection(select, graph)
    elif full:
        keys = sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string())
    else:
        keys = stale_keys(graph, target, raw)
    summary.selected = len(keys)
    if not keys:
        summary.rejected_rows = _rejected(target)
        summary.seconds = time.perf_counter() - t0
        summary.published = True
        echo("nothing to do: no raw file, model or code changed since the last build (use --full to rebuild all)")
        _print_summary(summary, echo)
        return summary
    echo(f"building {len(keys)} of {len(graph.materializable_asset_keys)} assets into {target}")
    log_file = log_path(home)
    summary.log_file = str(log_file)
    job = dg.define_asset_job("carbonpanel_build", selection=dg.AssetSelection.assets(*keys))
    defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[job], loggers={"console": concise_console}))
    run_config = {"loggers": {"console": {"config": {"log_file": str(log_file), "verbose": verbose}}}}
    try:
        result = defs.resolve_job_def("carbonpanel_build").execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config,
            tags={"carbonpanel/trigger": "cli", "carbonpanel/pid": str(os.getpid())})
    finally:
        handler = CURRENT.pop("handler", None)
        if handler is not None:
            handler.finish()
    tally = handler.tally if handler is not None else None
    summary.run_id = result.run_id
    if tally is not None:
        summary.assets, summary.unchanged, summary.checks = tally.assets, tally.unchanged, tally.checks
        summary.errors = tally.errors + [f"check {c} failed (blocking)" for c in tally.failed_checks]
    if not summary.errors and not result.success:
        summary.errors = [str(e.message) for e in result.all_events if e.is_failure][:10]
    summary.published = result.success and not summary.errors
    summary.rejected_rows = _rejected(target)
    summary.seconds = time.perf_counter() - t0
    _print_summary(summary, echo)
    if not summary.published:
        raise SystemExit("build failed; the previous warehouse is unchanged.\n" + "\n".join(summary.errors[:10]))
    return summary


def mark_dead_cli_runs(instance: Any) -> list[str]:
    """Mark CLI runs whose process died (killed build) as failed, so the UI does not show them in progress.

    The daemon's run monitoring does this for runs it launched; CLI runs execute in their own process.
    """
    import dagster as dg

    dead = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED],
                                                         tags={"carbonpanel/trigger": "cli"})):
        run = record.dagster_run
        pid = run.tags.get("carbonpanel/pid", "")
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            instance.report_run_failed(run, message=f"the build process (pid {pid}) died before the run finished; "
                                                    "nothing was published")
            dead.append(run.run_id)
    return dead


def _rejected(target: Path) -> int:
    """Rows quarantined in the published warehouse."""
    import duckdb

    if not target.exists():
        return 0
    conn = duckdb.connect(str(target), read_only=True)
    try:
        has = conn.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                           "and table_name = 'rejected_rows'").fetchone()[0]
        return int(conn.execute("select count(*) from raw.rejected_rows").fetchone()[0]) if has else 0
    finally:
        conn.close()
