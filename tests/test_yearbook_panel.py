"""Issue 4, panel side: deflation, gap filling with flags, the coverage report and derived controls.

Checks run on the session warehouse (`built_warehouse`: 120 sample cities x 2003-2021). The sample's
yearbook writer prints `—` for the FDI of one city per edition (`planted_defects`); those are the only
yearbook gaps of the sample, so they are what the interpolation must fill (interior years) or leave
(first and last year). Longer gaps are planted on a copy of the warehouse and the filling model rerun.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import query as q
from scratch_warehouse import ScratchWarehouse
from session_warehouse import E2E_CITIES, E2E_SEED, E2E_YEARS

from dagster_project.config import DBT_DIR

SEED_PROVINCE = DBT_DIR / "seeds" / "prices" / "deflators_province.csv"
SEED_NATIONAL = DBT_DIR / "seeds" / "prices" / "deflators_national.csv"
BASE_YEAR = 2010  # default of var('price_base_year')
MAX_GAP = 2  # default of var('max_interpolation_gap')


@pytest.fixture(scope="module")
def panel(built_warehouse: Path) -> pd.DataFrame:
    return q(built_warehouse, "select * from marts.city_year_panel order by city_code, year")


def _ended(df: pd.DataFrame) -> pd.Series:
    """City-years of units that no longer existed (莱芜 from 2019): the yearbook prints nothing for them."""
    from dagster_project.sources.names import ended_units

    ends = {code: u.change_year for code, u in ended_units().items() if code.isdigit()}
    return df["year"] >= df["city_code"].map(ends).fillna(10_000)


@pytest.fixture(scope="module")
def published(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel without the city-years of ended units (all yearbook columns null there by design)."""
    assert _ended(panel).any(), "the sample should contain an ended unit (371200 莱芜) for this check"
    assert panel.loc[_ended(panel), ["gdp_10k_yuan", "pop_total_10k"]].isna().all().all()
    return panel[~_ended(panel)]


@pytest.fixture(scope="module")
def planted_fdi_gaps() -> pd.DataFrame:
    """(city_code, year) of the FDI cells the sample's yearbook writer prints as `—`."""
    from dagster_project.sample.dgp import simulate
    from dagster_project.sample.yearbook import planted_defects

    truth = simulate(n_cities=E2E_CITIES, years=E2E_YEARS, seed=E2E_SEED)
    d = planted_defects(truth)
    d = d[(d["kind"] == "missing") & (d["variable"] == "fdi_usd_10k")]
    assert len(d) == len(E2E_YEARS)  # one per edition
    return d[["city_code", "year"]].reset_index(drop=True)


# ----------------------------------------------------------------------------------- gap filling

def test_interpolation_fills_exactly_the_interior_planted_gaps(panel: pd.DataFrame,
                                                               planted_fdi_gaps: pd.DataFrame) -> None:
    first, last = min(E2E_YEARS), max(E2E_YEARS)
    p = panel.set_index(["city_code", "year"])
    interior = planted_fdi_gaps[planted_fdi_gaps["year"].between(first + 1, last - 1)]
    ends = planted_fdi_gaps[~planted_fdi_gaps.index.isin(interior.index)]
    assert len(interior) == len(E2E_YEARS) - 2 and len(ends) == 2

    # Flags: true exactly on the interior planted cells, for FDI, and nowhere else in the panel.
    flagged = p.index[p["fdi_usd_10k_imputed"]]
    assert set(flagged) == set(zip(interior.city_code, interior.year, strict=True))
    flag_cols = [c for c in panel.columns if c.endswith("_imputed") and c != "n_imputed"]
    assert panel[flag_cols].to_numpy().sum() == len(interior)
    assert (panel["n_imputed"] == panel[flag_cols].sum(axis=1)).all()

    # Values: the straight line between the published neighbours (single-year gaps).
    for code, year in zip(interior.city_code, interior.year, strict=True):
        before, after = p.loc[(code, year - 1), "fdi_usd_10k"], p.loc[(code, year + 1), "fdi_usd_10k"]
        assert not p.loc[(code, year - 1), "fdi_usd_10k_imputed"]
        assert p.loc[(code, year), "fdi_usd_10k"] == pytest.approx((before + after) / 2, rel=1e-12)
    # The first and last year are never extrapolated.
    for code, year in zip(ends.city_code, ends.year, strict=True):
        assert np.isnan(p.loc[(code, year), "fdi_usd_10k"])
        assert not p.loc[(code, year), "fdi_usd_10k_imputed"]
    # Derived columns use the filled value.
    row = p.loc[(interior.city_code.iloc[0], interior.year.iloc[0])]
    assert row["ln_fdi_usd"] == pytest.approx(np.log(row["fdi_usd_10k"]))


