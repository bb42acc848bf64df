"""Policy treatment registry: seeds = shared lists, registry completeness, cohorts and rings vs the dgp, options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from conftest import query as q
from scratch_warehouse import ScratchWarehouse
from session_warehouse import E2E_CITIES, E2E_YEARS

from dagster_project.config import DBT_DIR
from dagster_project.sample import dgp

SEEDS = DBT_DIR / "seeds" / "policies"
SHARED_POLICIES = REPO.parent / "shared" / "policies"
LIST_COLUMNS = ["policy_id", "batch", "announce_date", "province", "unit_name_cn", "unit_level",
                "prefecture_city_cn", "notes", "source", "confidence"]
BIGDATA = "bigdata_pilot_zone"
PRD9 = {"440100", "440300", "440400", "440600", "441300", "441900", "442000", "440700", "441200"}


def read_list(path: Path) -> pd.DataFrame:
    """A policy list as text cells (the shared files carry a UTF-8 BOM, the seeds do not)."""
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def seed_lists() -> dict[str, pd.DataFrame]:
    """policy_id -> list seed."""
    return {p.stem.removeprefix("policy_"): read_list(p) for p in sorted(SEEDS.glob("policy_*.csv"))
            if p.stem not in ("policy_catalog", "policy_batch_timing")}


def cohorts_from_panel(wh: Path, policy: str, table: str = "marts.treatment_panel") -> dict[str, float]:
    """city_code -> first treated year (NaN for never treated) of one policy."""
    df = q(wh, f"select city_code, any_value(first_treat_year)::double as g from {table} "
               f"where policy_id = '{policy}' group by city_code")
    return dict(zip(df.city_code, df.g.astype(float), strict=True))


def assert_rings_equal(wh: Path, cities: pd.DataFrame, cohort: pd.Series, years: list[int]) -> None:
    """marts.spillover_rings (big-data zones) equals dgp.ring_exposure cell by cell."""
    expected = dgp.ring_exposure(cities, cohort, years)
    got = q(wh, f"select * from marts.spillover_rings where policy_id = '{BIGDATA}'")
    for name, matrix in expected.items():
        wide = got.pivot(index="city_code", columns="year", values=name)
        wide = wide.reindex(index=cities["city_code"], columns=years)
        assert not wide.isna().any().any(), f"{name}: city-years missing from spillover_rings"
        diff = wide.to_numpy().astype(bool) != matrix
        assert not diff.any(), f"{name}: {int(diff.sum())} cells differ from dgp.ring_exposure"
        assert matrix.any(), f"{name}: no exposure at all, the comparison would be vacuous"


# ---------------------------------------------------------------- seeds (no warehouse needed)
def test_seeds_are_exact_copies_of_the_shared_lists() -> None:
    if not SHARED_POLICIES.is_dir():
        pytest.skip(f"shared policy lists not found at {SHARED_POLICIES}")
    shared = {p.stem: read_list(p) for p in sorted(SHARED_POLICIES.glob("*.csv"))}
    seeds = seed_lists()
    assert set(seeds) == set(shared), "one seed per shared policy file"
    for policy, df in shared.items():
        assert list(df.columns) == LIST_COLUMNS
        pd.testing.assert_frame_equal(seeds[policy], df, obj=policy)
        assert not (SEEDS / f"policy_{policy}.csv").read_bytes().startswith(b"\xef\xbb\xbf"), "BOM stripped"


def test_catalog_and_timing_cover_every_batch() -> None:
    catalog = pd.read_csv(SEEDS / "policy_catalog.csv", dtype=str, keep_default_na=False)
    timing = pd.read_csv(SEEDS / "policy_batch_timing.csv", dtype=str, keep_default_na=False)
    lists = seed_lists()
    assert set(catalog.policy_id) == set(lists)
    assert set(catalog.loc[catalog.list_status == "partial", "policy_id"]) == {"smart_city", "lianghua_ronghe_zone"}
    for policy, df in lists.items():
        t = timing[timing.policy_id == policy]
        default = catalog.loc[catalog.policy_id == policy, "default_timing_coding"].item()
        assert set(t.loc[t.is_default == "true", "timing_coding"]) == {default}, policy
        # Every coding gives a year to every batch of the list (a var switch never leaves a batch out).
        for coding, rows in t[t.unit_name_cn == ""].groupby("timing_coding"):
            assert set(rows.batch) == set(df.batch), (policy, coding)
            # One timing row per batch (the registry joins on batch); its date is one the list gives it
            # (a batch may carry unit-specific dates, e.g. the PRD zone's plaque date).
            assert not rows.batch.duplicated().any(), (policy, coding)
            listed = df.groupby("batch")["announce_date"].agg(set)
            assert all(r.announce_date in listed[r.batch] for r in rows.itertuples()), (policy, coding)
        # Unit-specific overrides name listed units.
        assert set(t.loc[t.unit_name_cn != "", "unit_name_cn"]) <= set(df.unit_name_cn), policy
    big = timing[(timing.policy_id == BIGDATA) & (timing.unit_name_cn == "")]
    years = big.pivot(index="timing_coding", columns="batch", values="effective_year").astype(int)
    assert years.loc["seed002"].to_dict() == {"1 (Guizhou)": 2015, "2": 2017}
    assert years.loc["approval"].to_dict() == {"1 (Guizhou)": 2016, "2": 2016}
    assert years.loc["t10"].to_dict() == {"1 (Guizhou)": 2016, "2": 2016}


# ---------------------------------------------------------------- registry
def test_every_list_row_is_in_the_registry(built_warehouse: Path) -> None:
    reg = q(built_warehouse, "select * from intermediate.int_policies__registry")
    counts = reg.groupby("list_file").size().to_dict()
    for policy, df in seed_lists().items():
        assert counts.get(f"{policy}.csv") == len(df), policy
        keys = set(zip(df.batch, df.unit_name_cn, df.prefecture_city_cn, strict=True))
        sub = reg[reg.policy_id == policy]
        assert set(zip(sub.batch, sub.unit_name_cn, sub.prefecture_city_cn, strict=True)) == keys, policy
    assert len(reg) == sum(len(df) for df in seed_lists().values())
    # Rows without a city are summary rows or 琼中 by rule; everything else resolved to a code.
    must_resolve = reg.mapping_status.isin(["prefecture", "province_administered_unit"])
    assert reg.loc[must_resolve, "city_code"].notna().all()
    assert reg.loc[~must_resolve, "city_code"].isna().all()
    summary = reg.mapping_status == "summary_row"
    assert (reg.loc[summary, "prefecture_city_cn"].str.startswith("(")).all()
    assert set(reg.loc[reg.mapping_status == "no_prefecture_parent", "unit_name_cn"]) == {"琼中黎族苗族自治县"}
    administered = reg.mapping_status == "province_administered_unit"
    # 济源, 石河子, 阿拉尔, 五家渠
    assert set(reg.loc[administered, "city_code"]) == {"419001", "659001", "659002", "659004"}
    # Flags: EXPANDED rows, partial coverage of district/county listings, default effective years.
    assert (reg.is_expanded == reg.notes.str.startswith("EXPANDED")).all()
    partial = reg.unit_level.isin(["district", "county"]) & (reg.mapping_status == "prefecture")
    assert (reg.coverage == np.where(partial, "partial", np.where(must_resolve, "full", "not_mapped"))).all()
    assert reg.effective_year.notna().all()
    lc = reg[(reg.policy_id == "low_carbon_city")].groupby("batch").effective_year.unique().to_dict()
    assert {k: list(v) for k, v in lc.items()} == {"1": [2010], "2": [2013], "3": [2017]}
    # Unverified rows stay, with their status visible.
    assert (reg.confidence == "low").sum() > 0
    assert reg.loc[reg.confidence == "low", "verification_status"].isin(["weak_source", "derived_expansion"]).all()


# ---------------------------------------------------------------- treatment panel
def test_bigdata_cohorts_equal_the_dgp(built_warehouse: Path) -> None:
    got = cohorts_from_panel(built_warehouse, BIGDATA)
    _, sample = dgp.load_universe(E2E_CITIES)
    _, reference = dgp.load_universe(None)
    for cities in (sample, reference):                 # the sample's cities and every reference unit
        expected = dgp.bigdata_cohorts(cities)
        mine = cities["city_code"].map(got).astype(float)
        assert mine.notna().sum() == expected.notna().sum() > 0
        pd.testing.assert_series_equal(mine.rename(None), expected.rename(None), check_names=False)
    assert set(got) == set(q(built_warehouse, "select city_code from marts.dim_city").city_code)


def test_treatment_panel_is_consistent(built_warehouse: Path) -> None:
    tp = q(built_warehouse, "select * from marts.treatment_panel")
    years = set(q(built_warehouse, "select distinct year from intermediate.int_yearbook__values").year)
    assert set(tp.year) == years == set(E2E_YEARS)
    assert set(tp.policy_id) == {"bigdata_pilot_zone", "broadband_china", "low_carbon_city", "carbon_ets_pilot",
                                 "innovative_city", "digital_green_pilot"}      # partial lists left out
    n_cities = len(q(built_warehouse, "select city_code from marts.dim_city"))
    assert len(tp) == n_cities * len(years) * tp.policy_id.nunique()
    assert not tp.duplicated(["city_code", "year", "policy_id"]).any()
    g = tp.first_treat_year
    assert (tp.treated == ((g <= tp.year) & g.notna()).astype(int)).all()
    assert (tp.never_treated == g.isna().astype(int)).all()
    assert ((tp.event_time == tp.year - g) | g.isna()).all() and tp.loc[g.isna(), "event_time"].isna().all()
    # One cohort per city and policy.
    assert (tp.groupby(["policy_id", "city_code"]).first_treat_year.nunique(dropna=False) == 1).all()
    # Defaults: Fujian's low-confidence ETS expansion does not treat; the 7 pilots' 38 prefectures do.
    ets = tp[(tp.policy_id == "carbon_ets_pilot") & (tp.never_treated == 0)].city_code.unique()
    assert len(ets) == 38 and not any(c.startswith("35") for c in ets)
    # Digital-green pilots start in 2023, after the panel: listed, never treated within it.
    dg = tp[(tp.policy_id == "digital_green_pilot") & (tp.never_treated == 0)]
    assert dg.city_code.nunique() == 10 and (dg.first_treat_year == 2023).all() and (dg.treated == 0).all()


def test_cities_hit_twice_get_the_earliest_year(built_warehouse: Path) -> None:
    units = q(built_warehouse, "select * from intermediate.int_policies__treated_units")
    reg = q(built_warehouse, "select * from intermediate.int_policies__registry where city_code is not null "
                             "and confidence <> 'low'")
    earliest = reg.groupby(["policy_id", "city_code"]).effective_year.min()
    merged = units.set_index(["policy_id", "city_code"]).first_treat_year
    assert (merged == earliest.reindex(merged.index)).all()
    cohort = merged.to_dict()
    expected = {
        ("low_carbon_city", "440100"): 2010,   # 广州: 广东 province (batch 1) before its own batch-2 listing
        ("low_carbon_city", "420100"): 2010,   # 武汉
        ("low_carbon_city", "210100"): 2010,   # 沈阳: 辽宁 (batch 1) before batch 3
        ("low_carbon_city", "460200"): 2013,   # 三亚: 海南 (batch 2) before batch 3
        ("low_carbon_city", "420500"): 2010,   # 宜昌 (长阳 county in batch 3)
        ("broadband_china", "411400"): 2015,   # 商丘: 永城市 2015, 商丘市 2016
        ("broadband_china", "320500"): 2014,   # 苏州: 苏州市 and 昆山市, both 2014
        ("broadband_china", "500000"): 2015,   # 重庆: 江津/荣昌 2015, 九龙坡/北碚 2016
    }
    for key, year in expected.items():
        assert cohort[key] == year, key
    multi = units.set_index(["policy_id", "city_code"]).loc[list(expected), "n_listings"]
    assert (multi >= 2).all()


def test_policy_overlap(built_warehouse: Path) -> None:
    ov = q(built_warehouse, "select * from marts.policy_overlap")
    units = q(built_warehouse, "select u.* from intermediate.int_policies__treated_units u "
                               "semi join marts.dim_city using (city_code)")
    assert (ov.policy_a < ov.policy_b).all()
    assert (ov.first_year_both == ov[["first_year_a", "first_year_b"]].max(axis=1)).all()
    n = units.groupby("city_code").size()
    assert len(ov) == int((n * (n - 1) // 2).sum())
    shenzhen = ov[(ov.city_code == "440300")]
    row = shenzhen[(shenzhen.policy_a == "bigdata_pilot_zone") & (shenzhen.policy_b == "low_carbon_city")].iloc[0]
    assert (row.first_year_a, row.first_year_b, row.first_year_both) == (2017, 2010, 2017)


# ---------------------------------------------------------------- spatial exposure
def test_distances_are_haversine(built_warehouse: Path) -> None:
    d = q(built_warehouse, "select d.*, a.seat_lon as lon1, a.seat_lat as lat1, b.seat_lon as lon2, b.seat_lat as lat2 "
                           "from marts.city_distances d join marts.dim_city a on a.city_code = d.city_code "
                           "join marts.dim_city b on b.city_code = d.neighbour_code")
    n = len(q(built_warehouse, "select 1 from marts.dim_city"))
    assert len(d) == n * (n - 1)
    expected = dgp.haversine_km(d.lon1.to_numpy(), d.lat1.to_numpy(), d.lon2.to_numpy(), d.lat2.to_numpy())
    assert np.allclose(d.distance_km.to_numpy(), expected, rtol=0, atol=1e-9)
    bj_sh = d[(d.city_code == "110000") & (d.neighbour_code == "310000")].distance_km.item()
    assert 1060 < bj_sh < 1075                          # Beijing - Shanghai seats, about 1,067 km


def test_rings_equal_the_dgp(built_warehouse: Path) -> None:
    _, cities = dgp.load_universe(E2E_CITIES)
    assert_rings_equal(built_warehouse, cities, dgp.bigdata_cohorts(cities), list(E2E_YEARS))
    rings = q(built_warehouse, "select * from marts.spillover_rings")
    ring_cols = ["ring_0_100", "ring_100_200", "ring_200_300"]
    assert not rings.loc[rings.treated == 1, ring_cols].any().any()   # default: treated city-years are not exposed
    assert ((rings.n_treated_0_100 > 0) >= (rings.ring_0_100 == 1)).all()


# ---------------------------------------------------------------- options
def test_options_change_the_cohorts_as_documented(scratch: ScratchWarehouse) -> None:
    wh = scratch.path
    variables = ("{bigdata_zone_timing: t10, bigdata_zone_scope: prd_focus, treatment_count_partial: false, "
                 "treatment_include_expanded: {low_carbon_city: false}, "
                 "policy_timing: {low_carbon_city: calendar_year}, spillover_universe: dim_city}")
    run = scratch.dbt("run", "--select", "int_policies__cohorts+", "--exclude", "city_year_panel+", "--vars", variables)
    assert run.returncode == 0, run.stdout[-3000:]

    big = cohorts_from_panel(wh, BIGDATA)
    _, reference = dgp.load_universe(None)
    seed002 = dgp.bigdata_cohorts(reference)
    # t10 timing: every zone city from 2016; prd_focus: of the PRD only 广州 and 深圳 stay treated.
    expected = seed002.where(seed002.isna(), 2016.0)
    expected[reference["city_code"].isin(PRD9 - {"440100", "440300"}).to_numpy()] = np.nan
    pd.testing.assert_series_equal(reference["city_code"].map(big).astype(float), expected, check_names=False)
    # Rings follow the cohorts, over all dim_city units (spillover_universe = dim_city).
    assert_rings_equal(wh, reference, expected, list(E2E_YEARS))

    bb = cohorts_from_panel(wh, "broadband_china")
    assert bb["411400"] == 2016                          # 商丘: the county-level 永城 listing no longer counts
    assert np.isnan(bb["500000"])                        # 重庆: listed by districts only
    assert bb["320500"] == 2014                          # 苏州: its own listing
    lc = cohorts_from_panel(wh, "low_carbon_city")
    assert lc["440100"] == 2012                          # 广州: no 广东 expansion, batch 2 coded 2012
    assert lc["210100"] == 2017 and np.isnan(lc["210300"])   # 沈阳 batch 3; 鞍山 only via 辽宁 expansion
    assert lc["440300"] == 2010                          # 深圳: its own batch-1 listing
    ets = cohorts_from_panel(wh, "carbon_ets_pilot")
    assert ets["420100"] == 2011                         # expansions of other policies still count
