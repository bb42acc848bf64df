"""A private warehouse path for tests that change a copy of the session build and run dbt or a build on it.

dbt keeps its partial-parse state in the target folder and throws it away when the profile changes; the
profile's hash includes the DuckDB path. A fresh `tmp_path` per test therefore made every dbt call (and
every build) parse the whole project again: about 6 s of CPU instead of 3 s for a small `dbt run`.
Tests of one xdist worker run one at a time, so they can take turns on one warehouse path per worker:
before each test everything in the folder is removed except dbt's `partial_parse.msgpack`, which dbt
validates itself (file hashes, profile, vars) exactly as in a user's repeated builds of one warehouse.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import subprocess
from pathlib import Path

from session_warehouse import environment

from dagster_project.dbt_runner import PARSE_STATE, dbt_paths, exit_code


class ScratchWarehouse:
    """One warehouse path (`<folder>/panel.duckdb`) reused by the tests of one worker, one test at a time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "panel.duckdb"   # the basename `panel` is the database name in compiled SQL

    def fresh(self, *, copy_of: Path | None = None) -> Path:
        """Empty the folder but for dbt's partial-parse files, copy `copy_of` in if given, and return the path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for entry in self.folder.iterdir():
            if entry.is_dir() and entry.name.startswith(".") and (entry / PARSE_STATE).exists():
                # A dbt target folder (the build's `.panel.duckdb.dbt`, or `dbt()`'s below): keep only its state.
                for inner in entry.iterdir():
                    if inner.name != PARSE_STATE:
                        shutil.rmtree(inner) if inner.is_dir() else inner.unlink()
            elif entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        if copy_of is not None:
            shutil.copy2(copy_of, self.path)
        return self.path

    def move_to(self, folder: Path) -> Path:
        """Move the warehouse file out (for a module fixture that keeps reading it while other tests take turns)."""
        folder.mkdir(parents=True, exist_ok=True)
        return Path(shutil.move(self.path, folder / self.path.name))

    def target(self, vars_: str = "") -> Path:
        """The target folder of `dbt()` calls with these `--vars`: changed vars also invalidate the
        partial-parse state, so each value keeps its own."""
        return self.folder / f".dbt-{hashlib.sha1(vars_.encode()).hexdigest()[:8]}"

    def dbt(self, *args: str) -> subprocess.CompletedProcess:
        """Run dbt on the warehouse, in this process: its output captured as text, its exit code as the CLI's.

        In-process (`dbtRunner`) rather than the `dbt` executable: a new interpreter per call spent ~1.7 s
        of CPU importing dbt and ~0.4 s tearing it down, on a suite that is CPU-bound.
        """
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
        from dbt.cli.main import dbtRunner

        target = self.target(args[args.index("--vars") + 1] if "--vars" in args else "")
        command = [*args, *dbt_paths(target)]
        out = io.StringIO()
        with environment(CARBONPANEL_WAREHOUSE=str(self.path), DBT_USE_COLORS="false"), \
                contextlib.redirect_stdout(out):
            result = dbtRunner().invoke(command)
        # dbt-duckdb keeps its database open after `invoke`: closed here, so the test can open the file.
        DuckDBConnectionManager.close_all_connections()
        code = exit_code(result)
        text = out.getvalue() + (f"\n{type(result.exception).__name__}: {result.exception}"
                                 if result.exception is not None else "")
        return subprocess.CompletedProcess(["dbt", *command], code, text, "")