def test_interpolation_respects_the_maximum_gap(scratch: ScratchWarehouse) -> None:
    """Delete published cells on a copy (gaps of 1, 2 and 3 years, a leading and a trailing gap, a
    non-imputable column) and rebuild int_yearbook__filled with the default vars."""
    wh = scratch.path
    conn = duckdb.connect(str(wh))
    try:
        code = conn.execute("select min(city_code) from intermediate.int_yearbook__values").fetchone()[0]
        y0 = min(E2E_YEARS)
        holes = {  # variable, scope -> deleted years
            ("gdp_10k_yuan", "city"): [y0 + 2],  # 1-year gap: filled
            ("pop_total_10k", "city"): [y0 + 2, y0 + 3],  # 2-year gap: filled
            ("loans_10k_yuan", "city"): [y0 + 2, y0 + 3, y0 + 4],  # 3-year gap: left
            ("retail_sales_10k_yuan", "city"): [y0, y0 + 1],  # leading: left
            ("college_students", "city"): [max(E2E_YEARS)],  # trailing: left
            ("loans_10k_yuan", "district"): [y0 + 5],  # other scope, no flag: left
        }
        for (var, scope), years in holes.items():
            conn.execute("delete from intermediate.int_yearbook__values where city_code = ? and variable = ? "
                         f"and scope = ? and year in ({', '.join(map(str, years))})", [code, var, scope])
        published = conn.execute(
            "select variable, scope, year, value from intermediate.int_yearbook__values where city_code = ?",
            [code]).df().set_index(["variable", "scope", "year"])["value"]
    finally:
        conn.close()
    run = scratch.dbt("run", "--select", "int_yearbook__filled")
    assert run.returncode == 0, run.stdout[-3000:]
    got = q(wh, f"select * from intermediate.int_yearbook__filled where city_code = '{code}'")
    got = got.set_index(["variable", "scope", "year"])

    def line(var: str, scope: str, a: int, b: int, t: int) -> float:
        va, vb = published[(var, scope, a)], published[(var, scope, b)]
        return va + (vb - va) * (t - a) / (b - a)

    gdp = got.loc[("gdp_10k_yuan", "city", y0 + 2)]
    assert gdp.is_imputed and gdp.value == pytest.approx(line("gdp_10k_yuan", "city", y0 + 1, y0 + 3, y0 + 2))
    for t in (y0 + 2, y0 + 3):
        pop = got.loc[("pop_total_10k", "city", t)]
        assert pop.is_imputed and pop.gap_years == MAX_GAP
        assert pop.value == pytest.approx(line("pop_total_10k", "city", y0 + 1, y0 + 4, t))
    for (var, scope), years in holes.items():
        if var in ("gdp_10k_yuan", "pop_total_10k"):
            continue
        for t in years:
            cell = got.loc[(var, scope, t)]
            assert not cell.is_imputed and pd.isna(cell.value) and cell.value_status == "missing", (var, t)
    assert got.loc[("loans_10k_yuan", "city", y0 + 3)].gap_years == MAX_GAP + 1
    assert got.loc[("retail_sales_10k_yuan", "city", y0)].gap_position == "leading"
    assert got.loc[("college_students", "city", max(E2E_YEARS))].gap_position == "trailing"
    assert not got.loc[("loans_10k_yuan", "district", y0 + 5)].is_imputable
    # Nothing else changed (the city's planted FDI gap, if it has one, is not counted).
    assert int(got.drop(index="fdi_usd_10k", level="variable")["is_imputed"].sum()) == 3
    obs = got[got.value_status == "observed"]
    np.testing.assert_array_equal(obs["value"], obs["value_observed"])


# ----------------------------------------------------------------------------------- deflators

def _chained(yoy: pd.DataFrame, col: str) -> pd.Series:
    """P_t = P_t-1 x yoy_t / 100 within each province from the first seed year, rebased to BASE_YEAR."""
    out = []
    for _, g in yoy.sort_values("year").groupby("province_code"):
        g = g.set_index("year")
        level = (g[col] / 100).where(g.index > g.index.min(), 1.0).cumprod(skipna=False)
        out.append((level / level.loc[BASE_YEAR]).rename("index").to_frame().assign(
            province_code=g["province_code"].iloc[0]))
    return pd.concat(out).reset_index().set_index(["province_code", "year"])["index"]


