"""The measure marts on the built sample warehouse: documented, identities hold in SQL, PIM and convergence columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import query as q

MEASURE_TABLES = ["inequality_year", "inequality_city_year", "digital_index", "digital_index_weights",
                  "productivity", "factor_bias", "city_year_measures"]


def test_measure_marts_documented(built_warehouse: Path) -> None:
    """Every column of every measure mart has a dictionary row."""
    documented = set(q(built_warehouse, "select variable from marts.variable_dictionary")["variable"])
    for table in MEASURE_TABLES:
        cols = q(built_warehouse, f"select * from marts.{table} limit 0").columns
        assert sorted(set(cols) - documented) == [], table


def test_theil_identities_in_sql(built_warehouse: Path) -> None:
    """Between + within = total per year and grouping; the city terms sum to the national Theil (1e-12)."""
    gap = q(built_warehouse, """
        select year, grouping,
               max(case when measure = 'theil_L' then value end)
             - sum(case when measure in ('theil_L_between', 'theil_L_within') then value else 0 end) as gap
        from marts.inequality_year where variable = 'co2_per_capita' group by year, grouping""")
    assert len(gap) > 10 and gap["gap"].abs().max() < 1e-12
    terms = q(built_warehouse, """
        select c.year, sum(c.theil_city_term) as s, any_value(y.value) as total
        from marts.inequality_city_year c
        join marts.inequality_year y on y.year = c.year and y.variable = 'co2_per_capita'
             and y.measure = 'theil_L' and y.grouping = 'region'
        group by c.year""")
    assert len(terms) > 10 and np.abs(terms["s"] - terms["total"]).max() < 1e-12
    dagum = q(built_warehouse, """
        select year, variable, sum(case when measure like 'dagum_%' then value end)
               - max(case when measure = 'gini' and grouping = 'national' then value end) as gap
        from marts.inequality_year group by year, variable having count(*) filter (where measure like 'dagum_%') > 0""")
    assert dagum["gap"].abs().max() < 1e-12


def test_county_theil_present(built_warehouse: Path) -> None:
    """The within-city Theil across counties exists for the county product's years and is non-negative."""
    t = q(built_warehouse, "select * from marts.inequality_city_year where theil_county is not null")
    assert len(t) > 100 and (t["theil_county"] >= 0).all() and (t["n_counties"] >= 2).all()


def test_digital_index_and_weights(built_warehouse: Path) -> None:
    """Indices in [0, 1]; the entropy weights sum to 1 for each variant, method and year."""
    d = q(built_warehouse, "select * from marts.digital_index")
    topsis = [c for c in d.columns if c.startswith("de_topsis")]
    values = d[topsis].to_numpy().ravel()
    values = values[~np.isnan(values)]
    assert len(topsis) == 4 and ((values >= 0) & (values <= 1)).all() and d[topsis].notna().mean().min() > 0.5
    w = q(built_warehouse, "select variant, method, year, sum(weight) s from marts.digital_index_weights "
                           "where method like 'topsis%' group by all")
    assert np.allclose(w["s"], 1, atol=1e-12)


def test_luenberger_components_in_sql(built_warehouse: Path) -> None:
    """LPEC + LSEC + LPTP + LTPSC = L in the mart; the global frontier leaves nothing infeasible."""
    p = q(built_warehouse, "select * from marts.productivity")
    assert set(p["spec"]) == {"T", "GT"} and set(p["frontier"]) == {"contemporaneous", "global"}
    ok = p.dropna(subset=["luenberger", "lptp"])
    assert np.abs(ok[["lpec", "lsec", "lptp", "ltpsc"]].sum(axis=1) - ok["luenberger"]).max() < 1e-10
    assert p.loc[p["frontier"] == "global", "luenberger"].notna().all()
    bias = q(built_warehouse, "select * from marts.factor_bias")
    assert {"ibtech", "bias_K_L", "bias_K_E", "bias_L_E"} <= set(bias.columns) and len(bias) > 100


def test_capital_stock_recursion(built_warehouse: Path) -> None:
    """The closed-form PIM column satisfies K_t = 0.95 K_t-1 + I_t row by row (1e-9 relative)."""
    k = q(built_warehouse, "select city_code, year, capital_stock_10k_yuan k, investment_real_10k_yuan i "
                           "from intermediate.int_capital__stock order by city_code, year")
    prev = k.groupby("city_code")["k"].shift()
    ok = prev.notna() & k["k"].notna()
    assert ok.sum() > 500
    np.testing.assert_allclose(k.loc[ok, "k"], 0.95 * prev[ok] + k.loc[ok, "i"], rtol=1e-9)
    panel = q(built_warehouse, "select capital_stock_10k_yuan, ln_capital_stock from marts.city_year_panel "
                               "where capital_stock_10k_yuan is not null")
    np.testing.assert_allclose(np.exp(panel["ln_capital_stock"]), panel["capital_stock_10k_yuan"], rtol=1e-12)


def test_convergence_columns(built_warehouse: Path) -> None:
    """ln_co2_growth = ln_co2 − ln_co2_initial, and it is 0 in the base year."""
    p = q(built_warehouse, "select city_code, year, ln_co2, ln_co2_initial, ln_co2_growth, co2_base_year "
                           "from marts.city_year_panel where ln_co2_growth is not null")
    assert len(p) > 100
    np.testing.assert_allclose(p["ln_co2_growth"], p["ln_co2"] - p["ln_co2_initial"], atol=1e-12)
    assert p.loc[p["year"] == p["co2_base_year"], "ln_co2_growth"].abs().max() == pytest.approx(0, abs=1e-12)
