"""Carbon inequality on the real CEADs files: provincial shares in 2019, city per-capita Gini and Theil by year.

The numbers asserted here are the ones docs/inequality.md reports (and explains against seed 000's quotes).
The real city inventory has no population: city CO2 is divided by the resident population of the 2010 and
2020 censuses (../shared/data/census), log-linearly interpolated for 2011-2019.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.inequality import dagum, gini, theil
from dagster_project.config import DBT_DIR
from dagster_project.sources.ceads import read_city_inventory, read_provincial_inventories

MUNICIPALITY_PREFIXES = {"11", "12", "31", "50"}


@pytest.fixture(scope="module")
def provinces_2019(shared_data: Path) -> pd.Series:
    """Scope-1 total CO2 (energy + process, Mt) of the 30 provinces in the CEADs 2019 inventory."""
    t = read_provincial_inventories(shared_data / "ceads" / "provincial").table
    tot = t[t["is_total_row"] & t["is_total_col"] & (t["year"] == 2019)]
    return tot.set_index("province_en")["co2_mt"].sort_values(ascending=False)


def test_provincial_shares_2019(provinces_2019: pd.Series) -> None:
    """Top five 37.00% and bottom ten 13.42% of the 30 provinces' CO2 in 2019 (seed 000: 36.65% and 13.10%)."""
    share = provinces_2019 / provinces_2019.sum()
    assert len(share) == 30
    assert list(share.index[:5]) == ["Shandong", "Hebei", "Jiangsu", "InnerMongolia", "Guangdong"]
    assert 100 * share.iloc[:5].sum() == pytest.approx(37.00, abs=0.005)
    assert 100 * share.iloc[-10:].sum() == pytest.approx(13.42, abs=0.005)
    # the paper's figures are within half a percentage point: same source, a different vintage or scope
    assert abs(100 * share.iloc[:5].sum() - 36.65) < 0.5 and abs(100 * share.iloc[-10:].sum() - 13.10) < 0.5


@pytest.fixture(scope="module")
def city_per_capita(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """City CO2 (CEADs, resolved by the curated alias seed) with census population, 2010-2019."""
    folder = tmp_path_factory.mktemp("ceads_city")
    name = "The_Emission_Inventories_for_290_Chinese_Cities_from_1997_to_2019.xlsx"
    (folder / name).symlink_to(shared_data / "ceads" / name)
    city = read_city_inventory(folder).table
    aliases = pd.read_csv(DBT_DIR / "seeds" / "crosswalk" / "city_name_aliases.csv", dtype=str)
    aliases = aliases[aliases["alias_kind"] == "ceads_city"].drop_duplicates("alias")
    city = city.merge(aliases[["alias", "city_code"]], left_on="ceads_name", right_on="alias", how="left")
    assert city["city_code"].notna().all()
    census = pd.read_csv(shared_data / "census" / "census_city_2010-2020_v1.csv", dtype={"city_code": str,
                         "province_code": str}, usecols=["city_code", "province_code", "popu_2010", "popu_2020"])
    census = census.rename(columns={"city_code": "census_code"})
    code = census["census_code"]
    census["panel_code"] = code.where(~(code.str[:2].isin(MUNICIPALITY_PREFIXES) & code.str.endswith("0100")),
                                      code.str[:2] + "0000")
    df = city[city["year"].between(2010, 2019)].merge(census, left_on="city_code", right_on="panel_code", how="left")
    # 巢湖 (abolished 2011), 莱芜 (merged 2019) and 石河子 (XPCC) have no 2010+2020 census row
    no_pop = df[df["popu_2010"].isna() | df["popu_2020"].isna()]
    assert set(no_pop["ceads_name"]) == {"安徽巢湖", "山东莱芜", "新疆石河子"} and len(no_pop) == 12
    df = df.drop(no_pop.index)
    df["pop"] = df["popu_2010"] * (df["popu_2020"] / df["popu_2010"]) ** ((df["year"] - 2010) / 10)
    return df.assign(co2_pc=df["co2_mt"] * 1e6 / df["pop"])


# year: (cities, Theil L, between provinces, population-weighted Gini of per-capita CO2, Gini of total CO2)
EXPECTED = {2010: (254, 0.2735, 0.0842, 0.3975, 0.4653), 2013: (258, 0.3088, 0.1022, 0.4238, 0.4610),
            2016: (222, 0.3266, 0.1182, 0.4355, 0.4711), 2019: (170, 0.3632, 0.1860, 0.4639, 0.4978)}


def test_city_per_capita_inequality_by_year(city_per_capita: pd.DataFrame) -> None:
    """Theil L (population-weighted) and Gini of city per-capita CO2 by year, as docs/inequality.md reports (1e-4)."""
    for year, (n, t_l, between, g_pc, g_tot) in EXPECTED.items():
        cell = city_per_capita[city_per_capita["year"] == year]
        t = theil(cell["co2_pc"], cell["pop"], cell["province_code"])
        assert len(cell) == n
        assert t.total == pytest.approx(t_l, abs=1e-4) and t.between == pytest.approx(between, abs=1e-4)
        assert t.between + t.within == pytest.approx(t.total, abs=1e-12)
        assert gini(cell["co2_pc"], cell["pop"]) == pytest.approx(g_pc, abs=1e-4)
        assert gini(cell["co2_mt"]) == pytest.approx(g_tot, abs=1e-4)
        d = dagum(cell["co2_mt"], cell["province_code"].str[:2])
        assert d.within + d.net_between + d.transvariation == pytest.approx(d.gini, abs=1e-12)


def test_balanced_cities_trend(city_per_capita: pd.DataFrame) -> None:
    """The 103 cities published every year 2010-2019: the Theil still rises (0.262 → 0.372), not a coverage artefact."""
    years = city_per_capita.groupby("city_code")["year"].nunique()
    keep = years[years == 10].index
    bal = city_per_capita[city_per_capita["city_code"].isin(keep)]
    assert len(keep) == 103
    series = {y: theil(c["co2_pc"], c["pop"]).total for y, c in bal.groupby("year")}
    assert series[2010] == pytest.approx(0.2623, abs=1e-4) and series[2019] == pytest.approx(0.3715, abs=1e-4)
    assert (np.diff(list(series.values())) > 0).all()       # rises every year (seed 000: falls after 2016)
