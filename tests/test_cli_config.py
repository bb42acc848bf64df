"""The `carbonpanel` command line, configuration, and the sample generator's determinism."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dagster_project import cli
from dagster_project.config import DEFAULT_WAREHOUSE, PROJECT_ROOT, Settings


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_settings_defaults_and_relative_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CARBONPANEL_WAREHOUSE", raising=False)
    monkeypatch.delenv("CARBONPANEL_RAW_DIR", raising=False)
    s = Settings.from_env()
    assert s.warehouse == DEFAULT_WAREHOUSE and s.warehouse.is_absolute()
    monkeypatch.setenv("CARBONPANEL_WAREHOUSE", "elsewhere/w.duckdb")
    monkeypatch.setenv("CARBONPANEL_RAW_DIR", str(tmp_path))
    s = Settings.from_env()
    # Relative to the project root, not the current directory (dbt runs from dbt/).
    assert s.warehouse == PROJECT_ROOT / "elsewhere" / "w.duckdb"
    assert s.raw_dir == tmp_path


SAMPLE_ARGS = ["--cities", "12", "--years", "2010-2013", "--seed", "3"]


@pytest.fixture(scope="module")
def cli_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `carbonpanel sample` writes for 12 cities, 2010-2013, seed 3 (made once for the two tests below)."""
    out = tmp_path_factory.mktemp("cli_sample")
    assert cli.main(["sample", *SAMPLE_ARGS, "--out", str(out)]) == 0
    return out


def test_sample_command_is_byte_deterministic(cli_sample: Path, tmp_path: Path) -> None:
    assert cli.main(["sample", *SAMPLE_ARGS, "--out", str(tmp_path / "b")]) == 0
    da, db = _digest(cli_sample), _digest(tmp_path / "b")
    assert da == db and len(da) > 10
    assert cli.main(["sample", "--cities", "12", "--years", "2010-2013", "--seed", "4",
                     "--out", str(tmp_path / "c")]) == 0
    assert _digest(tmp_path / "c") != da


def test_sample_writes_documented_layout(cli_sample: Path) -> None:
    for sub in ("yearbook", "ceads/city", "ceads/provincial", "ceads/county", "ifr", "nightlights/dmsp",
                "nightlights/viirs", "boundaries"):
        assert any((cli_sample / sub).iterdir()), sub


def test_years_argument_validation() -> None:
    with pytest.raises(SystemExit):
        cli.main(["sample", "--years", "2010"])


def test_build_refuses_missing_raw_folder(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="expected layout"):
        cli.run_build(warehouse=tmp_path / "w.duckdb", raw_dir=tmp_path / "nope")
    assert not (tmp_path / "w.duckdb").exists()


def test_sql_command(built_warehouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CARBONPANEL_WAREHOUSE", str(built_warehouse))
    assert cli.main(["sql", "select count(*) as n from marts.city_year_panel", "--csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "n" and int(out[1]) > 1000
    # Read-only: writes are refused.
    with pytest.raises(SystemExit, match="only reads the warehouse"):
        cli.main(["sql", "create table marts.x as select 1"])


def test_export_dta_with_labels(built_warehouse: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import pandas as pd

    monkeypatch.setenv("CARBONPANEL_WAREHOUSE", str(built_warehouse))
    out = tmp_path / "panel.dta"
    assert cli.main(["export", "--format", "dta", "--labels", "cn", "--out", str(out)]) == 0
    with pd.io.stata.StataReader(out) as reader:
        labels = reader.variable_labels()
        df = reader.read()
    assert labels["co2_mt"] == "二氧化碳排放量"
    assert len(df) > 1000
