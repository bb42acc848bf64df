"""Readers run in worker processes (`sources.parallel.ReaderPool`) give what they give in the build process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from dagster_project.assets.ingest import SPECS
from dagster_project.sources.common import SourceFormatError
from dagster_project.sources.parallel import ReaderPool

BY_TABLE = {s.table: s for s in SPECS}


def test_pool_results_equal_reading_in_process(sample_dir: Path) -> None:
    """Tables, rejected rows and file lists read in workers are identical to reading in this process, the
    text columns of large tables dictionary-encoded for the trip (ceads_county_emissions: 41,000 rows)."""
    names = ["ifr_robots", "transport_energy_intensity", "ceads_city_emissions", "ceads_county_emissions"]
    pool = ReaderPool({n: (BY_TABLE[n].reader, sample_dir / BY_TABLE[n].subdir) for n in names}, workers=2)
    for name in names:
        spec = BY_TABLE[name]
        got = pool.take(name, lambda spec=spec: pytest.fail(f"{spec.table}: the worker failed"))
        want = spec.read(sample_dir / spec.subdir)
        encoded = [c for c in got.table.columns if isinstance(got.table[c].dtype, pd.CategoricalDtype)]
        assert bool(encoded) == (name == "ceads_county_emissions"), encoded
        pd.testing.assert_frame_equal(got.table.astype({c: "string" for c in encoded}), want.table)
        pd.testing.assert_frame_equal(got.rejected, want.rejected)
        assert got.files == want.files


def test_dictionary_encoded_tables_are_written_as_the_text_they_encode() -> None:
    """A raw table written from a dictionary-encoded frame has the same column types and rows (nulls
    included) as one written from the reader's frame; a column of mostly distinct values stays text."""
    import duckdb

    from dagster_project.sources.parallel import dictionary_encoded
    from dagster_project.warehouse import replace_raw_table

    n = 20_000
    frame = pd.DataFrame({"sheet": pd.array([None if i % 7 == 0 else f"省{i % 30}" for i in range(n)], dtype="string"),
                          "cell": pd.array([f"B{i}" for i in range(n)], dtype="string"),
                          "value": [i / 3 for i in range(n)]})
    encoded = dictionary_encoded(frame)
    assert isinstance(encoded["sheet"].dtype, pd.CategoricalDtype) and encoded["cell"].dtype == "string"
    conn = duckdb.connect()
    replace_raw_table(conn, "direct", frame, asset="direct")
    replace_raw_table(conn, "encoded", encoded, asset="encoded")
    types = ("select column_name, data_type from information_schema.columns where table_name = ? "
             "order by ordinal_position")
    assert conn.execute(types, ["direct"]).fetchall() == conn.execute(types, ["encoded"]).fetchall()
    for a, b in (("direct", "encoded"), ("encoded", "direct")):
        assert conn.execute(f"select count(*) from (select * from raw.{a} except all select * from raw.{b})"
                            ).fetchone()[0] == 0
    assert conn.execute("select count(*) from raw.encoded where sheet is null").fetchone()[0] == len(range(0, n, 7))


def test_a_reader_failing_in_a_worker_raises_its_located_error(sample_dir: Path, tmp_path: Path) -> None:
    """A malformed file fails in the worker; the build sees the reader's own error, its location intact."""
    broken = tmp_path / "ifr"
    shutil.copytree(sample_dir / "ifr", broken)
    for book in broken.glob("*.xlsx"):
        book.write_bytes(b"not a workbook")
    spec = BY_TABLE["ifr_robots"]
    with pytest.raises(SourceFormatError) as here:
        spec.read(broken)
    pool = ReaderPool({"ifr_robots": (spec.reader, broken),
                       "transport": (BY_TABLE["transport_energy_intensity"].reader, sample_dir / "transport")})
    with pytest.raises(SourceFormatError) as there:
        pool.take("ifr_robots", lambda: pytest.fail("the reader's error must not be taken for a dead worker"))
    located = {k: v for k, v in vars(there.value).items() if k != "worker_traceback"}
    assert str(there.value) == str(here.value) and located == vars(here.value)
    assert there.value.__cause__ is None and "Traceback" in there.value.worker_traceback
    pool.close()


def die(folder: Path) -> None:
    """A 'reader' whose worker process dies (as one killed for memory would)."""
    os._exit(1)


def test_a_dead_worker_falls_back_to_reading_here(sample_dir: Path) -> None:
    """When the worker process dies, the source is read in this process instead."""
    spec = BY_TABLE["transport_energy_intensity"]
    pool = ReaderPool({"transport": (f"{__name__}:die", sample_dir / "transport")}, workers=1)
    got = pool.take("transport", lambda: spec.read(sample_dir / "transport"))
    pd.testing.assert_frame_equal(got.table, spec.read(sample_dir / "transport").table)


def test_a_build_of_several_sources_reads_them_in_the_pool(sample_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's build (a job made for the selection) hands every selected reader to the pool, and only those;
    its dbt step runs on the child started once the first source was written (parsed meanwhile)."""
    from dagster_project import dbt_runner
    from dagster_project.build import run_build

    taken: list[str] = []
    real_take = ReaderPool.take

    def take(self: ReaderPool, name: str, read_here: object) -> object:
        taken.append(name)
        return real_take(self, name, read_here)

    started: list[object] = []
    used: list[object] = []
    real_prewarm, real_dbt_take = dbt_runner.prewarm, dbt_runner.take

    def prewarm(run_id: str, **kwargs: object) -> None:
        real_prewarm(run_id, **kwargs)
        started.append(dbt_runner._AHEAD[run_id])

    def dbt_take(run_id: str, **kwargs: object) -> dbt_runner.DbtProcess:
        used.append(real_dbt_take(run_id, **kwargs))
        return used[-1]

    monkeypatch.setattr(ReaderPool, "take", take)
    monkeypatch.setattr(dbt_runner, "prewarm", prewarm)
    monkeypatch.setattr(dbt_runner, "take", dbt_take)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    run_build(select="key:raw/ifr_robots or key:raw/transport_energy_intensity or key:staging/stg_ifr__robots",
              warehouse=tmp_path / "wh.duckdb", raw_dir=sample_dir, quiet=True)
    assert len(started) == 1 and used == started
    assert sorted(taken) == ["ifr_robots", "transport_energy_intensity"]
