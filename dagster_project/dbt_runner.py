"""dbt in a child process of the build, started early so that importing dbt and parsing overlap ingestion.

Before its first node, `dbt build` spends ~2.5 s of one core importing dbt and loading its (partial)
parse. A run that ingests sources and builds dbt models starts the child when ingestion begins
(`prewarm`): it imports dbt and parses the project while the readers work, then waits for its one
command. The dbt step takes it (`take`) and sends the command; the output streams back line by line.
The parse never opens the warehouse, so it does not contend for DuckDB's write lock. The child dies
with the build process (Linux `PR_SET_PDEATHSIG`) and is terminated at the end of a run that never
reached its dbt step (`discard`).

The child runs in the warehouse's folder with the file named relative to it (`dbt_environment`), so that
a new warehouse's first parse can start from the state `make manifest` left (`seed_parse_state`).

This module is also the child's entry point (`python -m dagster_project.dbt_runner`), so it imports
nothing heavy at module level.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagster_project.config import DBT_DIR


def _die_with_parent() -> None:
    """In the dbt child: receive SIGTERM when the build process dies, even when it is killed with SIGKILL."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG


# dbt's partial-parse state, and the copy `make manifest` leaves for warehouses built for the first time.
PARSE_STATE = "partial_parse.msgpack"
PARSE_STATE_TEMPLATE = DBT_DIR / "target" / PARSE_STATE


def dbt_environment(warehouse: Path) -> tuple[Path, dict[str, str]]:
    """The working folder and environment of a dbt process for `warehouse`: the file named relative to its folder.

    dbt keeps its partial-parse state only while the profile is unchanged, and the profile holds the
    database path. Named relative to the working folder, that path is the same for every warehouse file of
    the same name, so the first build of a new warehouse starts from the state `make manifest` parsed
    (`seed_parse_state`) instead of a full parse (~3 s of CPU). DuckDB derives the database name from the
    file name alone, so compiled SQL is unchanged.
    """
    warehouse = warehouse.absolute()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return warehouse.parent, {**os.environ, "CARBONPANEL_WAREHOUSE": warehouse.name, "DBT_USE_COLORS": "false",
                              "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def dbt_paths(target: Path) -> list[str]:
    """dbt's project, profile, target and log arguments (absolute: dbt runs in the warehouse's folder)."""
    return ["--profiles-dir", str(DBT_DIR), "--project-dir", str(DBT_DIR), "--target-path", str(target),
            "--log-path", str(target / "logs")]


def seed_parse_state(target: Path) -> None:
    """Give a target folder without parse state the template's; dbt checks it and reparses whatever changed."""
    state = target / PARSE_STATE
    if state.exists() or not PARSE_STATE_TEMPLATE.exists():
        return
    target.mkdir(parents=True, exist_ok=True)
    tmp = state.with_name(f"{PARSE_STATE}.{os.getpid()}.tmp")
    shutil.copyfile(PARSE_STATE_TEMPLATE, tmp)
    os.replace(tmp, state)


class DbtProcess:
    """One dbt child for one warehouse file and target folder: (optionally) parsed ahead, then one command."""

    def __init__(self, *, warehouse: str, target: Path, parse_ahead: bool) -> None:
        self.warehouse, self.target = warehouse, target
        seed_parse_state(target)
        cwd, env = dbt_environment(Path(warehouse))
        self._proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "dagster_project.dbt_runner", json.dumps(dbt_paths(target)),
             str(int(parse_ahead))],
            cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)

    @property
    def alive(self) -> bool:
        """Whether the child process is still running (waiting for its command or running it)."""
        return self._proc.poll() is None

    def run(self, command: list[str], *, on_line: Callable[[str], None]) -> tuple[int, list[str]]:
        """Run `command` (e.g. ["build", "--select", ...]), passing each output line to `on_line`; code and lines."""
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        lines = []
        try:
            proc.stdin.write(json.dumps(command) + "\n")
            proc.stdin.close()
            for line in proc.stdout:
                line = line.rstrip()
                lines.append(line)
                on_line(line)
            return proc.wait(), lines
        finally:
            # A cancelled or failed step must not leave dbt writing on (the warehouse would change after the run).
            self.close()

    def close(self) -> None:
        """End the child: a child still waiting for its command, or still running it, is terminated."""
        proc = self._proc
        if proc.poll() is None:
            # Killing a parse in progress is safe: a torn partial-parse file only makes dbt's next parse a full one.
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


# The child started ahead for each run in progress (a process runs one build at a time, but a test
# process or a UI run worker may see several runs one after another).
_AHEAD: dict[str, DbtProcess] = {}


def prewarm(run_id: str, *, warehouse: str, target: Path) -> None:
    """Start this run's dbt child now, so it imports dbt and parses while the build does other work."""
    if run_id not in _AHEAD:
        for other in [r for r in _AHEAD if r != run_id]:
            _AHEAD.pop(other).close()
        _AHEAD[run_id] = DbtProcess(warehouse=warehouse, target=target, parse_ahead=True)


def take(run_id: str, *, warehouse: str, target: Path) -> DbtProcess:
    """The run's prewarmed child if it was started for this warehouse and target, else a new one."""
    ahead = _AHEAD.pop(run_id, None)
    if ahead is not None and (ahead.warehouse, ahead.target) == (warehouse, target) and ahead.alive:
        return ahead
    if ahead is not None:
        ahead.close()
    return DbtProcess(warehouse=warehouse, target=target, parse_ahead=False)


def discard(run_id: str) -> None:
    """End a run's prewarmed child that no dbt step took (the run failed earlier or selected no dbt step)."""
    ahead = _AHEAD.pop(run_id, None)
    if ahead is not None:
        ahead.close()


def _child(common: list[str], *, parse_ahead: bool) -> int:
    """In the child: import dbt, parse if asked, wait for one command on stdin, run it, return its exit code."""
    from dbt.cli.main import dbtRunner

    manifest = None
    if parse_ahead:
        # Quiet: a parse error is printed again, located, by the command's own parse below.
        parsed = dbtRunner().invoke(["parse", "--quiet", *common])
        manifest = parsed.result if parsed.success else None
    line = sys.stdin.readline()
    if not line.strip():
        return 0                 # the run ended before its dbt step
    result = dbtRunner(manifest=manifest).invoke([*json.loads(line), *common])
    if result.exception is not None:
        print(f"dbt failed: {type(result.exception).__name__}: {result.exception}", flush=True)
    return exit_code(result)


def exit_code(result: Any) -> int:
    """The exit code the `dbt` executable gives for a `dbtRunner` result: 0 success, 1 a node failed, 2 dbt failed."""
    return 0 if result.success else 2 if result.exception is not None else 1


def _warehouse_closed() -> bool:
    """Close dbt-duckdb's database handle, which outlives `invoke`; whether no write-ahead log is left.

    The build renames the file it publishes, and a log left beside it would not travel with it: the
    handle must be closed (its log checkpointed into the file) before this process may skip its teardown.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()   # drops the last reference: the handle closes
    return not Path(os.environ["CARBONPANEL_WAREHOUSE"] + ".wal").exists()


if __name__ == "__main__":
    code = _child(json.loads(sys.argv[1]), parse_ahead=sys.argv[2] == "1")
    if _warehouse_closed():
        from dagster_project.process import exit_now

        # The dbt step waits for this process to end: skipping the teardown of dbt's interpreter saves ~0.4 s.
        exit_now(code)
    sys.exit(code)       # a handle still open somewhere: the interpreter's teardown closes it
