"""The Dagster entry point: every asset, check, job, schedule and sensor of carbon-panel."""


import warnings
from pathlib import Path

import dagster as dg

from dagster_project.assets.checks import gx_checks
from dagster_project.assets.dbt import carbon_panel_dbt
from dagster_project.assets.designs import all_design_assets
from dagster_project.assets.downscaling import downscaling_assets
from dagster_project.assets.ingest import ingest_assets
from dagster_project.assets.measures import measure_assets
from dagster_project.assets.robots import robot_assets
from dagster_project.config import settings
from dagster_project.resources import make_resources

warnings.filterwarnings("ignore", message=".*sqlglotrs.*")

refresh_all = dg.define_asset_job("refresh_all", selection=dg.AssetSelection.all())

weekly_refresh = dg.ScheduleDefinition(
    name="weekly_refresh", job=refresh_all, cron_schedule="0 3 * * 1", execution_timezone="Asia/Shanghai",
    description="Rebuild the warehouse every Monday 03:00 Beijing time.",
)


@dg.sensor(job=refresh_all, minimum_interval_seconds=300,
           description="Rebuild when a file under CARBONPANEL_RAW_DIR is added or changed.")
def raw_files_changed(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """Request a refresh when the raw folder's newest modification time moves."""
    raw = Path(settings().raw_dir)
    if not raw.is_dir():
        return dg.SkipReason(f"raw folder {raw} does not exist")
    newest = max((p.stat().st_mtime_ns for p in raw.rglob("*") if p.is_file()), default=0)
    if str(newest) == (context.cursor or ""):
        return dg.SkipReason("no raw file changed since the last run")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"raw:{newest}")], cursor=str(newest))


def build_definitions(warehouse: Path | None = None, raw_dir: Path | None = None) -> dg.Definitions:
    """Assemble the Definitions for a warehouse file and raw folder (defaults: the environment)."""
    return dg.Definitions(
        assets=[*ingest_assets, carbon_panel_dbt, *all_design_assets(), *downscaling_assets, *robot_assets,
                *measure_assets],
        asset_checks=gx_checks,
        jobs=[refresh_all],
        schedules=[weekly_refresh],
        sensors=[raw_files_changed],
        resources=make_resources(warehouse, raw_dir),
        # One process: DuckDB allows a single writer per file.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
