"""CO2 from energy use (issue 11): readers, unit changes, planted effect, and hand-computed city-years.

Independent references: the grid factors are read from ../shared/reference/grid_emission_factors.csv
directly; the per-unit emission factors are the rounded values the reference notes publish
(fuel_factors_notes.md, "Emission factors per physical unit": raw coal 1.978 tCO2/t, diesel 3.096 tCO2/t,
LPG 3.101 tCO2/t, natural gas 21.65 t/万m3), not the pipeline's own parse of fuel_factors.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import query
from openpyxl import Workbook
from scratch_warehouse import ScratchWarehouse

from dagster_project.sample import dgp
from dagster_project.sample import yearbook as writer
from dagster_project.sample.urban_construction import planted_heat_defects, write_urban_construction
from dagster_project.sources.common import SourceFormatError
from dagster_project.sources.transport_intensity import read_transport_intensity
from dagster_project.sources.urban_construction import read_urban_construction
from dagster_project.sources.yearbook import read_yearbook

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"
# Rounded per-unit factors published in fuel_factors_notes.md (4 significant digits).
NOTES_EF = {"raw_coal_t": 1.978, "diesel_t": 3.096, "lpg_t": 3.101, "gas_10k_m3": 21.65}
RAW_COAL_NCV_GJ_PER_T = 20.908   # fuel_factors.csv 原煤 NCV 20908 kJ/kg
DIESEL_KGCE_PER_KG = 1.4571      # fuel_factors.csv 柴油 standard_coal_coef
BOILER_EFFICIENCY = 0.70         # seed 002 §4.1 (GB/T 15317-2009)


# ----------------------------------------------------------------------------------- DGP


def test_every_energy_input_carries_the_planted_zone_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    """ln(input with effects / input without) = ATT(g, e) + rings for every energy input and city-year.

    The same seed with the zone and ring effects switched off gives the untreated world with identical draws;
    achieved max |error| ~1e-15 (float), asserted 1e-12. Because every input carries the same factor, any
    accounting total sum(input x factor) carries it too, whatever the factors are.
    """
    treated = dgp.simulate(n_cities=60, years=range(2010, 2022), seed=4)
    monkeypatch.setattr(dgp, "BIGDATA_ATT_BASE", {2015: 0.0, 2017: 0.0})
    monkeypatch.setattr(dgp, "BIGDATA_ATT_SLOPE", {2015: 0.0, 2017: 0.0})
    monkeypatch.setattr(dgp, "RING_EFFECTS", (0.0, 0.0, 0.0))
    untreated = dgp.simulate(n_cities=60, years=range(2010, 2022), seed=4)
    a, b = treated.city_year, untreated.city_year
    effect = a["bigdata_energy_effect"].to_numpy()
    assert (effect < 0).sum() > 50  # treated and ring-exposed city-years exist
    # Treated city-years carry ATT(g, e) only: rings apply to untreated cities.
    is_treated = a["bigdata_treated"].to_numpy()
    assert np.array_equal(effect[is_treated], a.loc[is_treated, "bigdata_att"].to_numpy())
    for k in dgp.ENERGY_INPUTS:
        ok = a[k].notna()
        err = np.log(a.loc[ok, k].to_numpy() / b.loc[ok, k].to_numpy()) - effect[ok.to_numpy()]
        assert np.abs(err).max() < 1e-12, k
    # A sum with arbitrary positive factors carries the same log effect.
    w = np.linspace(0.5, 2.0, len(dgp.ENERGY_INPUTS))
    tot_a = sum(wi * a[k].fillna(0) for wi, k in zip(w, dgp.ENERGY_INPUTS, strict=True))
    tot_b = sum(wi * b[k].fillna(0) for wi, k in zip(w, dgp.ENERGY_INPUTS, strict=True))
    assert np.abs(np.log(tot_a / tot_b) - effect).max() < 1e-12


# ----------------------------------------------------------------------------------- unit changes


def test_electricity_in_yi_kwh_editions_gives_the_same_canonical_values(tmp_path: Path) -> None:
    """Editions up to 1992 print electricity in 亿千瓦时 (4 decimals), later ones in 万千瓦时 (integers).

    Both must read back to the truth rounded to 1 万千瓦时: achieved exact (max relative difference ~1e-16),
    asserted rtol 1e-12 against round(truth) in 万千瓦时.
    """
    truth = dgp.simulate(n_cities=8, years=[1990, 1991, 1995, 1996], seed=3)
    writer.write_yearbook(truth, tmp_path)
    loaded = read_yearbook(tmp_path / "yearbook").table
    books = loaded[loaded["edition"].notna() & loaded["variable"].str.startswith("electricity_")
                   & (loaded["scope"] == "city")]
    assert set(books.loc[books["edition"] <= 1992, "unit_raw"]) == {"亿千瓦时"}
    assert set(books.loc[books["edition"] > 1992, "unit_raw"]) == {"万千瓦时"}
    assert (books.loc[books["edition"] <= 1992, "unit_factor"] == 1e4).all()
    names = {**dict(zip(truth.cities.city_short, truth.cities.city_code, strict=True)),
             **dict(zip(truth.cities.city_cn, truth.cities.city_code, strict=True))}
    books = books.assign(city_code=books["city_name"].map(names))
    t = truth.city_year.melt(id_vars=["city_code", "year"], value_vars=[
        "electricity_total_10k_kwh", "electricity_industrial_10k_kwh", "electricity_residential_10k_kwh"],
        var_name="variable", value_name="truth")
    m = books.merge(t, on=["city_code", "year", "variable"], validate="one_to_one")
    assert len(m) == 8 * 4 * 3
    np.testing.assert_allclose(m["value"], np.round(m["truth"]), rtol=1e-12)


# ----------------------------------------------------------------------------------- urban construction


@pytest.fixture(scope="module")
def heat_sample(tmp_path_factory: pytest.TempPathFactory):
    """A small world and its central-heating workbooks."""
    truth = dgp.simulate(n_cities=40, years=range(2006, 2014), seed=3)
    out = tmp_path_factory.mktemp("uc")
    write_urban_construction(truth, out)
    return truth, out / "urban_construction"


def test_heating_round_trip_and_planted_defects(heat_sample) -> None:
    """Every printed heat cell reads back as truth rounded to 2 decimals (10 万百万千焦 = 10 万吉焦, factor 1),
    except the planted 100x slip (read as printed, /100) and the negative cell (rejected with its location).
    Achieved exact to float precision; asserted rtol 1e-12."""
    truth, folder = heat_sample
    res = read_urban_construction(folder)
    t = res.table
    assert set(t.loc[t["year"] <= 2008, "unit_raw"]) >= {"万百万千焦"}
    assert set(t.loc[t["year"] >= 2009, "unit_raw"]) == {"万吨", "万吉焦"}
    assert not t["city_name"].isin(["全国", "全　国", "河北", "山西"]).any()
    names = dict(zip(truth.cities.city_cn, truth.cities.city_code, strict=True))
    t = t.assign(city_code=t["city_name"].map(names))
    assert t["city_code"].notna().all()
    item_to_truth = {"heat_steam_total": "heat_steam_10k_ton", "heat_hot_water_total": "heat_hot_water_10k_gj",
                     "heat_hot_water_chp": "heat_chp_10k_gj", "heat_hot_water_boiler": "heat_boiler_10k_gj"}
    t["truth_col"] = t["item"].map(item_to_truth)
    cy = truth.city_year.set_index(["city_code", "year"])
    t["truth"] = [cy.at[(c, y), k] for c, y, k in zip(t["city_code"], t["year"], t["truth_col"], strict=True)]
    defects = planted_heat_defects(truth)
    slip = defects[defects["kind"] == "unit_slip_100x"]
    is_slip = pd.Series(list(zip(t.city_code, t.year, t.truth_col, strict=True))).isin(
        set(zip(slip.city_code, slip.year, slip.item, strict=True))).to_numpy()
    assert is_slip.sum() == 2
    np.testing.assert_allclose(t.loc[~is_slip, "value"], np.round(t.loc[~is_slip, "truth"], 2), rtol=1e-12)
    np.testing.assert_allclose(t.loc[is_slip, "value"], np.round(np.round(t.loc[is_slip, "truth"], 2) / 100, 2),
                               rtol=1e-12)
    rej = res.rejected
    assert len(rej) == 1 and rej.iloc[0]["reason"].startswith("negative energy figure in heat_hot_water_boiler")
    assert rej.iloc[0]["file"].endswith("2012年城市建设统计年鉴.xlsx") and rej.iloc[0]["column"] == "E"
    heated = truth.city_year[truth.city_year["heat_hot_water_10k_gj"].notna()]
    assert len(t[t["item"] == "heat_hot_water_total"]) == len(heated)  # unheated cities are not printed


def _heating_book(path: Path, rows: list[list]) -> Path:
    """Write a minimal central-heating workbook."""
    wb = Workbook()
    ws = wb.active
    ws.title = "城市集中供热"
    ws.append(["城市集中供热"])
    for r in rows:
        ws.append(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def test_heating_reader_errors_name_the_place(tmp_path: Path) -> None:
    header = [["城市名称", "供热总量", None], [None, "蒸汽(万吨)", "热水(吉焦)"]]
    rows = [*header, ["唐山市", "12", "1,500,000"], ["保定市", "x", "-3"]]
    _heating_book(tmp_path / "a" / "2015年城市建设统计年鉴.xlsx", rows)
    res = read_urban_construction(tmp_path / "a")
    hw = res.table[res.table["item"] == "heat_hot_water_total"]
    assert hw["value"].tolist() == [150.0] and hw["unit_factor"].tolist() == [1e-4]  # 吉焦 -> 万吉焦
    assert sorted(res.rejected["reason"].str[:12]) == ["negative ene", "not a number"]
    assert set(res.rejected["row"]) == {5}
    _heating_book(tmp_path / "b" / "2015年城市建设统计年鉴.xlsx", [["城市名称", "供热总量"], [None, "蒸汽(万吨)"]])
    with pytest.raises(SourceFormatError, match="no hot-water"):
        read_urban_construction(tmp_path / "b")
    _heating_book(tmp_path / "c" / "2015年城市建设统计年鉴.xlsx", [["城市名称", "供热总量"], [None, "热水"]])
    with pytest.raises(SourceFormatError, match="no unit in the header"):
        read_urban_construction(tmp_path / "c")
    _heating_book(tmp_path / "d" / "城市建设.xlsx", list(header))
    with pytest.raises(SourceFormatError, match="no data year"):
        read_urban_construction(tmp_path / "d")


def test_transport_intensity_reader(tmp_path: Path) -> None:
    f = tmp_path / "t" / "x.csv"
    f.parent.mkdir()
    f.write_text("year,region,mode,intensity,unit,fuel,source\n"
                 "2015,全国,passenger,2.5,kgce/百人公里,柴油,CSY\n"
                 "2015,山东,货运,0.4,tce/万吨公里,柴油,CSY\n"
                 "2016,全国,freight,3,kgce/百人公里,柴油,CSY\n"
                 "2016,全国,passenger,-1,kgce/人公里,柴油,CSY\n"
                 "2017,全国,bus,1,kgce/人公里,柴油,CSY\n"
                 "2018,全国,freight,1,kgce/吨公里,柴油,\n", encoding="utf-8")
    res = read_transport_intensity(f.parent)
    assert res.table["kgce_per_unit"].tolist() == pytest.approx([0.025, 0.04])
    assert res.table["mode"].tolist() == ["passenger", "freight"]
    reasons = res.rejected.set_index("row")["reason"]
    assert reasons[4].startswith("unit does not fit mode freight") and reasons[5].startswith("negative")
    assert reasons[6].startswith("unknown mode") and reasons[7].startswith("blank required field")
    (tmp_path / "t" / "x.csv").write_text("year,region,intensity\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match="missing columns"):
        read_transport_intensity(f.parent)


# ----------------------------------------------------------------------------------- built warehouse


def _grid_factors() -> pd.DataFrame:
    """The reference grid factors, read directly from ../shared/reference."""
    return pd.read_csv(REFERENCE / "grid_emission_factors.csv", dtype=str)


def _hand_co2(wh: Path, code: str, year: int) -> dict[str, float]:
    """Hand computation of one city-year's components (Mt) from published inputs and reference factors."""
    vals = query(wh, "select v.variable, v.value from intermediate.int_yearbook__values as v "
                     "join staging.stg_yearbook__dictionary as d on d.variable = v.variable "
                     "and coalesce(d.canonical_scope, 'city') = v.scope "
                     f"where v.city_code = '{code}' and v.year = {year}").set_index("variable")["value"]
    grid = query(wh, f"select grid_region from intermediate.int_energy__city_grid where city_code = '{code}'").iat[0, 0]
    ref = _grid_factors()
    om = ref[ref["factor_type"].isin(["OM_single_year", "OM_baseline", "OM_BM_baseline"]) & (ref["grid"] == grid)]
    keyed = {"2012": 2012, "2013": 2013, "2014": 2014, "2012-2014": 2016, "(?)": 2019}
    points = sorted((keyed[d], float(v)) for d, v in zip(om["data_years"], om["OM_tCO2_per_MWh"], strict=True))
    ef = min(points, key=lambda p: (abs(p[0] - year), p[0]))[1]
    heat = query(wh, f"select item, value from intermediate.int_energy__heat_resolved where city_code = '{code}' "
                     f"and year = {year}").set_index("item")["value"]
    hot_water = heat.get("heat_hot_water_chp", np.nan) + heat.get("heat_hot_water_boiler", np.nan) if len(heat) else 0.0
    inten = query(wh, f"select mode, kgce_per_unit from raw.transport_energy_intensity where year = {year}"
                  ).set_index("mode")["kgce_per_unit"]
    kgce = (vals["passenger_turnover_10k_pkm"] * 1e4 * inten["passenger"]
            + vals["freight_turnover_10k_tkm"] * 1e4 * inten["freight"])
    return {
        "co2_energy_electricity": vals["electricity_total_10k_kwh"] * 1e4 * ef / 1e9,
        "co2_energy_industrial_electricity": vals["electricity_industrial_10k_kwh"] * 1e4 * ef / 1e9,
        "co2_energy_residential_electricity": vals["electricity_residential_10k_kwh"] * 1e4 * ef / 1e9,
        "co2_energy_heat": hot_water * 1e4 / BOILER_EFFICIENCY / RAW_COAL_NCV_GJ_PER_T * NOTES_EF["raw_coal_t"] / 1e6,
        "co2_energy_transport": kgce / DIESEL_KGCE_PER_KG / 1000 * NOTES_EF["diesel_t"] / 1e6,
        "co2_energy_direct": (vals["gas_supply_10k_m3"] * NOTES_EF["gas_10k_m3"]
                              + vals["lpg_supply_ton"] * NOTES_EF["lpg_t"]) / 1e6,
        "grid_factor": ef,
    }