def test_seed_deflator_matches_the_reference_derivation() -> None:
    d = pd.read_csv(SEED_PROVINCE, dtype={"province_code": str}).sort_values(["province_code", "year"])
    prev = d.groupby("province_code")["gdp_nominal_100m_yuan"].shift()
    yoy = 100 * d["gdp_nominal_100m_yuan"] / prev / (d["gdp_volume_index_prev_year_100"] / 100)
    ref = d["implied_gdp_deflator_prev_year_100_derived"]
    both = ref.notna()
    assert both.sum() == 31 * 19  # 2001-2019
    assert (yoy[both] - ref[both]).abs().max() < 1e-4  # the reference rounds to 4 decimals
    assert yoy[d["year"] >= 2020].isna().all()  # no GDP after 2019: nothing to derive
    assert d["source"].notna().all()


def test_real_gdp_is_nominal_over_the_chained_provincial_deflator(built_warehouse: Path,
                                                                  published: pd.DataFrame) -> None:
    panel = published
    d = pd.read_csv(SEED_PROVINCE, dtype={"province_code": str}).sort_values(["province_code", "year"])
    d["yoy"] = 100 * d["gdp_nominal_100m_yuan"] / d.groupby("province_code")["gdp_nominal_100m_yuan"].shift() \
        / (d["gdp_volume_index_prev_year_100"] / 100)
    deflator = _chained(d, "yoy").rename("deflator")
    m = panel.join(deflator, on=["province_code", "year"])
    np.testing.assert_allclose(m["gdp_deflator"], m["deflator"], rtol=1e-12)
    np.testing.assert_allclose(m["gdp_real_10k_yuan"], m["gdp_10k_yuan"] / m["deflator"], rtol=1e-12)
    np.testing.assert_allclose(m["gdp_per_capita_real_yuan"], m["gdp_per_capita_yuan"] / m["deflator"], rtol=1e-12)
    np.testing.assert_allclose(m["ln_gdp_per_capita_real"], np.log(m["gdp_per_capita_yuan"] / m["deflator"]),
                               rtol=1e-12)
    np.testing.assert_allclose(m["industrial_va_real_10k_yuan"], m["industrial_va_10k_yuan"] / m["deflator"],
                               rtol=1e-12)
    # Base year = 1; no deflator, hence no real value, after 2019 (not extrapolated).
    assert np.allclose(m.loc[m.year == BASE_YEAR, "gdp_deflator"], 1.0)
    late = m[m.year >= 2020]
    assert len(late) and late[["gdp_deflator", "gdp_real_10k_yuan", "cpi_index"]].isna().all().all()
    assert m.loc[m.year <= 2019, "gdp_real_10k_yuan"].notna().all()
    # The dictionary labels name the base year.
    labels = q(built_warehouse, "select variable, label_en from marts.variable_dictionary "
                                "where variable in ('gdp_real_10k_yuan', 'gdp_per_capita_real_yuan', "
                                "'ln_gdp_per_capita_real', 'industrial_va_real_10k_yuan', 'gdp_deflator')")
    assert len(labels) == 5 and labels["label_en"].str.contains(str(BASE_YEAR)).all()


def test_cpi_chain_with_national_fallback(built_warehouse: Path) -> None:
    d = pd.read_csv(SEED_PROVINCE, dtype={"province_code": str})
    nat = pd.read_csv(SEED_NATIONAL)[["year", "cpi_prev_year_100"]].rename(columns={"cpi_prev_year_100": "nat"})
    d = d.merge(nat, on="year", how="left")
    d["yoy"] = d["cpi_prev_year_100"].fillna(d["nat"])
    expected = _chained(d, "yoy")
    got = q(built_warehouse, "select * from intermediate.int_prices__deflators").set_index(["province_code", "year"])
    np.testing.assert_allclose(got["cpi_index"], expected.reindex(got.index), rtol=1e-12)
    assert got.loc[got.index.get_level_values("year") >= 2020, "cpi_index"].isna().all()
    assert (got["price_base_year"] == BASE_YEAR).all()


# ----------------------------------------------------------------------------------- coverage

