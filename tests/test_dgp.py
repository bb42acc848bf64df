"""The planted data-generating process: determinism and the effects it plants."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import twfe
from dagster_project.sample import dgp


def test_simulate_is_deterministic_and_seed_sensitive() -> None:
    a = dgp.simulate(n_cities=30, years=range(2005, 2012), seed=1)
    b = dgp.simulate(n_cities=30, years=range(2005, 2012), seed=1)
    c = dgp.simulate(n_cities=30, years=range(2005, 2012), seed=2)
    pd.testing.assert_frame_equal(a.city_year, b.city_year)
    pd.testing.assert_frame_equal(a.county_year, b.county_year)
    assert not np.allclose(a.city_year["gdp_10k_yuan"], c.city_year["gdp_10k_yuan"])


def test_universe_uses_real_codes_and_extends_synthetically() -> None:
    _, real = dgp.load_universe()
    assert len(real) == 338 and real["city_code"].str.fullmatch(r"\d{6}").all()
    assert {"340800", "110000", "152500"} <= set(real["city_code"])  # 安庆, 北京, 锡林郭勒盟
    _, big = dgp.load_universe(400)
    assert len(big) == 400 and big["synthetic"].sum() == 62
    assert big.loc[big["synthetic"], "city_code"].str.startswith("9").all()


def test_theil_planted_exactly() -> None:
    """The realised within-city Theil index equals the planted target function of ln D up to its noise."""
    t = dgp.simulate(n_cities=80, years=range(2008, 2020), seed=5)
    cy = t.city_year.assign(ln_d=np.log(t.city_year["digital_index"]))
    res = twfe(cy, y="theil_county", x=["ln_d"], unit="city_code", time="year")
    assert abs(res.params["ln_d"] - dgp.DIGITAL_THEIL_BETA) < 3 * res.std_errors["ln_d"] + 1e-3


def test_bigdata_cohorts_and_rings() -> None:
    t = dgp.simulate(years=range(2011, 2020), seed=4)
    cy = t.city_year.merge(t.cities[["city_code", "province_code"]], on="city_code")
    guizhou = cy[cy.province_code == "520000"]
    assert guizhou["bigdata_cohort"].eq(2015).all()
    assert cy.loc[cy.city_code == "440300", "bigdata_cohort"].eq(2017).all()   # 深圳 (PRD)
    assert cy.loc[cy.city_code == "440500", "bigdata_cohort"].isna().all()     # 汕头: Guangdong, not PRD
    # Ring exposure only for untreated cities, and none before the first cohort.
    assert not (cy["bigdata_treated"] & cy["ring_0_100"]).any()
    assert not cy.loc[cy.year < 2015, ["ring_0_100", "ring_100_200", "ring_200_300"]].to_numpy().any()
    att = cy.loc[(cy.bigdata_cohort == 2015) & (cy.year == 2017), "bigdata_att"]
    np.testing.assert_allclose(att, dgp.BIGDATA_ATT_BASE[2015] + 2 * dgp.BIGDATA_ATT_SLOPE[2015])
