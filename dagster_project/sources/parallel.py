"""Run several source readers at once in worker processes, so a cold build's ingestion uses every core.

Readers are pure functions of a folder (`"<module>:<function>"`, see `assets.ingest.IngestSpec`) and
spend their time parsing Excel, CSV and rasters, one core each. A build that ingests several sources
submits them all to a `ReaderPool` when the first ingestion asset starts, in the order its steps will
take them; each asset then takes its reader's result instead of parsing in the build process, which
meanwhile writes the tables of the sources already read and runs their checks. A reader's error (file,
sheet, row, column) reaches the asset as the reader raised it, with the worker's traceback kept on it;
if a worker dies, the reader runs again in the build process.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from dagster_project.sources.common import LoadResult


def read_source(reader: str, folder: str | Path) -> LoadResult:
    """Import `<module>:<function>` and parse `folder` with it."""
    module, name = reader.split(":")
    return getattr(importlib.import_module(module), name)(Path(folder))


def read_for_pool(reader: str, folder: str | Path) -> LoadResult:
    """`read_source` in a worker, its table's text columns dictionary-encoded for the trip back.

    Arrow-backed text pickles value by value: the provincial inventories (600,000 rows, ten text columns
    of a few hundred distinct values) crossed the pipe as 162 MB. As pandas categoricals they cross as
    codes; `warehouse.replace_raw_table` writes them back as VARCHAR, so the table is the same.
    """
    result = read_source(reader, folder)
    result.table = dictionary_encoded(result.table)
    return result


def dictionary_encoded(frame: pd.DataFrame, *, min_rows: int = 10_000) -> pd.DataFrame:
    """`frame` with its text columns as categoricals where that pays (fewer distinct values than half the rows)."""
    if len(frame) < min_rows:
        return frame
    out = frame.copy(deep=False)
    for name in frame.columns:
        if frame[name].dtype == "string":        # the readers' text columns (pandas' Arrow-backed strings)
            encoded = frame[name].astype("category")
            if len(encoded.cat.categories) * 2 < len(frame):
                out[name] = encoded
    return out


class ReaderPool:
    """Readers handed to at most one worker per core, in the order given (the order the run takes them)."""

    def __init__(self, jobs: dict[str, tuple[str, Path]], *, workers: int | None = None) -> None:
        n = max(1, min(len(jobs), workers or os.cpu_count() or 1))
        # Spawned, not forked: the build process holds Dagster's and DuckDB's threads.
        self._pool = ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn"))
        self._futures: dict[str, Future[LoadResult]] = {
            name: self._pool.submit(read_for_pool, *job) for name, job in jobs.items()}

    def __contains__(self, name: str) -> bool:
        """Whether `name`'s reader was submitted and not taken yet."""
        return name in self._futures

    def take(self, name: str, read_here: Callable[[], LoadResult]) -> LoadResult:
        """The worker's result for `name` (or its reader's error); `read_here()` if the worker died."""
        future = self._futures.pop(name)
        try:
            error = future.exception()
            if isinstance(error, BrokenProcessPool):
                # A worker died (killed, out of memory) or sent back what cannot be unpickled: read here.
                return read_here()
            if error is not None:
                # The reader's own error (file, sheet, row, column; the source errors pickle with their
                # arguments), raised as if read here. The worker's traceback is kept on the error, not as
                # its cause, which the build summary would print (40 lines) instead of the reader's message.
                error.worker_traceback, error.__cause__ = str(error.__cause__ or ""), None
                raise error
            return future.result()
        finally:
            if not self._futures:
                self.close()

    def close(self) -> None:
        """Stop the workers (pending reads are cancelled)."""
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