def test_hand_computed_city_years_per_grid_region(built_warehouse: Path) -> None:
    """One city per regional grid (2013: OM published for that year) plus one city-year with an imputed factor
    year (2008 -> nearest published 2012). Electricity components agree exactly (achieved 2.2e-16 relative,
    asserted 1e-12); heat, transport and direct agree with the hand computation from the notes' 4-digit
    per-unit factors to 9.5e-5 relative (achieved on the e2e sample), asserted 2e-4; the grid factor exactly."""
    panel = query(built_warehouse, "select * from marts.city_year_panel")
    picks = (panel[panel["year"] == 2013].dropna(subset=["co2_energy_total"])
             .sort_values("city_code").groupby("grid_region").head(1)[["city_code", "year", "grid_region"]])
    assert set(picks["grid_region"]) == {"华北", "东北", "华东", "华中", "西北", "南方"}
    heated = panel[(panel["year"] == 2008) & (panel["co2_energy_heat"] > 0)].sort_values("city_code").head(1)
    cases = [*picks[["city_code", "year"]].itertuples(index=False, name=None),
             (heated["city_code"].iat[0], 2008)]
    worst = 0.0
    for code, year in cases:
        row = panel[(panel["city_code"] == code) & (panel["year"] == year)].iloc[0]
        hand = _hand_co2(built_warehouse, code, int(year))
        assert row["grid_factor_t_per_mwh"] == hand.pop("grid_factor")
        assert row["grid_factor_not_published"] == (year == 2008)
        assert row["grid_factor_rule"] == ("nearest" if year == 2008 else "published")
        for k, v in hand.items():
            if v == 0:
                assert row[k] == 0 and row["co2_energy_heat_assumed_zero"], (code, k)
                continue
            worst = max(worst, abs(row[k] / v - 1))
            rel = 1e-12 if "electricity" in k else 2e-4
            assert row[k] == pytest.approx(v, rel=rel), (code, year, k)
    assert heated["co2_energy_heat"].iat[0] > 0 and worst < 2e-4


