"""The Dagster entry point: every asset, check, job, schedule and sensor of carbon-panel.

Loading this module stays light (no dbt parse, no estimator or GX import): the dbt manifest is prepared
beforehand (see dagster_project.project) and heavy libraries are imported where they are used.
"""


import hashlib
import json
import warnings
from pathlib import Path

import dagster as dg

from dagster_project.project import prepare_if_dev

prepare_if_dev()   # under `dagster dev` only: refresh a stale manifest before the dbt assets read it

from dagster_project.assets.checks import gx_checks  # noqa: E402
from dagster_project.assets.dbt import carbon_panel_dbt  # noqa: E402
from dagster_project.assets.designs import all_design_assets  # noqa: E402
from dagster_project.assets.downscaling import downscaling_assets  # noqa: E402
from dagster_project.assets.ingest import ingest_assets  # noqa: E402
from dagster_project.assets.measures import measure_assets  # noqa: E402
from dagster_project.assets.robots import robot_assets  # noqa: E402
from dagster_project.config import settings  # noqa: E402
from dagster_project.resources import make_resources  # noqa: E402
from dagster_project.versions import SOURCE_FOLDER, file_digests, stale_keys  # noqa: E402

warnings.filterwarnings("ignore", message=".*sqlglotrs.*")

refresh_all = dg.define_asset_job("refresh_all", selection=dg.AssetSelection.all(),
                                  description="Every asset and check; each asset recomputes only if stale.")
refresh_changed_sources = dg.define_asset_job(
    "refresh_changed_sources", selection=dg.AssetSelection.all(),
    description="Run by the raw-folder sensor with the changed sources' assets and their downstream.")


@dg.schedule(job=refresh_all, cron_schedule="0 3 * * 1", execution_timezone="Asia/Shanghai",
             description="Every Monday 03:00 Beijing time, rebuild the assets whose inputs or code changed.")
def weekly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Request the stale assets (content-hash rule), or skip when the published warehouse is current."""
    s = settings()
    graph = context.repository_def.asset_graph if context.repository_def else defs.resolve_asset_graph()
    stale = stale_keys(graph, s.warehouse, s.raw_dir)
    if not stale:
        return dg.SkipReason("every asset is current (no raw file, model or code changed)")
    return dg.RunRequest(asset_selection=stale, tags={"carbonpanel/trigger": "schedule"})


def source_folders(asset_graph: object) -> dict[dg.AssetKey, str]:
    """Ingestion assets and the raw sub-folder each reads (from their `carbonpanel/source_folder` metadata)."""
    out = {}
    for key in asset_graph.toposorted_asset_keys:
        folder = (asset_graph.get(key).metadata or {}).get(SOURCE_FOLDER)
        if folder:
            out[key] = str(getattr(folder, "value", folder)).rstrip("/")
    return out


def changed_files(old: dict[str, dict], new: dict[str, dict]) -> list[str]:
    """Files added, deleted or whose content hash changed between two cursors."""
    def sha(cursor: dict[str, dict], rel: str) -> str | None:
        return (cursor.get(rel) or {}).get("sha256")

    return sorted(r for r in old.keys() | new.keys() if sha(old, r) != sha(new, r))


@dg.sensor(job=refresh_changed_sources, minimum_interval_seconds=300,
           description="Rebuild a source's assets (and what depends on them) when one of its raw files is "
                       "added, changed or deleted; the cursor keeps a content hash per file.")
def raw_files_changed(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """Compare every raw file's content hash with the cursor and request the affected sources' selection."""
    raw = Path(settings().raw_dir)
    if not raw.is_dir():
        return dg.SkipReason(f"raw folder {raw} does not exist")
    old = json.loads(context.cursor) if context.cursor else {}
    new = file_digests(raw, previous=old)
    cursor = json.dumps(new, sort_keys=True)
    changed = changed_files(old, new)
    if not changed:
        return dg.SkipReason("no raw file changed since the last tick")
    graph = context.repository_def.asset_graph if context.repository_def else defs.resolve_asset_graph()
    sources = sorted({key for key, folder in source_folders(graph).items()
                      if any(f == folder or f.startswith(folder + "/") for f in changed)},
                     key=lambda k: k.to_user_string())
    if not sources:
        return dg.SensorResult(skip_reason=f"{len(changed)} changed file(s) belong to no source: {changed[:5]}",
                               cursor=cursor)
    selection = sorted(dg.AssetSelection.assets(*sources).downstream().resolve(graph), key=lambda k: k.to_user_string())
    run_key = "raw:" + "|".join(f"{f}={(new.get(f) or {}).get('sha256', 'deleted')}" for f in changed)
    request = dg.RunRequest(run_key=hashlib.sha256(run_key.encode()).hexdigest(), asset_selection=selection,
                            tags={"carbonpanel/changed_files": ",".join(changed)[:200]})
    return dg.SensorResult(run_requests=[request], cursor=cursor)


def build_definitions(warehouse: Path | None = None, raw_dir: Path | None = None, *,
                      lock_wait_s: float = 0.0) -> dg.Definitions:
    """Assemble the Definitions for a warehouse file and raw folder (defaults: the environment)."""
    return dg.Definitions(
        assets=[*ingest_assets, carbon_panel_dbt, *all_design_assets(), *downscaling_assets, *robot_assets,
                *measure_assets],
        asset_checks=gx_checks,
        jobs=[refresh_all, refresh_changed_sources],
        schedules=[weekly_refresh],
        sensors=[raw_files_changed],
        resources=make_resources(warehouse, raw_dir, lock_wait_s=lock_wait_s),
        # One process: DuckDB allows a single writer per file, and the run's staging copy lives in it.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
