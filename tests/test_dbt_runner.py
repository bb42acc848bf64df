"""The dbt child started ahead of the dbt step: it parses while the build ingests, then runs one command."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import pytest

from dagster_project import dbt_runner
from dagster_project.project import dbt_target_path
from dagster_project.warehouse import staging_path


def _invocations(target: Path) -> list[str]:
    """dbt's debug log of a target folder, one string per invocation (dbt prints a header line for each)."""
    text = (target / "logs" / "dbt.log").read_text(encoding="utf-8")
    return re.split(r"^=+ \d\d:\d\d:\d\d\.\d+ \| [0-9a-f-]+ =+$", text, flags=re.M)[1:]


@pytest.fixture(scope="module")
def dbt_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One warehouse path and target folder for the module, so the second test's parse is a partial one."""
    folder = tmp_path_factory.mktemp("dbt_runner")
    # The file a build's dbt step writes (the run's staging copy of panel.duckdb): its first parse starts
    # from the state `make manifest` left (dbt_runner.seed_parse_state), as a new warehouse's first build does.
    wh = staging_path(folder / "panel.duckdb")
    return wh, dbt_target_path(folder / "panel.duckdb")


def test_prewarmed_child_parses_ahead_and_builds_without_parsing_again(dbt_home: tuple[Path, Path]) -> None:
    """A new warehouse's first parse is a partial one (from the parse state `make manifest` left), and the
    prewarmed child's `build` uses the manifest it parsed while waiting: its own invocation logs no
    parse at all (a fresh `dbt build` logs "Unable to do partial parsing" or "Partial parsing enabled"),
    and the seed it was asked for is in the warehouse, with no write-ahead log left beside it (the child
    ends without the interpreter's teardown, after closing dbt-duckdb's handle)."""
    wh, target = dbt_home
    dbt_runner.prewarm("run-a", warehouse=str(wh), target=target)
    time.sleep(0.5)                      # the build process would be ingesting meanwhile
    dbt = dbt_runner.take("run-a", warehouse=str(wh), target=target)
    lines: list[str] = []
    code, out = dbt.run(["build", "--select", "ceads_fuels"], on_line=lines.append)
    assert code == 0, "\n".join(out[-20:])
    assert lines == out and any("Completed successfully" in line for line in out)
    parse, build = _invocations(target)[-2:]
    # A new warehouse's first parse starts from the state `make manifest` parsed, not from scratch.
    assert "partial parsing enabled" in parse.lower() and "full parse" not in parse.lower()
    assert "partial parsing" not in build.lower() and "full parse" not in build.lower()
    assert "Running with dbt" in build
    assert not Path(f"{wh}.wal").exists()
    conn = duckdb.connect(str(wh), read_only=True)
    try:
        assert conn.execute("select count(*) from ref.ceads_fuels").fetchone()[0] > 0
    finally:
        conn.close()


def test_unused_or_mismatched_children_end_and_failures_keep_dbt_exit_code(dbt_home: tuple[Path, Path]) -> None:
    """A prewarmed child no step takes ends when the run ends; one started for another warehouse is not
    used (a new child parses for the right one); a failing model gives dbt's exit code 1 and its error."""
    wh, target = dbt_home
    dbt_runner.prewarm("run-b", warehouse=str(wh), target=target)
    child = dbt_runner._AHEAD["run-b"]
    dbt_runner.discard("run-b")
    assert not child.alive and "run-b" not in dbt_runner._AHEAD

    dbt_runner.prewarm("run-c", warehouse=str(wh.with_name("other.duckdb")), target=target)
    stale = dbt_runner._AHEAD["run-c"]
    dbt = dbt_runner.take("run-c", warehouse=str(wh), target=target)
    assert not stale.alive and dbt is not stale and dbt.warehouse == str(wh)
    # The staging model reads raw.ceads_city_emissions, which this empty warehouse lacks.
    code, out = dbt.run(["build", "--select", "stg_ceads__city_emissions"], on_line=lambda _line: None)
    assert code == 1
    assert any("ceads_city_emissions" in line and ("does not exist" in line or "not found" in line.lower())
               for line in out), "\n".join(out[-20:])
