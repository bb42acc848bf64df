"""Dagster resources: the DuckDB warehouse, published all-or-nothing by every run that writes it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import PrivateAttr

from dagster_project import dbt_runner
from dagster_project.config import settings
from dagster_project.event_store import tune_run_history
from dagster_project.warehouse import Publication, connect

if TYPE_CHECKING:
    import duckdb


def run_outcome(instance: dg.DagsterInstance, run_id: str) -> tuple[bool, list[str], dict[str, str | None]]:
    """Whether a run may publish (no failed step, no failed blocking check, not cancelled), its failures,
    and the assets it brought up to date (`key -> input digest`)."""
    from dagster import DagsterEventType as T

    from dagster_project.versions import INPUT_DIGEST, INPUTS_UNCHANGED

    failures: list[str] = []
    current: dict[str, str | None] = {}
    for entry in instance.all_logs(run_id, of_type={T.STEP_FAILURE, T.ASSET_CHECK_EVALUATION, T.RUN_CANCELING,
                                                    T.ASSET_MATERIALIZATION, T.ASSET_OBSERVATION}):
        ev = entry.dagster_event
        if ev is None:
            continue
        if ev.event_type in (T.STEP_FAILURE, T.RUN_CANCELING):
            failures.append(f"{ev.step_key or 'run'}: {ev.event_type_value}")
        elif ev.event_type == T.ASSET_CHECK_EVALUATION:
            data = ev.event_specific_data
            if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                failures.append(f"check {data.asset_key.to_user_string()}:{data.check_name} failed")
        else:
            event = entry.asset_materialization or entry.asset_observation
            if event is None:
                continue
            meta = event.metadata or {}
            if ev.event_type == T.ASSET_OBSERVATION and INPUTS_UNCHANGED not in meta:
                continue
            digest = meta.get(INPUT_DIGEST)
            current[event.asset_key.to_user_string()] = getattr(digest, "value", digest)
    if not failures:
        # A selected asset with neither event was skipped by Dagster because the optional outputs it depends
        # on were not produced (its inputs were found unchanged upstream): it is up to date as it stands.
        for entry in instance.all_logs(run_id, of_type=T.ASSET_MATERIALIZATION_PLANNED):
            planned = entry.dagster_event.asset_key if entry.dagster_event is not None else None
            if planned is not None:
                current.setdefault(planned.to_user_string(), None)
    return not failures, failures, current


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file. Within a run, assets write a run-private staging copy (`active_path`);
    the copy is published when the run ends without a failed step or blocking check, else discarded."""

    path: str
    raw_dir: str
    lock_wait_s: float = 0.0

    _publication: Publication | None = PrivateAttr(default=None)
    _db: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Take the warehouse lock and start this run's staging copy (refused if another run holds it)."""
        tune_run_history()   # UI, schedule and sensor runs write their event history as the CLI does
        if context.run_id and context.instance is not None:
            self._publication = Publication(Path(self.path), run_id=context.run_id, wait_s=self.lock_wait_s)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Record what this run brought up to date, then publish the staging copy or discard it."""
        pub = self._publication
        if pub is None:
            return
        self.release()
        self._publication = None
        ok = False
        try:
            assert context.instance is not None and context.run_id is not None
            ok, failures, current = run_outcome(context.instance, context.run_id)
            if ok and current and pub.staging.exists():
                _record(pub.staging, Path(self.raw_dir), current, run_id=context.run_id)
            if context.log is not None:
                context.log.info("publishing the warehouse" if ok else
                                 f"not publishing: {'; '.join(failures[:5])}; the previous warehouse is unchanged")
        finally:
            dbt_runner.discard(context.run_id or "")   # a dbt child started ahead that no step took
            pub.finish(success=ok)

    @property
    def active_path(self) -> str:
        """The file this run writes: its staging copy inside a run, the published file otherwise."""
        return str(self._publication.staging) if self._publication is not None else self.path

    @contextlib.contextmanager
    def connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the file this run writes, always closed after the block.

        Within a run, every step's connections are cursors on one database handle: opening the file (its
        catalog of ~150 tables and views) and checkpointing it on close cost ~30 ms, ~110 times in a full
        build. A cursor asked for read-only may write; the run's own assets are its only users. Outside a
        run (tests, tools), each call opens and closes the file itself, read-only when asked.
        """
        if self._publication is None:
            conn = connect(Path(self.active_path), read_only=read_only)
        else:
            if self._db is None:
                self._db = connect(Path(self.active_path))
            conn = self._db.cursor()
        try:
            yield conn
        finally:
            conn.close()

    def release(self) -> None:
        """Close the run's database handle, so that dbt's process can open the file (the next connection reopens it)."""
        if self._db is not None:
            self._db.close()      # checkpoints the run's writes into the file
            self._db = None


def _record(staging: Path, raw_dir: Path, current: dict[str, str | None], *, run_id: str) -> None:
    """Write the fingerprints of the assets this run materialized (or found unchanged) into the staging file."""
    import duckdb  # imported when used: loading the definitions stays light

    from dagster_project.definitions import defs
    from dagster_project.versions import fingerprints, read_state, record_state

    conn = duckdb.connect(str(staging))
    try:
        stored = read_state(staging, conn=conn)
        built = {dg.AssetKey.from_user_string(k) for k in current}
        fps = fingerprints(defs.resolve_asset_graph(), raw_dir, built=built, stored=stored)
        rows = [(k, fps[key], d if d is not None else stored.get(k, ("", None))[1])
                for k, d in current.items() if (key := dg.AssetKey.from_user_string(k)) in fps]
        record_state(conn, rows, run_id=run_id)
    finally:
        conn.close()


def make_resources(warehouse: Path | None = None, raw_dir: Path | None = None, *,
                   lock_wait_s: float = 0.0) -> dict[str, object]:
    """Build the resource dict for the given (or configured) warehouse and raw folder."""
    s = settings()
    return {"warehouse": Warehouse(path=str(warehouse or s.warehouse), raw_dir=str(raw_dir or s.raw_dir),
                                   lock_wait_s=lock_wait_s)}
