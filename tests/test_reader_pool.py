"""Readers run in worker processes (`sources.parallel.ReaderPool`) give what they give in the build process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from dagster_project.assets.ingest import SPECS
from dagster_project.sources.common import SourceFormatError
from dagster_project.sources.parallel import ReaderPool

BY_TABLE = {s.table: s for s in SPECS}


def test_pool_results_equal_reading_in_process(sample_dir: Path) -> None:
    """Tables, rejected rows and file lists read in workers are identical to reading in this process."""
    names = ["ifr_robots", "transport_energy_intensity", "ceads_city_emissions"]
    pool = ReaderPool({n: (BY_TABLE[n].reader, sample_dir / BY_TABLE[n].subdir) for n in names}, workers=2)
    for name in names:
        spec = BY_TABLE[name]
        got = pool.take(name, lambda spec=spec: pytest.fail(f"{spec.table}: the worker failed"))
        want = spec.read(sample_dir / spec.subdir)
        pd.testing.assert_frame_equal(got.table, want.table)
        pd.testing.assert_frame_equal(got.rejected, want.rejected)
        assert got.files == want.files


def test_a_reader_failing_in_a_worker_raises_its_located_error_here(sample_dir: Path, tmp_path: Path) -> None:
    """A malformed file fails in the worker; the error the build sees is the reader's own (file, row, column)."""
    broken = tmp_path / "ifr"
    shutil.copytree(sample_dir / "ifr", broken)
    for book in broken.glob("*.xlsx"):
        book.write_bytes(b"not a workbook")
    spec = BY_TABLE["ifr_robots"]
    pool = ReaderPool({"ifr_robots": (spec.reader, broken),
                       "transport": (BY_TABLE["transport_energy_intensity"].reader, sample_dir / "transport")})
    with pytest.raises(SourceFormatError) as err:
        pool.take("ifr_robots", lambda: spec.read(broken))
    assert str(broken) in str(err.value)
    pool.close()


def test_a_build_of_several_sources_reads_them_in_the_pool(sample_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's build (a job made for the selection) hands every selected reader to the pool, and only those."""
    from dagster_project.build import run_build

    taken: list[str] = []
    real_take = ReaderPool.take

    def take(self: ReaderPool, name: str, read_here: object) -> object:
        taken.append(name)
        return real_take(self, name, read_here)

    monkeypatch.setattr(ReaderPool, "take", take)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    run_build(select="key:raw/ifr_robots or key:raw/transport_energy_intensity", warehouse=tmp_path / "wh.duckdb",
              raw_dir=sample_dir, quiet=True)
    assert sorted(taken) == ["ifr_robots", "transport_energy_intensity"]
