"""The dbt project as Dagster sees it: where its manifest lives and how it is kept current.

The manifest is prepared before the definitions are imported (by `make`, by `dagster dev` through
`prepare_if_dev`, by the CLI's build path and by a test fixture); importing the definitions never
parses dbt, because a parse costs seconds on every CLI call, test and UI code-server load.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_project.config import DBT_DIR

MANIFEST_PATH = DBT_DIR / "target" / "manifest.json"
_SOURCES = ("models", "seeds", "macros", "tests", "dbt_project.yml", "profiles.yml")


class ManifestMissingError(RuntimeError):
    """The dbt manifest has not been prepared; the message says how to prepare it."""


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


def manifest_is_current() -> bool:
    """Whether the manifest exists and is newer than every model, seed, macro and test."""
    return MANIFEST_PATH.exists() and MANIFEST_PATH.stat().st_mtime >= _newest_source_mtime()


def ensure_manifest() -> Path:
    """Parse the dbt project when the manifest is missing or older than a model, seed or test."""
    return MANIFEST_PATH if manifest_is_current() else parse_manifest()


def dbt_target_path(warehouse: Path) -> Path:
    """dbt's target and log folder for builds of `warehouse`: beside it, one per warehouse file.

    Two builds of different warehouses may run at once (tests on two cores, a UI run beside a CLI build);
    a shared `dbt/target` would let one read the other's run_results.json. Per warehouse, dbt's
    partial-parse state also stays valid from one build to the next.
    """
    return warehouse.with_name(f".{warehouse.name}.dbt")


def parse_manifest() -> Path:
    """Run `dbt parse` as a build of the configured warehouse will, and publish its manifest for the definitions."""
    from dagster_project.config import settings
    from dagster_project.dbt_runner import PARSE_STATE, PARSE_STATE_TEMPLATE, dbt_environment, dbt_paths
    from dagster_project.warehouse import staging_path

    warehouse = settings().warehouse
    target = dbt_target_path(warehouse)
    # dbt keeps its partial-parse state only while the profile (the database path) stays the same: parsing
    # as a build's dbt runs (the staging file, named relative to its folder) into the build's target folder
    # lets the build's `dbt build` reuse this parse, and the state copied beside the manifest lets the
    # first build of any other warehouse of the same file name reuse it too (dbt_runner.seed_parse_state).
    cwd, env = dbt_environment(staging_path(warehouse))
    # `dbt parse` with the venv's dbt: the venv's bin folder need not be on PATH (make, pytest, IDEs).
    done = subprocess.run([dbt_executable(), "parse", "--quiet", *dbt_paths(target)],
                          cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{done.stdout}\n{done.stderr}")
    MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
    for made, published in ((target / PARSE_STATE, PARSE_STATE_TEMPLATE), (target / "manifest.json", MANIFEST_PATH)):
        tmp = published.with_name(f"{published.name}.{os.getpid()}.tmp")
        shutil.copyfile(made, tmp)
        os.replace(tmp, published)      # readers never see a half-written manifest or parse state
    return MANIFEST_PATH


def prepare_if_dev() -> None:
    """Under `dagster dev` (DAGSTER_IS_DEV_CLI), refresh the manifest the way dagster-dbt's preparer does."""
    if os.environ.get("DAGSTER_IS_DEV_CLI"):
        ensure_manifest()


def require_manifest() -> Path:
    """The manifest path, or a clear error saying how to prepare it (no parse at import time)."""
    if not MANIFEST_PATH.exists():
        raise ManifestMissingError(
            f"dbt manifest {MANIFEST_PATH} is missing: run `make manifest` (or `carbonpanel build`, which "
            "prepares it) before loading the Dagster definitions")
    return MANIFEST_PATH
