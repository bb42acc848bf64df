"""Shared fixtures: a small deterministic sample and one end-to-end build of it (session scoped)."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
# Builds record their runs in a Dagster instance; tests use a private one, never the project's `.dagster/`.
os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="carbonpanel-dagster-home-"))
warnings.filterwarnings("ignore", message=".*sqlglotrs.*")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# A universe small enough for a fast build, large enough for the panel regressions to have power.
E2E_CITIES = 120
E2E_YEARS = range(2003, 2022)
E2E_SEED = 11


def query(path: Path, sql: str) -> pd.DataFrame:
    """Run a read-only query on a warehouse file."""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute(sql).df()
    finally:
        conn.close()


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """Prepare the dbt manifest once: importing the Dagster definitions never parses dbt itself."""
    from dagster_project.project import ensure_manifest

    return ensure_manifest()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real publisher files beside the repository (never copied into it)."""
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(f"the real test data are expected at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sample raw files for the end-to-end tests."""
    from dagster_project.sample import generate

    out = tmp_path_factory.mktemp("raw")
    generate(out, n_cities=E2E_CITIES, years=E2E_YEARS, seed=E2E_SEED)
    return out


@pytest.fixture(scope="session")
def built_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reports folder of the session's end-to-end build."""
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="session")
def built_warehouse(sample_dir: Path, built_reports: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Materialize every asset on the sample into a fresh warehouse, through the CLI's build path."""
    from dagster_project.cli import run_build

    wh = tmp_path_factory.mktemp("wh") / "panel.duckdb"
    reports = built_reports
    old = os.environ.get("CARBONPANEL_REPORTS_DIR")
    os.environ["CARBONPANEL_REPORTS_DIR"] = str(reports)
    try:
        run_build(warehouse=wh, raw_dir=sample_dir)
    finally:
        if old is None:
            os.environ.pop("CARBONPANEL_REPORTS_DIR", None)
        else:
            os.environ["CARBONPANEL_REPORTS_DIR"] = old
    return wh
