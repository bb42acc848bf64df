"""Writing into the DuckDB warehouse safely: one transaction per asset, and whole-run file swaps.

Two guarantees from the design card:
- an ingestion asset replaces its raw table and its rows in `raw.rejected_rows` in ONE transaction,
  so a failed asset leaves both as they were and a rerun is idempotent;
- every run, whatever starts it (CLI, UI, schedule, sensor), works on a copy of the warehouse and swaps
  it in only when every asset and blocking check succeeded (`Publication`, driven by the `Warehouse`
  resource), so readers never see a half-updated file and a failed run leaves the previous one intact.
  One run at a time holds the warehouse's lock file; a second is refused (or waits) with a clear message.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

REJECTED_DDL = """
create table if not exists raw.rejected_rows (
    source varchar, file varchar, sheet varchar, "row" bigint, "column" varchar, value varchar,
    reason varchar, asset varchar, loaded_at timestamp default current_timestamp
)"""
SOURCE_FILES_DDL = """
create table if not exists raw.source_files (
    asset varchar, file varchar, bytes bigint, sha256 varchar, loaded_at timestamp default current_timestamp
)"""


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (creating its folder when writing)."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    import duckdb  # imported when used: loading the definitions stays light

    return duckdb.connect(str(path), read_only=read_only)


def table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists (readers of the warehouse use it to skip what a build has not made yet)."""
    return bool(conn.execute("select count(*) from information_schema.tables where table_schema = ? "
                             "and table_name = ?", [schema, table]).fetchone()[0])


@contextlib.contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Commit what the block wrote, or roll all of it back if the block raised (the error propagates)."""
    conn.execute("begin transaction")
    committed = False
    try:
        yield
        conn.execute("commit")
        committed = True
    finally:
        if not committed:
            conn.execute("rollback")


def replace_raw_table(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    df: pd.DataFrame,
    *,
    asset: str,
    rejected: pd.DataFrame | None = None,
    files: list[tuple[str, int, str]] | None = None,
) -> None:
    """Atomically replace `raw.<table>` and this asset's rejected rows and file manifest."""
    import pandas as pd

    from dagster_project.sources.common import REJECTED_COLUMNS

    rej = rejected if rejected is not None else pd.DataFrame(columns=REJECTED_COLUMNS)
    rej = rej[REJECTED_COLUMNS].assign(asset=asset)
    manifest = pd.DataFrame(files or [], columns=["file", "bytes", "sha256"]).assign(asset=asset)
    with transaction(conn):
        conn.execute("create schema if not exists raw")
        conn.execute(REJECTED_DDL)
        conn.execute(SOURCE_FILES_DDL)
        conn.register("_new_table", df)
        # Categorical columns (text dictionary-encoded by the reader pool) are stored as text, not as ENUMs.
        columns = ", ".join(f'cast("{c}" as varchar) as "{c}"' if isinstance(df[c].dtype, pd.CategoricalDtype)
                            else f'"{c}"' for c in df.columns)
        conn.execute(f"create or replace table raw.{table} as select {columns} from _new_table")
        conn.unregister("_new_table")
        conn.execute("delete from raw.rejected_rows where asset = ?", [asset])
        if len(rej):
            conn.register("_rej", rej)
            conn.execute(
                'insert into raw.rejected_rows (source, file, sheet, "row", "column", value, reason, asset) '
                'select source, file, sheet, "row", "column", value, reason, asset from _rej'
            )
            conn.unregister("_rej")
        conn.execute("delete from raw.source_files where asset = ?", [asset])
        if len(manifest):
            conn.register("_files", manifest)
            conn.execute("insert into raw.source_files (asset, file, bytes, sha256) "
                         "select asset, file, bytes, sha256 from _files")
            conn.unregister("_files")


class WarehouseBusyError(RuntimeError):
    """Another run holds the warehouse's lock."""


class WarehouseNotWritableError(RuntimeError):
    """The warehouse folder cannot be written (permissions, read-only mount)."""


def _lock_path(target: Path) -> Path:
    """The lock file beside the warehouse (flock: released by the kernel when its process dies)."""
    return target.with_name(target.name + ".lock")


def check_writable(target: Path) -> None:
    """Fail with the folder, the user and what to do when the warehouse cannot be written."""
    folder = target.parent
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise WarehouseNotWritableError(
            f"cannot write the warehouse {target}: {probe} is not writable by uid {os.getuid()}. "
            "Fix the folder's permissions or set CARBONPANEL_WAREHOUSE to a writable path.")