def test_coverage_counts_add_up_and_match_the_panel(built_warehouse: Path, panel: pd.DataFrame) -> None:
    cov = q(built_warehouse, "select * from marts.yearbook_coverage")
    assert not cov.duplicated(["column_name", "year"]).any()
    assert (cov.n_observed + cov.n_imputed + cov.n_missing == cov.n_expected).all()
    np.testing.assert_allclose(cov.share_observed + cov.share_imputed + cov.share_missing, 1.0, rtol=1e-12)
    # Expected = the panel's cities in each year.
    per_year = panel.groupby("year").size()
    assert (cov.n_expected == cov.year.map(per_year)).all()
    # Imputed = the panel's flags; observed + imputed = the panel's non-null values.
    for col in ("fdi_usd_10k", "gdp_10k_yuan"):
        c = cov[cov.column_name == col].set_index("year").sort_index()
        g = panel.groupby("year")
        np.testing.assert_array_equal(c.n_imputed, g[f"{col}_imputed"].sum().sort_index())
        np.testing.assert_array_equal(c.n_observed + c.n_imputed, g[col].count().sort_index())
    # Missing = the planted FDI gaps not filled, plus every column of the ended units' city-years
    # (莱芜 from 2019, not printed), plus the dictionary columns the sample never publishes.
    n_ended = panel[_ended(panel)].groupby("year").size()
    ended = cov.year.map(n_ended).fillna(0)
    fdi = cov[cov.column_name == "fdi_usd_10k"]
    assert fdi.n_imputed.sum() == len(E2E_YEARS) - 2
    assert fdi.n_missing.sum() == 2 + ended[fdi.index].sum()
    written = cov.groupby("column_name")["n_observed"].transform("sum") > 0
    rest = written & (cov.column_name != "fdi_usd_10k")
    assert (cov.loc[rest, "n_missing"] == ended[rest]).all()
    never = cov[~written]
    assert (never.n_missing == never.n_expected).all() and (never.share_missing == 1).all()
    # Other-scope columns are reported too, and never imputed.
    other = cov[cov.column_name.str.endswith("_district")]
    assert len(other) and not other.is_imputable.any()


# ----------------------------------------------------------------------------------- documentation

def test_every_panel_column_and_flag_is_documented(built_warehouse: Path, panel: pd.DataFrame) -> None:
    from dagster_project.commands.export import stata_names

    dictionary = q(built_warehouse, "select * from marts.variable_dictionary")
    assert sorted(set(panel.columns) - set(dictionary["variable"])) == []
    assert dictionary.set_index("variable").loc[list(panel.columns), "label_en"].notna().all()
    # One flag per imputable column: a flag documented for a yearbook column of the panel exists in it.
    flags = {v for v in dictionary["variable"] if v.endswith("_imputed") and v != "n_imputed"}
    expected = {f for f in flags if f.removesuffix("_imputed") in panel.columns}
    assert expected == {c for c in panel.columns if c.endswith("_imputed") and c != "n_imputed"}
    assert panel[sorted(expected)].dtypes.eq(bool).all()
    # The new names fit Stata (32 characters after the export's abbreviations).
    stata_names(list(panel.columns))


def test_derived_controls(published: pd.DataFrame) -> None:
    p = published
    tertiary = (p.emp_total_10k - p.emp_agriculture_10k - p.emp_mining_10k - p.emp_manufacturing_10k
                - p.emp_utilities_10k - p.emp_construction_10k) / p.emp_total_10k
    np.testing.assert_allclose(p.share_tertiary_emp, tertiary, rtol=1e-12)
    assert p.share_tertiary_emp.between(0, 1).all()
    np.testing.assert_allclose(p.energ, p.electricity_industrial_10k_kwh / p.industrial_va_10k_yuan, rtol=1e-12)
    np.testing.assert_allclose(p.fdi_usd_per_10k_yuan_gdp, p.fdi_usd_10k * 1e4 / p.gdp_10k_yuan, rtol=1e-12)
    np.testing.assert_allclose(p.urban_district_pop_share, p.pop_district_10k / p.pop_total_10k, rtol=1e-12)
    assert p.urban_district_pop_share.between(0, 1).all()
    np.testing.assert_allclose(p.pop_density_per_km2, p.pop_total_10k * 1e4 / p.land_area_km2, rtol=1e-12)
    np.testing.assert_allclose(np.log(p.pop_density_per_km2), p.ln_pop_density, rtol=1e-12)
    for log, level in [("ln_gdp", "gdp_10k_yuan"), ("ln_pop_total", "pop_total_10k"), ("ln_fai", "fai_10k_yuan"),
                       ("ln_loans", "loans_10k_yuan"), ("ln_electricity_industrial", "electricity_industrial_10k_kwh")]:
        np.testing.assert_allclose(p[log], np.log(p[level]), rtol=1e-12)
    # The existing columns other tests rely on are still there.
    assert {"co2_mt", "gdp_10k_yuan", "pop_total_10k", "co2_industrial_mt", "robot_exposure",
            "ln_industrial_co2_intensity", "ln_gdp_per_capita", "share_secondary_gdp", "fin_loans_gdp",
            "light_dmsp", "city_cn", "province_cn", "region", "level"} <= set(p.columns)