def test_components_sum_to_total_and_coverage(built_warehouse: Path) -> None:
    """Total = electricity + heat + transport + direct (max relative error achieved 0, asserted 1e-12);
    every city-year outside 西藏 has a total (full coverage); 西藏 has no grid and no total."""
    p = query(built_warehouse, "select city_code, year, co2_energy_total, co2_energy_electricity, co2_energy_heat, "
                               "co2_energy_transport, co2_energy_direct, grid_region, pop_total_10k "
                               "from marts.city_year_panel")
    s = p["co2_energy_electricity"] + p["co2_energy_heat"] + p["co2_energy_transport"] + p["co2_energy_direct"]
    ok = p["co2_energy_total"].notna()
    assert (np.abs(s[ok] / p.loc[ok, "co2_energy_total"] - 1) < 1e-12).all()
    tibet = p["city_code"].str.startswith("54")
    # City-years the yearbook does not print (莱芜 from 2019, merged into 济南) have no inputs and no total.
    printed = p["pop_total_10k"].notna()
    assert p.loc[~tibet & printed, "co2_energy_total"].notna().all()
    assert (p.loc[~tibet & printed, "co2_energy_total"] > 0).all()
    assert p.loc[tibet, "co2_energy_total"].isna().all() and p.loc[tibet, "grid_region"].isna().all()


