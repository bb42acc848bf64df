"""Shared fixtures: a small deterministic sample and one end-to-end build of it (session scoped)."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from scratch_warehouse import ScratchWarehouse
from session_warehouse import ensure_build, ensure_sample, paths, start_in_background

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
# Builds record their runs in a Dagster instance; tests use a private one, never the project's `.dagster/`.
os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="carbonpanel-dagster-home-"))
warnings.filterwarnings("ignore", message=".*sqlglotrs.*")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SESSION_BUILD_FIXTURES = {"built_warehouse", "built_reports", "build_dagster_home"}
# The fixtures of the tests that rebuild a private copy of the session warehouse (dbt, a build) or serve it
# (the Dagster webserver): seconds to a minute each, where a test that only reads the build takes milliseconds.
REBUILD_FIXTURES = {"scratch", "worker_scratch", "webserver"}


def _needs_session_build(item: pytest.Item) -> bool:
    """Whether a test uses the session's end-to-end build."""
    return bool(SESSION_BUILD_FIXTURES & set(getattr(item, "fixturenames", ())))


def _phase(item: pytest.Item) -> int:
    """When the session inputs a test needs are ready: 0 none, 1 the session sample, 2 the session build."""
    if _needs_session_build(item):
        return 2
    return 1 if "sample_dir" in getattr(item, "fixturenames", ()) else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the tests by when their session inputs are ready, and among those needing the build, rebuilds first.

    The background process makes the sample (about 15 s) and then the build (about a minute): tests that
    need neither run first, then those that need the sample, then those that need the build. Among the
    last, the long tests that rebuild or serve a copy start first and the millisecond reads fill in after
    them, so neither worker idles at the end while the other finishes a one-minute test.

    `make test` distributes with `--dist loadgroup --no-loadscope-reorder`: with no `xdist_group` marks
    that hands the tests out one at a time in this order (a worker holds at most three queued), where the
    default `load` sends chunks and can leave a long test queued behind another on a busy worker. Every
    worker sorts the same collection the same way (a stable sort), as xdist requires.
    """
    items.sort(key=lambda item: (_phase(item), _phase(item) == 2 and not REBUILD_FIXTURES & set(item.fixturenames)))


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


def _session_root(factory: pytest.TempPathFactory) -> Path:
    """The folder the session's sample and build live in: shared by all xdist workers of the session."""
    base = factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "session-build"


@pytest.fixture(scope="session", autouse=True)
def _session_build_in_background(request: pytest.FixtureRequest,
                                 tmp_path_factory: pytest.TempPathFactory) -> object:
    """Under xdist, start the shared build at once if this worker has tests that need it."""
    proc = None
    if os.environ.get("PYTEST_XDIST_WORKER") and any(_needs_session_build(i) for i in request.session.items):
        root = _session_root(tmp_path_factory)
        proc = start_in_background(root, log=root.parent / "session-build.log")
        if not (root / "build.done").exists():
            # The build is on the critical path (every test of the last stage waits for it): the workers yield
            # the CPU to it rather than share it three ways, so no core idles at the end of the build while
            # a worker waits. The build process, started above (or by the other worker), keeps niceness 0.
            os.nice(3)
    yield proc
    if proc is not None:
        proc.wait()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sample raw files for the end-to-end tests (read only: tests that change a file copy the folder)."""
    return ensure_sample(_session_root(tmp_path_factory))


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every asset materialized on the sample into a fresh warehouse, through the CLI's build path (read only)."""
    return ensure_build(_session_root(tmp_path_factory))


@pytest.fixture(scope="session")
def built_reports(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reports folder of the session's end-to-end build."""
    return paths(_session_root(tmp_path_factory))["reports"]


@pytest.fixture(scope="session")
def build_dagster_home(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Dagster instance the session's build recorded its run into (the UI tests open it)."""
    return paths(_session_root(tmp_path_factory))["dagster_home"]


@pytest.fixture(scope="session")
def worker_scratch(tmp_path_factory: pytest.TempPathFactory) -> ScratchWarehouse:
    """This worker's reused warehouse path (tests/scratch_warehouse.py); tests call `.fresh()` before using it."""
    return ScratchWarehouse(tmp_path_factory.getbasetemp() / "scratch-warehouse")


@pytest.fixture
def scratch(worker_scratch: ScratchWarehouse, built_warehouse: Path) -> ScratchWarehouse:
    """A private copy of the session warehouse at this worker's reused path, for a test that changes and rebuilds it."""
    worker_scratch.fresh(copy_of=built_warehouse)
    return worker_scratch
