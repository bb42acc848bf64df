"""The dbt project as Dagster sees it, and keeping its manifest current."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.config import DBT_DIR, DEFAULT_WAREHOUSE

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
_SOURCES = ("models", "seeds", "macros", "tests", "dbt_project.yml", "profiles.yml")


def dbt_executable() -> str:
    """The dbt next to this interpreter (the venv), falling back to PATH."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def _newest_source_mtime() -> float:
    """The latest modification time of any file that defines the dbt project."""
    newest = 0.0
    for name in _SOURCES:
        path = DBT_DIR / name
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
        newest = max([newest, *(Path(f).stat().st_mtime for f in files)])
    return newest


def ensure_manifest() -> None:
    """Parse the dbt project when the manifest is missing or older than a model, seed or test.

    The asset graph is read from the manifest at import time; a stale manifest would name models that
    no longer exist or miss new ones, so it is refreshed here rather than trusting `make` to have run.
    """
    manifest = dbt_project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime():
        return
    env = {**os.environ, "CARBONPANEL_WAREHOUSE": os.environ.get("CARBONPANEL_WAREHOUSE", str(DEFAULT_WAREHOUSE))}
    # `dbt parse` with the venv's dbt: the venv's bin folder need not be on PATH (make, pytest, IDEs).
    done = subprocess.run([dbt_executable(), "parse", "--quiet", "--profiles-dir", ".", "--project-dir", "."],
                          cwd=DBT_DIR, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{done.stdout}\n{done.stderr}")
