"""Run several source readers at once in worker processes, so a cold build's ingestion uses every core.

Readers are pure functions of a folder (`"<module>:<function>"`, see `assets.ingest.IngestSpec`) and
spend their time parsing Excel, CSV and rasters in Python, one core each. A build that ingests several
sources submits them all to a `ReaderPool` when the first ingestion asset starts; each asset then takes
its reader's result instead of parsing in the build process, which meanwhile writes tables and runs
checks. A reader's error (file, sheet, row, column) reaches the asset as the reader raised it, with the
worker's traceback as its cause; if a worker dies, the reader runs again in the build process.
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
    from dagster_project.sources.common import LoadResult


def read_source(reader: str, folder: str | Path) -> LoadResult:
    """Import `<module>:<function>` and parse `folder` with it."""
    module, name = reader.split(":")
    return getattr(importlib.import_module(module), name)(Path(folder))


def _folder_bytes(folder: Path) -> int:
    """Total size of the files under a folder (0 if it does not exist): the order work is handed out in."""
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class ReaderPool:
    """Readers submitted together, largest folder first, to at most one worker per core."""

    def __init__(self, jobs: dict[str, tuple[str, Path]], *, workers: int | None = None) -> None:
        order = sorted(jobs, key=lambda name: -_folder_bytes(jobs[name][1]))
        n = max(1, min(len(order), workers or os.cpu_count() or 1))
        # Spawned, not forked: the build process holds Dagster's and DuckDB's threads.
        self._pool = ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn"))
        self._futures: dict[str, Future[LoadResult]] = {
            name: self._pool.submit(read_source, *jobs[name]) for name in order}

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