def lock_holder(target: Path) -> dict[str, object] | None:
    """Who holds the warehouse lock (pid, run id, start time), or None when it is free."""
    lock = _lock_path(target)
    if not lock.exists():
        return None
    with lock.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            try:
                return json.loads(fh.read() or "{}")
            except json.JSONDecodeError:
                return {}
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def clear_leftovers(target: Path) -> list[Path]:
    """Delete staging files of killed runs, if no run holds the lock (else they belong to a live run)."""
    lock = _lock_path(target)
    if not target.parent.is_dir():
        return []
    removed = []
    with lock.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []
        try:
            for leftover in target.parent.glob(target.name + ".run-*"):
                leftover.unlink(missing_ok=True)
                removed.append(leftover)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return removed


def busy_message(target: Path, holder: dict[str, object]) -> str:
    """The message a second run gets while another one is building the same warehouse."""
    since = holder.get("started")
    when = time.strftime("%H:%M:%S", time.localtime(float(since))) if isinstance(since, (int, float)) else "?"
    return (f"warehouse {target} is being built by another run (run {holder.get('run_id', '?')}, "
            f"pid {holder.get('pid', '?')}, started {when}); wait for it to finish, or build into another "
            "file with CARBONPANEL_WAREHOUSE. The published warehouse stays readable meanwhile.")


def staging_path(target: Path) -> Path:
    """The file a run builds before publishing it as `target`.

    One fixed name per warehouse (the lock makes it private to the run holding it): dbt hashes the database
    path into its partial-parse state, and a per-run name would make every build re-parse the project.
    """
    return target.with_name(f"{target.name}.run-building")


class Publication:
    """One run's staging copy of the warehouse, its lock, and the all-or-nothing swap at the end."""

    def __init__(self, target: Path, *, run_id: str, wait_s: float = 0.0) -> None:
        """Take the lock (waiting up to `wait_s`) and copy the published file to a run-private staging file."""
        self.target = target
        check_writable(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._fh = _lock_path(target).open("a+")
        except OSError as exc:   # a read-only mount, or permissions that os.access did not predict
            raise WarehouseNotWritableError(
                f"cannot write the warehouse {target}: {exc.strerror} ({exc.filename}). "
                "Set CARBONPANEL_WAREHOUSE to a writable path.") from None
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._fh.seek(0)
                    try:
                        holder = json.loads(self._fh.read() or "{}")
                    except json.JSONDecodeError:
                        holder = {}
                    self._fh.close()
                    raise WarehouseBusyError(busy_message(target, holder)) from None
                time.sleep(0.5)
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(json.dumps({"pid": os.getpid(), "run_id": run_id, "started": time.time()}))
        self._fh.flush()
        # Staging files of killed runs: nobody else can hold the lock, so they are leftovers.
        for leftover in target.parent.glob(target.name + ".run-*"):
            leftover.unlink(missing_ok=True)
        self.staging = staging_path(target)
        if target.exists():
            shutil.copyfile(target, self.staging)

    def _discard(self) -> None:
        """Delete the staging file and its WAL."""
        self.staging.unlink(missing_ok=True)
        self.staging.with_name(self.staging.name + ".wal").unlink(missing_ok=True)

    def finish(self, *, success: bool) -> bool:
        """Swap the staging file in (compacted) on success, discard it otherwise; always release the lock."""
        try:
            if not success or not self.staging.exists():
                self._discard()
                return False
            if self.staging.with_name(self.staging.name + ".wal").exists():
                self._discard()
                raise RuntimeError(f"{self.staging} still has a write-ahead log; a connection was left open")
            compact(self.staging)
            os.replace(self.staging, self.target)
            return True
        finally:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


def compact(path: Path, *, max_free_share: float = 0.2) -> None:
    """Rewrite the file when freed blocks exceed `max_free_share`, so it does not grow across rebuilds.

    DuckDB reuses freed blocks but never returns them; replacing every table on each build leaves the
    file larger each time (57 MB -> 93 MB). Copying the database into a fresh file keeps only live data.
    """
    import duckdb  # imported when used: loading the definitions stays light

    conn = duckdb.connect(str(path))
    try:
        total, free = conn.execute("select total_blocks, free_blocks from pragma_database_size()").fetchone()
        if not total or free / total <= max_free_share:
            return
        fresh = path.with_name(path.name + ".compact")
        fresh.unlink(missing_ok=True)
        db = conn.execute("select current_database()").fetchone()[0]
        conn.execute(f"attach '{fresh}' as compacted")
        conn.execute(f'copy from database "{db}" to compacted')
        conn.execute("detach compacted")
    finally:
        conn.close()
    os.replace(fresh, path)
