"""The test session's sample and end-to-end build, made once and shared by every pytest-xdist worker.

Each worker used to generate the sample and build the whole warehouse for itself: on two cores that is
two full builds where one suffices. Here the sample and the build live in one folder shared by the
session's workers (`root`), each made under its own file lock by whichever process gets there first,
and a worker that needs the warehouse starts its build in the background when the session begins
(`python tests/session_warehouse.py <root>`), so the build runs while the workers run the tests that
do not need it. A failed build publishes nothing and leaves no `.done` marker: the next process to
ask builds again and raises the build's own error.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

# A universe small enough for a fast build, large enough for the panel regressions to have power.
E2E_CITIES = 120
E2E_YEARS = range(2003, 2022)
E2E_SEED = 11


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (blocking) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def paths(root: Path) -> dict[str, Path]:
    """Where the shared sample, warehouse, reports and Dagster instance of a session live."""
    return {"raw": root / "raw", "warehouse": root / "wh" / "panel.duckdb", "reports": root / "reports",
            "dagster_home": root / "dagster_home"}


def ensure_sample(root: Path) -> Path:
    """The session's sample raw folder, generated once."""
    raw = paths(root)["raw"]
    with _locked(root / "sample.lock"):
        if not (raw / ".complete").exists():
            from dagster_project.sample import generate

            generate(raw, n_cities=E2E_CITIES, years=E2E_YEARS, seed=E2E_SEED)
            (raw / ".complete").touch()
    return raw


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block and restore them after."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def ensure_build(root: Path) -> Path:
    """The session's warehouse: every asset built on the sample through the CLI's build path, once."""
    from dagster_project.build import run_build

    raw = ensure_sample(root)
    p = paths(root)
    with _locked(root / "build.lock"):
        if not (root / "build.done").exists():
            p["warehouse"].parent.mkdir(parents=True, exist_ok=True)
            p["reports"].mkdir(parents=True, exist_ok=True)
            # The build records into the session's shared instance, which the UI tests open.
            with environment(CARBONPANEL_REPORTS_DIR=str(p["reports"]), DAGSTER_HOME=str(p["dagster_home"])):
                run_build(warehouse=p["warehouse"], raw_dir=raw, quiet=True)
            (root / "build.done").touch()
    return p["warehouse"]


def start_in_background(root: Path, *, log: Path) -> object | None:
    """Start `ensure_build(root)` in a child process unless another process of the session already did."""
    import subprocess

    root.mkdir(parents=True, exist_ok=True)
    marker = root / "build.started"
    with _locked(root / "start.lock"):
        if marker.exists() or (root / "build.done").exists():
            return None
        marker.touch()
    with log.open("w") as fh:
        return subprocess.Popen([sys.executable, __file__, str(root)], stdout=fh, stderr=subprocess.STDOUT,
                                cwd=Path(__file__).resolve().parents[1],
                                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)


def _die_with_parent() -> None:
    """In the child: receive SIGTERM when the test process dies, so an interrupted session leaves no build."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    ensure_build(Path(sys.argv[1]))
    from dagster_project.process import exit_now

    exit_now(0)     # as the CLI does: the interpreter's teardown would cost ~1.2 s of a CPU-bound suite