def test_bad_energy_inputs_are_quarantined_with_the_reason(built_warehouse: Path, sample_dir: Path) -> None:
    """The planted 100x slips (yearbook road passenger traffic; heating CHP and total columns) are listed in
    marts.energy_input_quarantine, replaced by an interpolation (flagged); the negative heating cell is in
    raw.rejected_rows with its location."""
    q = query(built_warehouse, "select * from marts.energy_input_quarantine")
    assert (q["quarantine_reason"].str.startswith("implausible")).all()
    assert set(q["input"]) == {"road_passengers_10k", "heat_hot_water_chp_10k_gj", "heat_hot_water_total_10k_gj"}
    assert q["ratio_to_city_median"].between(0.003, 0.03).all() and q["printed_at"].notna().all()
    chp = q[q["input"] == "heat_hot_water_chp_10k_gj"].iloc[0]
    row = query(built_warehouse, f"select co2_energy_inputs_interpolated, co2_energy_inputs_quarantined from "
                                 f"marts.city_year_panel where city_code = '{chp.city_code}' and year = {chp.year}")
    assert bool(row.iat[0, 0]) and row.iat[0, 1] == 2
    assert chp["value_used_is_interpolated"] and chp["value_used"] > 50 * chp["value_observed"]
    rej = query(built_warehouse, "select * from raw.rejected_rows where asset = 'urban_construction_heating'")
    assert len(rej) == 1 and rej["reason"].iat[0].startswith("negative energy figure")


