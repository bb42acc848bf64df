"""Issue 3 on real files: census city codes against dim_city, and a full build on the real CEADs files."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from conftest import query as _q
from scratch_warehouse import ScratchWarehouse

from dagster_project.config import DBT_DIR

SEEDS = DBT_DIR / "seeds"
MUNICIPALITY_PREFIXES = {"11", "12", "31", "50"}


def _census(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "census" / "census_city_2010-2020_v1.csv",
                       dtype={"city_code": str, "province_code": str}, usecols=lambda c: c != "coord")


def test_census_codes_join_dim_city(shared_data: Path) -> None:
    """Every census row that is a prefecture-level unit of the mainland joins the reference cities on code."""
    census = _census(shared_data)
    cities = pd.read_csv(SEEDS / "reference" / "cities.csv", dtype=str)
    county_level = pd.read_csv(SEEDS / "crosswalk" / "county_level_units.csv", dtype=str)
    code = census["city_code"]
    # The census codes municipalities by their 市辖区 code (110100); the panel by the province code (110000).
    panel_code = code.where(~(code.str[:2].isin(MUNICIPALITY_PREFIXES) & code.str.endswith("0100")),
                            code.str[:2] + "0000")
    joined = panel_code.isin(set(cities["city_code"]))
    not_joined = census[~joined]
    reasons = pd.Series("unexplained", index=not_joined.index)
    # Province-governed county-level units (省直辖县级行政单位, codes <pp>90xx) have no prefecture.
    reasons[not_joined["city_code"].str[2:4] == "90"] = "province-governed county-level unit (no prefecture)"
    reasons[not_joined["province_code"].isin(["810000", "820000"])] = "Hong Kong / Macao (outside the panel)"
    unexplained = not_joined[reasons == "unexplained"]
    assert unexplained.empty, f"census rows that should join but do not:\n{unexplained[['city', 'city_code']]}"
    # The province-governed units are all in the county-level crosswalk seed or follow the 90xx pattern.
    assert joined.sum() == len(cities) - 1  # every panel unit but 莱芜 (merged into 济南 in 2019) is in the 2020 census
    assert "371200" not in set(panel_code)
    report = reasons.value_counts().to_dict()
    assert report == {"province-governed county-level unit (no prefecture)": 30,
                      "Hong Kong / Macao (outside the panel)": 2}
    assert set(county_level["unit_code"]) & set(not_joined["city_code"])


@pytest.fixture(scope="module")
def real_ceads_warehouse(built_warehouse: Path, sample_dir: Path, shared_data: Path, worker_scratch: ScratchWarehouse,
                         tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's warehouse rebuilt after its CEADs files were replaced by the real published workbooks."""
    from dagster_project.cli import run_build

    raw = tmp_path_factory.mktemp("raw_real_ceads")
    for sub in sample_dir.iterdir():
        if sub.name != "ceads":
            (raw / sub.name).symlink_to(sub, target_is_directory=sub.is_dir())
    real = shared_data / "ceads"
    for sub, files in {"city": [real / "The_Emission_Inventories_for_290_Chinese_Cities_from_1997_to_2019.xlsx"],
                       "county": [real / "County_CO2_emissions_1997_2017.xlsx"],
                       "provincial": sorted((real / "provincial").glob("*.xlsx"))}.items():
        (raw / "ceads" / sub).mkdir(parents=True)
        for f in files:
            (raw / "ceads" / sub / f.name).symlink_to(f)
    # Built at the worker's reused warehouse path (dbt parses only what changed), then moved out of the
    # way of the worker's other tests while this module's tests read it.
    wh = worker_scratch.fresh(copy_of=built_warehouse)
    os.environ["CARBONPANEL_REPORTS_DIR"] = str(tmp_path_factory.mktemp("rep_real"))
    # As a user replacing the CEADs files would: the three CEADs sources and their warehouse downstream
    # (ingest, dbt models with their tests, every check), without the measures and paper analyses, which
    # these tests do not read; raises (and keeps no file) on any unresolved name or failed check.
    ceads = " or ".join(f"key:raw/ceads_{s}_emissions+" for s in ("city", "county", "provincial"))
    run_build(warehouse=wh, raw_dir=raw, select=f"({ceads}) and (key:raw/* or kind:dbt)")
    return worker_scratch.move_to(tmp_path_factory.mktemp("wh_real"))


def test_real_ceads_build_resolves_every_name(real_ceads_warehouse: Path) -> None:
    sql = "select distinct ceads_name from intermediate.int_emissions__ceads_city_resolved where city_code is null"
    unresolved = _q(real_ceads_warehouse, sql)
    assert unresolved.empty
    names = _q(real_ceads_warehouse, "select count(distinct ceads_name) n from raw.ceads_city_emissions")["n"][0]
    assert names == 290
    coverage = _q(real_ceads_warehouse, "select year, count(*) n from intermediate.int_emissions__city_co2 "
                                        "group by year").set_index("year")["n"]
    published = _q(real_ceads_warehouse, "select year, count(distinct ceads_name) n from raw.ceads_city_emissions "
                                         "group by year").set_index("year")["n"]
    county_level = _q(real_ceads_warehouse, "select year, count(*) n from "
                                            "intermediate.int_emissions__county_level_unit_co2 group by year")
    county_level = county_level.set_index("year")["n"].reindex(published.index, fill_value=0)
    folded = _q(real_ceads_warehouse, "select year, count(*) n from intermediate.int_emissions__city_co2 "
                                      "where n_source_rows > 1 group by year").set_index("year")["n"]
    folded = folded.reindex(published.index, fill_value=0)
    # Every published name-year is a panel unit, a province-governed county-level unit, or folded (巢湖 → 合肥).
    pd.testing.assert_series_equal(coverage.reindex(published.index, fill_value=0) + county_level + folded,
                                   published, check_names=False)
    # The published panel is unbalanced: 263 names in 2012, 170 in 2019.
    assert published[2012] == 263 and published[2019] == 170


def test_real_ceads_provincial_and_county(real_ceads_warehouse: Path) -> None:
    prov = _q(real_ceads_warehouse, "select year, count(*) n, sum(co2_industrial_mt) ind "
                                    "from intermediate.int_emissions__province_industrial_co2 group by year")
    assert set(prov["year"]) == {2012, 2019} and (prov["n"] == 30).all()
    unmapped = _q(real_ceads_warehouse, "select count(*) n from intermediate.int_emissions__county_city_map "
                                        "where city_code is null and not is_province_governed")["n"][0]
    assert unmapped == 0
    recon = _q(real_ceads_warehouse, "select * from marts.ceads_reconciliation where year is null")
    assert recon["n_city_years"][0] > 3000
    assert 0.5 < recon["p50"][0] < 2.0


def test_real_ceads_loads_without_quarantine(real_ceads_warehouse: Path) -> None:
    """The published workbooks load completely: no quarantined row, every raw table filled."""
    rejected = _q(real_ceads_warehouse, "select count(*) n from raw.rejected_rows where asset like 'ceads%'")
    assert rejected["n"][0] == 0
    counts = _q(real_ceads_warehouse, "select (select count(*) from raw.ceads_city_emissions) city, "
                                      "(select count(*) from raw.ceads_provincial_emissions) prov, "
                                      "(select count(*) from raw.ceads_county_emissions) county").iloc[0]
    assert counts["city"] == 3929 and counts["prov"] == 63360 and counts["county"] == 2735 * 21
