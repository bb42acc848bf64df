"""The measure asset's inequality tables against the one-set functions applied year by year and city by city.

`inequality_tables` computes every year (and year x region, city x year) at once with the per-cell functions;
the reference below loops over the cells with `theil`, `gini` and `dagum` (each checked against closed forms
in test_inequality_indices.py) and lays the rows out as the table is documented. Achieved ≤ 1e-14 relative,
asserted 1e-12 relative (+1e-15 absolute for terms that are 0 up to rounding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.inequality import dagum, gini, theil
from dagster_project.assets.measures import inequality_tables


@pytest.fixture()
def panel() -> pd.DataFrame:
    """60 cities x 6 years in 3 regions and 9 provinces, with missing, zero and negative values."""
    rng = np.random.default_rng(21)
    cities = pd.DataFrame({"city_code": [f"{110000 + 100 * i}" for i in range(60)],
                           "province_code": [f"{10 + i % 9}" for i in range(60)]})
    cities["region"] = cities["province_code"].map(lambda p: ["east", "central", "west"][int(p) % 3])
    cities.loc[59, "region"] = "northeast"                   # a region of one city: no regional Gini
    df = cities.merge(pd.DataFrame({"year": np.arange(2010, 2016, dtype="int32")}), how="cross")
    n = len(df)
    df["pop_total_10k"] = rng.uniform(50, 900, n)
    df["co2_mt"] = rng.lognormal(2, 0.8, n)
    df["co2_intensity_t_per_10k_yuan"] = rng.lognormal(0, 0.5, n)
    df.loc[rng.random(n) < 0.05, "co2_mt"] = np.nan
    df.loc[rng.random(n) < 0.03, "co2_mt"] = 0.0
    df.loc[rng.random(n) < 0.03, "pop_total_10k"] = np.nan
    df.loc[rng.random(n) < 0.05, "co2_intensity_t_per_10k_yuan"] = -1.0
    df.loc[df.sample(20, random_state=1).index, "co2_intensity_t_per_10k_yuan"] = 1.25      # ties
    return df.sort_values(["city_code", "year"], ignore_index=True)


@pytest.fixture()
def counties(panel: pd.DataFrame) -> pd.DataFrame:
    """1-9 counties per city (some cities none) for 2010-2013."""
    rng = np.random.default_rng(4)
    rows = []
    for i, city in enumerate(panel["city_code"].unique()[:50]):
        for k in range(1 + i % 9):
            for year in range(2010, 2014):
                rows.append((city, year, f"{city[:4]}{k:02d}", float(rng.lognormal(0, 1))))
    return pd.DataFrame(rows, columns=["city_code", "year", "county_code", "co2_mt"]).astype({"year": "int32"})


def reference_year_level(panel: pd.DataFrame) -> pd.DataFrame:
    """The long table by loops over years and regions with the one-set functions."""
    rows = []
    pc = panel[(panel["co2_mt"] > 0) & (panel["pop_total_10k"] > 0)]
    for year, cell in pc.groupby("year", sort=True):
        x, w = cell["co2_mt"] / cell["pop_total_10k"], cell["pop_total_10k"]
        for grouping in ("province_code", "region"):
            t = theil(x, w, cell[grouping])
            for measure, value in (("theil_L", t.total), ("theil_L_between", t.between),
                                   ("theil_L_within", t.within)):
                rows.append((year, "co2_per_capita", measure, grouping, "all", value, len(cell)))
    for var in ("co2_mt", "co2_intensity_t_per_10k_yuan"):
        ok = panel[panel[var] > 0]
        for year, cell in ok.groupby("year", sort=True):
            rows.append((year, var, "gini", "national", "all", gini(cell[var]), len(cell)))
            for region, sub in cell.groupby("region", sort=True):
                if len(sub) >= 2:
                    rows.append((year, var, "gini", "region", region, gini(sub[var]), len(sub)))
            d = dagum(cell[var], cell["region"])
            for measure in ("within", "net_between", "transvariation"):
                rows.append((year, var, f"dagum_{measure}", "region", "all", getattr(d, measure), len(cell)))
    return pd.DataFrame(rows, columns=["year", "variable", "measure", "grouping", "group_value", "value", "n"])


def test_year_level_equals_loops(panel: pd.DataFrame, counties: pd.DataFrame) -> None:
    """Same rows in the same order, same dtypes, values within 1e-12 relative of the year-by-year loops."""
    got, _ = inequality_tables(panel, counties)
    want = reference_year_level(panel)
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    assert (got.dtypes == want.dtypes).all(), (got.dtypes, want.dtypes)
    key = ["year", "variable", "measure", "grouping", "group_value", "n"]
    pd.testing.assert_frame_equal(got[key], want[key])
    np.testing.assert_allclose(got["value"], want["value"], rtol=1e-12, atol=1e-15)
    assert not ((got["grouping"] == "region") & (got["group_value"] == "northeast")).any()


def test_city_year_equals_loops(panel: pd.DataFrame, counties: pd.DataFrame) -> None:
    """The city's term of the national Theil and the within-city Theil across counties, city-year by city-year."""
    _, city = inequality_tables(panel, counties)
    pc = panel[(panel["co2_mt"] > 0) & (panel["pop_total_10k"] > 0)]
    terms = {}
    for year, cell in pc.groupby("year"):
        share = cell["pop_total_10k"] / cell["pop_total_10k"].sum()
        mean = cell["co2_mt"].sum() / cell["pop_total_10k"].sum()
        per_capita = cell["co2_mt"] / cell["pop_total_10k"]
        terms.update({(c, year): v for c, v in zip(cell["city_code"], share * np.log(mean / per_capita),
                                                   strict=True)})
        # the terms add up to the national Theil L of the year
        assert sum(share * np.log(mean / per_capita)) == pytest.approx(theil(per_capita, cell["pop_total_10k"]).total,
                                                                       abs=1e-12)
    by_key = city.set_index(["city_code", "year"])
    assert by_key.index.is_unique
    got = by_key["theil_city_term"].dropna()
    assert len(got) == len(terms)
    np.testing.assert_allclose(got.to_numpy(), [terms[k] for k in got.index], rtol=1e-12, atol=1e-15)
    for (c, year), cell in counties.groupby(["city_code", "year"]):
        row = by_key.loc[(c, year)]
        assert row["n_counties"] == len(cell) and row["n_counties_dropped"] == 0
        if len(cell) >= 2:
            assert row["theil_county"] == pytest.approx(theil(cell["co2_mt"]).total, rel=1e-12, abs=1e-15)
        else:
            assert np.isnan(row["theil_county"])


def test_no_usable_co2_gives_empty_tables(panel: pd.DataFrame, counties: pd.DataFrame) -> None:
    """Without a positive CO2 value the year-level table is empty (as the loops gave), not an error."""
    got, city = inequality_tables(panel.assign(co2_mt=np.nan, co2_intensity_t_per_10k_yuan=0.0), counties)
    assert got.empty and list(got.columns) == list(reference_year_level(panel).columns)
    assert city["theil_city_term"].isna().all() and city["theil_county"].notna().any()