def test_grid_year_rules_and_unmapped_grid_fails(scratch: ScratchWarehouse) -> None:
    """Interpolation and the combined factor against the reference values by hand (exact to 1e-12); a province
    whose grid is unknown fails the build and the failing test lists its cities."""
    import duckdb

    wh = scratch.path
    run = scratch.dbt("run", "--select", "int_energy__grid_factors", "--vars",
               "{energy_grid_factor_year_rule: interpolate, energy_grid_factor_kind: combined}")
    assert run.returncode == 0, run.stdout[-3000:]
    g = query(wh, "select * from intermediate.int_energy__grid_factors where grid_region = '华北'").set_index("year")
    # 2015: OM between 2014 (0.9551) and 2016 (1.0000); BM only published for (?)2019 -> nearest
    assert g.at[2015, "grid_factor_t_per_mwh"] == pytest.approx(0.5 * (0.9551 + 1.0000) / 2 + 0.5 * 0.4819, rel=1e-12)
    assert g.at[2015, "grid_factor_rule"] == "OM interpolated, BM nearest" and g.at[2015, "grid_factor_not_published"]
    assert g.at[2019, "grid_factor_t_per_mwh"] == pytest.approx(0.5 * 0.9419 + 0.5 * 0.4819, rel=1e-12)
    assert g.at[2019, "grid_factor_year_uncertain"]

    conn = duckdb.connect(str(wh))
    try:
        conn.execute("update ref.grid_province_mapping set grid_in_OM_BM_docs_2012 = 'absent' "
                     "where province_code = '130000'")
        expected = {r[0] for r in conn.execute("select city_code from ref.cities where province_code = '130000'")
                    .fetchall()}
    finally:
        conn.close()
    run = scratch.dbt("build", "--select", "int_energy__city_grid")
    assert run.returncode != 0 and "not_null_int_energy__city_grid_grid_region" in run.stdout
    listed = query(wh, "select table_schema, table_name from information_schema.tables "
                       "where table_name like 'not_null_int_energy__city_grid%'")
    failures = query(wh, f"select * from {listed.iat[0, 0]}.{listed.iat[0, 1]}")
    assert len(failures) == len(expected)
