"""The dbt project as Dagster sees it, and preparing its manifest."""

from __future__ import annotations

import os

from dagster_dbt import DbtProject

from dagster_project.config import DBT_DIR, DEFAULT_WAREHOUSE

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


def ensure_manifest() -> None:
    """Parse the dbt project when no manifest exists yet (fresh clone, CI); `make` refreshes it."""
    if dbt_project.manifest_path.exists():
        return
    os.environ.setdefault("CARBONPANEL_WAREHOUSE", str(DEFAULT_WAREHOUSE))
    dbt_project.preparer.prepare(dbt_project)
