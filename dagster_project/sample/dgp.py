"""The planted data-generating process behind the sample data (documented in docs/sample-dgp.md).

`simulate()` draws one latent "truth" for a universe of cities and years. The per-source writers in
this package render that truth into files in the formats publishers ship; the pipeline then has to
recover it. Every planted effect is a module constant so that tests can compare estimates with it.

Contract of `Truth` (the writers rely on these names and units):

- `provinces`: province_code (6-digit, e.g. "340000"), province_cn, province_short, province_en, region
- `cities`: city_code (6-digit GB/T 2260), city_cn, city_short, city_en, province_code, province_cn,
  province_short, province_en, level, seat_lon, seat_lat, synthetic (bool: not a real unit)
- `counties`: county_code, county_cn, county_en, city_code, lon, lat
- `city_year`: one row per (city_code, year); yearbook quantities in canonical units (see
  `YEARBOOK_VARIABLES`), plus latent columns that no yearbook publishes (`LATENT_COLUMNS`)
- `county_year`: county_code, city_code, year, pop_10k, co2_mt
- `province_year`: province_code, year, co2_mt (all sectors), co2_industrial_mt (mining, manufacturing,
  utilities incl. process), co2_process_mt
- `ifr`: country ("CN"/"US"), industry_code (IFR code), year, installations, operational_stock
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt" / "seeds" / "reference"

# ---------------------------------------------------------------- planted effects
# Seed 002: big-data pilot zones lower ln CO2. Cohorts follow seed 002's baseline timing
# (Guizhou 2015, second batch 2017) over the T10 city coding of shared/policies/bigdata_pilot_zone.csv.
BIGDATA_COHORT_PROVINCES = {"520000": 2015, "110000": 2017, "120000": 2017, "130000": 2017,
                            "310000": 2017, "410000": 2017, "500000": 2017, "150000": 2017}
BIGDATA_COHORT_CITIES = {"210100": 2017, "440100": 2017, "440300": 2017, "440400": 2017,
                         "440600": 2017, "441300": 2017, "441900": 2017, "442000": 2017,
                         "440700": 2017, "441200": 2017}
# ATT(g, e) = BIGDATA_ATT_BASE[g] + BIGDATA_ATT_SLOPE[g] * e for event time e >= 0 (log points).
BIGDATA_ATT_BASE = {2015: -0.06, 2017: -0.03}
BIGDATA_ATT_SLOPE = {2015: -0.02, 2017: -0.01}
# Butts ring spillovers on untreated cities within distance bands of a treated city (log points).
RING_BANDS_KM = ((0.0, 100.0), (100.0, 200.0), (200.0, 300.0))
RING_EFFECTS = (-0.030, -0.015, -0.005)

# Seed 004: robot penetration lowers ln industrial CO2 intensity, more strongly above a
# human-capital threshold (college students per person).
ROBOT_BETA_LOW = -0.013
ROBOT_BETA_HIGH = -0.030
HUMAN_CAPITAL_THRESHOLD = 0.035
ROBOT_BASE_YEAR = 2004

# Seed 004 downscaling: city light = LIGHT_PER_CO2 x industrial CO2 (Mt) x exp(c_i + e_it), c_i ~ N(0,
# LIGHT_CITY_SD), e_it ~ N(0, LIGHT_NOISE_SD): CO2 is planted first, light shares depart from CO2 shares.
LIGHT_PER_CO2 = 1000.0
LIGHT_CITY_SD = 0.3
LIGHT_NOISE_SD = 0.08
LIGHT_STREAM = 0x4C49  # "LI"

# Seed 000: digital economy lowers within-city (across-county) emission inequality, measured by the
# population-weighted Theil index; d Theil / d ln D.
DIGITAL_THEIL_BETA = -0.020

# Base-year employment by GB/T 4754-2002 division (the base-employment source): each yearbook section's
# employment is split over its divisions with city-specific Dirichlet shares, so exposure varies within
# manufacturing. Divisions with no IFR industry (wholesale 63, retail 65) take the "other" employment.
# National totals = the sum over the sample's cities x (1 + EMPLOYMENT_OUTSIDE_SHARE) (units outside them).
IFR_TO_EMPLOYMENT = {
    "A-B": "emp_agriculture_10k",
    "C": "emp_mining_10k",
    "D": "emp_manufacturing_10k",
    "E": "emp_utilities_10k",
    "F": "emp_construction_10k",
    "P": "emp_education_10k",
}
UNMAPPED_DIVISIONS = ("63", "65")
MANUFACTURING_DIVISION_CONCENTRATION = 3.0
EMPLOYMENT_OUTSIDE_SHARE = 0.04
EMPLOYMENT_STREAM = 0x454D  # "EM"

# Seed 000's historical instruments (China City Statistical Yearbook 1985, data year 1984): each city's 1984
# telephones per 100 people and post-and-telecom volume per person load on its persistent digital propensity
# (the city mean of the latent logit of D), so the instruments predict the digital index without being a
# function of it; own generator stream, drawn after everything else. HIST_COVERAGE of today's prefectures
# were cities in 1984 (the others were 地区 and are absent from the 1985 edition; municipalities always print).
HIST_STREAM = 0x4849  # "HI"
HIST_YEAR = 1984
HIST_LOADING = 0.6            # d ln(instrument) / d (digital propensity), both instruments
HIST_NOISE_SD = 0.35
HIST_COVERAGE = 0.8
BASE_GBT_VERSION = "2002"
# Unspecified IFR codes spread pro rata over the specified codes under the same parent (documented option).
UNSPECIFIED_IFR_CODES = ("99", "91")
CONCORDANCE_CSV = SEEDS_DIR.parent / "ifr" / "ifr_gbt_concordance.csv"
IFR_INDUSTRIES_CSV = SEEDS_DIR.parent / "ifr" / "ifr_industries.csv"

# Yearbook variables: canonical name -> canonical unit (the writers render headers/units from these).
YEARBOOK_VARIABLES: dict[str, str] = {
    "pop_total_10k": "万人",
    "pop_district_10k": "万人",
    "gdp_10k_yuan": "万元",
    "gdp_district_10k_yuan": "万元",
    "gdp_primary_10k_yuan": "万元",
    "gdp_secondary_10k_yuan": "万元",
    "gdp_tertiary_10k_yuan": "万元",
    "gdp_per_capita_yuan": "元",
    "industrial_va_10k_yuan": "万元",
    "emp_total_10k": "万人",
    "emp_agriculture_10k": "万人",
    "emp_mining_10k": "万人",
    "emp_manufacturing_10k": "万人",
    "emp_utilities_10k": "万人",
    "emp_construction_10k": "万人",
    "emp_it_10k": "万人",
    "emp_education_10k": "万人",
    "emp_other_10k": "万人",
    "telecom_revenue_10k_yuan": "万元",
    "broadband_subscribers_10k": "万户",
    "mobile_subscribers_10k": "万户",
    "postal_revenue_10k_yuan": "万元",
    "electricity_total_10k_kwh": "万千瓦时",
    "electricity_industrial_10k_kwh": "万千瓦时",
    "electricity_residential_10k_kwh": "万千瓦时",
    "gas_supply_10k_m3": "万立方米",
    "lpg_supply_ton": "吨",
    "fai_10k_yuan": "万元",
    "fdi_usd_10k": "万美元",
    "loans_10k_yuan": "万元",
    "fiscal_revenue_10k_yuan": "万元",
    "fiscal_expenditure_10k_yuan": "万元",
    "education_expenditure_10k_yuan": "万元",
    "st_expenditure_10k_yuan": "万元",
    "college_students": "人",
    "green_coverage_pct": "%",
    "land_area_km2": "平方公里",
    "built_up_area_km2": "平方公里",
    "retail_sales_10k_yuan": "万元",
    "library_books_1k": "千册",
    "road_passengers_10k": "万人",
    "road_freight_10k_ton": "万吨",
    "passenger_turnover_10k_pkm": "万人公里",
    "freight_turnover_10k_tkm": "万吨公里",
}
LATENT_COLUMNS = [
    "digital_index", "bigdata_cohort", "bigdata_treated", "bigdata_att", "ring_0_100", "ring_100_200",
    "ring_200_300", "robot_exposure", "human_capital", "co2_mt", "co2_industrial_mt", "light_index",
    "theil_county", "in_ceads", "bigdata_energy_effect", "heat_hot_water_10k_gj", "heat_chp_10k_gj",
    "heat_boiler_10k_gj", "heat_steam_10k_ton",
]
# Energy inputs of the energy-accounting CO2 (issue 11): every one is multiplied by exp(ATT + rings), so the
# accounting total (a sum of input x factor terms with factors that do not depend on treatment) carries
# exactly the planted big-data-zone effect in logs, whatever the factors are.
ENERGY_INPUTS = (
    "electricity_total_10k_kwh", "electricity_industrial_10k_kwh", "electricity_residential_10k_kwh",
    "gas_supply_10k_m3", "lpg_supply_ton", "passenger_turnover_10k_pkm", "freight_turnover_10k_tkm",
    "road_passengers_10k", "road_freight_10k_ton", "heat_hot_water_10k_gj", "heat_chp_10k_gj",
    "heat_boiler_10k_gj", "heat_steam_10k_ton",
)
# Provinces whose sample cities have central heating (the northern heating zone, roughly the provinces north
# of the Qinling-Huaihe line); cities elsewhere are absent from the urban-construction heating table.
HEATING_PROVINCES = ("110000", "120000", "130000", "140000", "150000", "210000", "220000", "230000", "370000",
                     "410000", "610000", "620000", "630000", "640000", "650000", "540000")
# Planted national transport energy intensities (SYNTHETIC, not published figures): kgce per 100 passenger-km
# and per 100 tonne-km in 2003, falling by TRANSPORT_INTENSITY_DECLINE a year. Rendered as the user-supplied
# intensity table (sample/transport.py); docs/energy-co2.md gives its layout.
TRANSPORT_INTENSITY_2003 = {"passenger": 3.0, "freight": 4.0}
TRANSPORT_INTENSITY_DECLINE = 0.01


@dataclass
class Truth:
    """The latent world the sample files are rendered from."""

    seed: int
    years: list[int]
    provinces: pd.DataFrame
    cities: pd.DataFrame
    counties: pd.DataFrame
    city_year: pd.DataFrame
    county_year: pd.DataFrame
    province_year: pd.DataFrame
    ifr: pd.DataFrame
    base_employment: pd.DataFrame | None = None
    historical: pd.DataFrame | None = None


def load_universe(n_cities: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (provinces, cities) from the reference seeds; more than the real count adds synthetic units."""
    provinces = pd.read_csv(SEEDS_DIR / "provinces.csv", dtype=str).drop(columns="source")
    cities = pd.read_csv(SEEDS_DIR / "cities.csv", dtype={"city_code": str, "province_code": str})
    cities = cities.drop(columns="source").merge(provinces, on="province_code", how="left")
    cities["synthetic"] = False
    if n_cities is not None and n_cities < len(cities):
        # Keep a deterministic, geographically spread subset: every k-th city in code order.
        idx = np.linspace(0, len(cities) - 1, n_cities).round().astype(int)
        cities = cities.iloc[np.unique(idx)].reset_index(drop=True)
    elif n_cities is not None and n_cities > len(cities):
        cities = pd.concat([cities, _synthetic_cities(cities, n_cities - len(cities))], ignore_index=True)
    return provinces, cities


def _synthetic_cities(real: pd.DataFrame, n: int) -> pd.DataFrame:
    """Make `n` synthetic units (codes 9xxxxx, which GB/T 2260 does not use) near real seats."""
    rng = np.random.default_rng(20260101)
    base = real.iloc[np.arange(n) % len(real)].reset_index(drop=True).copy()
    k = np.arange(1, n + 1)
    base["city_code"] = [f"9{i:05d}" for i in k]
    base["city_cn"] = [f"合成{i:05d}市" for i in k]
    base["city_short"] = [f"合成{i:05d}" for i in k]
    base["city_en"] = [f"Synthetic{i:05d}" for i in k]
    base["level"] = "synthetic"
    base["seat_lon"] = base["seat_lon"] + rng.uniform(-0.6, 0.6, n)
    base["seat_lat"] = base["seat_lat"] + rng.uniform(-0.6, 0.6, n)
    base["synthetic"] = True
    return base


def haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between seat coordinates (broadcasts)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


# ---------------------------------------------------------------- counties
def load_counties(cities: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Return the real county-level units (cpca table) under the universe's cities, synthetic ones elsewhere."""
    from importlib import resources

    from pypinyin import lazy_pinyin

    text = resources.files("cpca").joinpath("resources/adcodes.csv").read_text(encoding="utf-8")
    ad = pd.read_csv(pd.io.common.StringIO(text), dtype={"adcode": str})
    ad = ad[ad["adcode"].str.endswith("000000")].copy()
    ad["code"] = ad["adcode"].str[:6]
    ad = ad[(ad["code"].str[4:6] != "00") & (ad["name"] != "市辖区")]
    municipal = {c[:2] for c in cities.loc[cities["level"] == "municipality", "city_code"]}
    ad["city_code"] = np.where(ad["code"].str[:2].isin(municipal), ad["code"].str[:2] + "0000",
                               ad["code"].str[:4] + "00")
    real = ad[ad["city_code"].isin(set(cities["city_code"]))]
    out = pd.DataFrame({
        "county_code": real["code"].to_numpy(),
        "county_cn": real["name"].to_numpy(),
        "county_en": ["".join(lazy_pinyin(n)).capitalize() for n in real["name"]],
        "city_code": real["city_code"].to_numpy(),
        "lon": real["longitude"].astype(float).round(6).to_numpy(),
        "lat": real["latitude"].astype(float).round(6).to_numpy(),
    })
    # Cities without any county row in the table (and synthetic cities) get 4 synthetic county units.
    missing = cities[~cities["city_code"].isin(set(out["city_code"]))]
    extra = []
    for _, c in missing.iterrows():
        for k in range(1, 5):
            extra.append({"county_code": f"{c['city_code'][:4]}{80 + k:02d}",
                          "county_cn": f"{c['city_short']}合成{k}县",
                          "county_en": f"{c['city_en']}Synthetic{k}", "city_code": c["city_code"],
                          "lon": round(c["seat_lon"] + rng.uniform(-0.3, 0.3), 6),
                          "lat": round(c["seat_lat"] + rng.uniform(-0.3, 0.3), 6)})
    if extra:
        out = pd.concat([out, pd.DataFrame(extra)], ignore_index=True)
    return out.sort_values("county_code").reset_index(drop=True)


# ---------------------------------------------------------------- simulation
def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def bigdata_cohorts(cities: pd.DataFrame) -> pd.Series:
    """Planted big-data-zone cohort (first treated year) per city; NaN = never treated."""
    cohort = cities["province_code"].map(BIGDATA_COHORT_PROVINCES)
    by_city = cities["city_code"].map(BIGDATA_COHORT_CITIES)
    return by_city.fillna(cohort).where(~cities["synthetic"], np.nan).astype(float)


def ring_exposure(cities: pd.DataFrame, cohort: pd.Series, years: list[int]) -> dict[str, np.ndarray]:
    """Ring indicators (city x year): an untreated city has a treated city within each distance band."""
    lon, lat = cities["seat_lon"].to_numpy(), cities["seat_lat"].to_numpy()
    dist = haversine_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    np.fill_diagonal(dist, np.inf)
    g = cohort.to_numpy()
    out = {}
    for (lo, hi) in RING_BANDS_KM:
        in_band = (dist > lo) & (dist <= hi)
        m = np.zeros((len(cities), len(years)), dtype=bool)
        for t, year in enumerate(years):
            treated_now = np.nan_to_num(g, nan=np.inf) <= year
            m[:, t] = (in_band & treated_now[None, :]).any(axis=1) & ~treated_now
        out[f"ring_{int(lo)}_{int(hi)}"] = m
    return out


def simulate(n_cities: int | None = None, years: range | list[int] = range(2003, 2022), seed: int = 20240601) -> Truth:
    """Draw the latent city-year world with the planted effects documented in docs/sample-dgp.md."""
    rng = np.random.default_rng(seed)
    out_years = [int(y) for y in years]
    # The Bartik base year is always simulated so that robot exposure uses the employment the yearbook
    # prints for it; it is dropped from the outputs again if it was not asked for.
    years = sorted(set(out_years) | {ROBOT_BASE_YEAR})
    provinces, cities = load_universe(n_cities)
    n, T = len(cities), len(years)
    tt = np.array(years, dtype=float)[None, :] - 2003.0          # time since 2003
    region = cities["region"].map({"east": 0.35, "northeast": 0.05, "central": 0.0, "west": -0.2}).to_numpy()[:, None]
    muni = (cities["level"] == "municipality").to_numpy()[:, None]

    def city_draw(loc: float, scale: float) -> np.ndarray:
        return rng.normal(loc, scale, size=(n, 1))

    def noise(scale: float) -> np.ndarray:
        return rng.normal(0.0, scale, size=(n, T))

    # ---------- population, output, structure
    pop0 = np.exp(city_draw(np.log(380), 0.55) + 1.3 * muni)
    pop = pop0 * np.exp(city_draw(0.004, 0.004) * tt) * np.exp(noise(0.004))
    pop_district = pop * _logistic(city_draw(-0.4, 0.6) + 1.5 * muni + 0.02 * tt)
    price = 1.03 ** tt                                              # national price level, 2003 = 1
    g_real = city_draw(0.095, 0.015) - 0.035 * (tt > 9)             # slower growth after 2012
    gdppc_real = 11000 * np.exp(region + city_draw(0, 0.35) + 0.7 * muni + np.cumsum(
        np.where(np.arange(T)[None, :] == 0, 0, g_real + noise(0.01)), axis=1) + g_real * tt[:, :1])
    gdppc = gdppc_real * price
    gdp = gdppc * pop                                               # 元 x 万人 = 万元
    s1 = np.clip(_logistic(city_draw(-1.7, 0.5) - 0.04 * tt), 0.002, 0.5)
    s2 = np.clip(_logistic(city_draw(-0.05, 0.25) - 0.015 * tt - 1.0 * muni), 0.15, 0.75) * (1 - s1)
    s3 = 1 - s1 - s2
    iva = 0.86 * s2 * gdp

    # ---------- digital economy (latent index D in (0, 1))
    d_lat = city_draw(-3.0, 0.45) + 1.2 * region + 1.0 * muni + city_draw(0.16, 0.03) * tt + noise(0.05)
    digital = np.clip(_logistic(d_lat), 0.01, 0.95)

    # ---------- employment by section (城镇单位从业人员, 万人)
    emp_total = pop * np.clip(city_draw(0.11, 0.03) + 0.002 * tt, 0.04, 0.4)
    base_shares = rng.dirichlet([2, 4, 30, 2, 10, 1.5, 10, 40], size=n)   # agri mining manu util constr it edu other
    it_share = 0.004 + 0.03 * digital
    manu_trend = base_shares[:, 2:3] * np.exp(-0.01 * tt + noise(0.01))
    shares = np.repeat(base_shares[:, :, None], T, axis=2)
    shares[:, 2, :] = manu_trend
    shares[:, 5, :] = it_share
    shares[:, 7, :] = 0
    shares[:, 7, :] = np.clip(1 - shares.sum(axis=1), 0.05, None)
    shares = shares / shares.sum(axis=1, keepdims=True)
    emp_names = ["emp_agriculture_10k", "emp_mining_10k", "emp_manufacturing_10k", "emp_utilities_10k",
                 "emp_construction_10k", "emp_it_10k", "emp_education_10k", "emp_other_10k"]
    emp = {name: shares[:, k, :] * emp_total for k, name in enumerate(emp_names)}

    # ---------- IFR robots (national, by industry) and the Bartik exposure
    ifr = _simulate_ifr(rng, years)
    b = years.index(ROBOT_BASE_YEAR)
    emp_b = {name: emp[name][:, b] for name in emp_names}
    base_employment = simulate_base_employment(np.random.default_rng([seed, EMPLOYMENT_STREAM]),
                                               cities["city_code"].to_numpy(), emp_b)
    robot = bartik_exposure(base_employment, ifr, years, city_codes=cities["city_code"].to_numpy(), country="CN",
                            measure="installations")
    college = pop * 1e4 * np.exp(city_draw(np.log(0.012), 0.75) + 0.05 * tt + noise(0.02))
    human_capital = college / (pop * 1e4)

    # ---------- big-data zones: cohorts, ATT(g, e), ring spillovers
    cohort = bigdata_cohorts(cities)
    g = cohort.to_numpy()[:, None]
    year_arr = np.array(years)[None, :]
    treated = np.nan_to_num(g, nan=np.inf) <= year_arr
    e = np.where(treated, year_arr - np.nan_to_num(g, nan=0), 0)
    base = np.vectorize(lambda c: BIGDATA_ATT_BASE.get(int(c), 0.0) if np.isfinite(c) else 0.0)(g)
    slope = np.vectorize(lambda c: BIGDATA_ATT_SLOPE.get(int(c), 0.0) if np.isfinite(c) else 0.0)(g)
    att = np.where(treated, base + slope * e, 0.0)
    rings = ring_exposure(cities, cohort, years)
    spill = sum(eff * rings[k] for eff, k in zip(RING_EFFECTS, rings, strict=True))

    # ---------- emissions
    iva_real = iva / price
    lnindco = (city_draw(np.log(2.2), 0.35) - 0.03 * tt + noise(0.03)
               + np.where(human_capital > HUMAN_CAPITAL_THRESHOLD, ROBOT_BETA_HIGH, ROBOT_BETA_LOW) * robot)
    co2_ind = np.exp(lnindco) * iva_real / 1e6                    # t per 万元 x 万元 -> Mt (real 2003 prices)
    co2_other0 = co2_ind * np.exp(city_draw(np.log(0.9), 0.25) + 0.01 * tt + noise(0.03))
    co2_base = co2_ind + co2_other0
    co2 = co2_base * np.exp(att + spill)                           # zone effect falls on non-industrial CO2
    # Light is drawn AFTER city industrial CO2 and differs from it by a city level and yearly noise (own
    # generator stream, so the draws of everything else stay as they were): light shares are not CO2 shares,
    # so downscaling recovers city CO2 only approximately; the noise is independent of robots, so the seed-004
    # regression on the downscaled measure stays unbiased (classical error in the outcome).
    rng_light = np.random.default_rng([seed, LIGHT_STREAM])
    light = (LIGHT_PER_CO2 * co2_ind * np.exp(rng_light.normal(0.0, LIGHT_CITY_SD, size=(n, 1))
                                             + rng_light.normal(0.0, LIGHT_NOISE_SD, size=(n, T))))

    # ---------- other yearbook quantities (canonical units)
    cy = {
        "pop_total_10k": pop, "pop_district_10k": pop_district, "gdp_10k_yuan": gdp,
        "gdp_district_10k_yuan": gdp * np.clip(pop_district / pop * np.exp(city_draw(0.25, 0.1)), 0.05, 1.0),
        "gdp_primary_10k_yuan": s1 * gdp, "gdp_secondary_10k_yuan": s2 * gdp, "gdp_tertiary_10k_yuan": s3 * gdp,
        "gdp_per_capita_yuan": gdppc, "industrial_va_10k_yuan": iva, "emp_total_10k": emp_total, **emp,
        "telecom_revenue_10k_yuan": gdp * (0.012 + 0.03 * digital) * np.exp(noise(0.05)),
        "broadband_subscribers_10k": pop * np.clip(0.02 + 0.42 * digital + noise(0.01), 0.002, None),
        "mobile_subscribers_10k": pop * np.clip(0.15 + 1.25 * digital + noise(0.02), 0.05, None),
        "postal_revenue_10k_yuan": gdp * (0.0015 + 0.008 * digital ** 1.5) * np.exp(noise(0.05)),
        "electricity_total_10k_kwh": electricity_use(gdppc_real, pop, 0.095, noise(0.04)),
        "fai_10k_yuan": gdp * np.clip(city_draw(0.55, 0.15) + 0.01 * tt + noise(0.05), 0.15, 1.4),
        "fdi_usd_10k": gdp * np.exp(city_draw(np.log(0.02), 0.9) + noise(0.15)) / 6.5,
        "loans_10k_yuan": gdp * np.exp(city_draw(np.log(0.9), 0.35) + 0.03 * tt + noise(0.03)),
        "fiscal_revenue_10k_yuan": gdp * np.exp(city_draw(np.log(0.07), 0.25) + noise(0.04)),
        "fiscal_expenditure_10k_yuan": gdp * np.exp(city_draw(np.log(0.13), 0.35) + 0.015 * tt + noise(0.04)),
        "college_students": college,
        "green_coverage_pct": np.clip(city_draw(33, 5) + 0.5 * tt + noise(1.0), 5, 65),
        "land_area_km2": np.repeat(np.exp(city_draw(np.log(12000), 0.7)), T, axis=1),
        "built_up_area_km2": np.exp(city_draw(np.log(60), 0.6) + 0.035 * tt + 0.9 * muni),
        "retail_sales_10k_yuan": gdp * np.clip(city_draw(0.36, 0.08) + 0.003 * tt + noise(0.01), 0.1, 0.8),
        "library_books_1k": pop * np.exp(city_draw(np.log(3.0), 0.6) + 0.04 * tt + noise(0.02)),
    }
    ind_share = _logistic(city_draw(0.4, 0.3) + noise(0.02))
    cy["electricity_industrial_10k_kwh"] = cy["electricity_total_10k_kwh"] * np.clip(ind_share, 0.3, 0.85)
    cy["electricity_residential_10k_kwh"] = cy["electricity_total_10k_kwh"] * np.clip(
        _logistic(city_draw(-1.9, 0.3) + 0.02 * tt + noise(0.02)), 0.04, 0.3)
    cy["gas_supply_10k_m3"] = pop * np.exp(city_draw(np.log(2.5), 1.0) + 0.12 * tt + noise(0.05))
    cy["lpg_supply_ton"] = pop * 1e4 * np.exp(city_draw(np.log(0.004), 0.8) - 0.02 * tt + noise(0.05))
    cy["education_expenditure_10k_yuan"] = cy["fiscal_expenditure_10k_yuan"] * np.clip(
        _logistic(city_draw(-1.6, 0.2) + noise(0.03)), 0.08, 0.3)
    cy["st_expenditure_10k_yuan"] = cy["fiscal_expenditure_10k_yuan"] * np.clip(
        _logistic(city_draw(-4.0, 0.6) + 0.03 * tt + noise(0.05)), 0.002, 0.12)

    effect = np.exp(att + spill)                                   # zone + ring effect on every energy input
    for k in ("electricity_total_10k_kwh", "electricity_industrial_10k_kwh", "electricity_residential_10k_kwh",
              "gas_supply_10k_m3", "lpg_supply_ton"):
        cy[k] = cy[k] * effect

    latent = {
        "digital_index": digital, "bigdata_cohort": np.repeat(g, T, axis=1), "bigdata_treated": treated,
        "bigdata_att": att, **rings, "robot_exposure": robot, "human_capital": human_capital,
        "co2_mt": co2, "co2_industrial_mt": co2_ind, "light_index": light,
    }
    in_ceads = _ceads_coverage(rng, cities, years)
    frames = {k: v.reshape(-1) for k, v in {**cy, **latent}.items()}
    city_year = pd.DataFrame({"city_code": np.repeat(cities["city_code"].to_numpy(), T),
                              "year": np.tile(np.array(years), n), **frames})
    city_year["bigdata_cohort"] = city_year["bigdata_cohort"].astype("Int64")
    city_year["in_ceads"] = in_ceads.reshape(-1)

    counties = load_counties(cities, rng)
    county_year, theil = _simulate_counties(rng, cities, counties, years, city_year, digital)
    city_year["theil_county"] = theil.reshape(-1)
    # Drawn after everything above so that adding them left every earlier draw unchanged.
    energy = _simulate_energy(rng, cities, tt, pop, gdp / price, effect, city_draw, noise)
    for k, v in energy.items():
        city_year[k] = v.reshape(-1)
    city_year["bigdata_energy_effect"] = (att + spill).reshape(-1)
    province_year = (city_year.assign(province_code=np.repeat(cities["province_code"].to_numpy(), T))
                     .groupby(["province_code", "year"], as_index=False)[["co2_mt", "co2_industrial_mt"]].sum())
    province_year["co2_mt"] *= 1.05                                # emissions outside the sample cities
    province_year["co2_process_mt"] = 0.08 * province_year["co2_industrial_mt"]
    keep = set(out_years)
    return Truth(seed=seed, years=out_years, provinces=provinces, cities=cities, counties=counties,
                 city_year=city_year[city_year["year"].isin(keep)].reset_index(drop=True),
                 county_year=county_year[county_year["year"].isin(keep)].reset_index(drop=True),
                 province_year=province_year[province_year["year"].isin(keep)].reset_index(drop=True),
                 ifr=ifr, base_employment=base_employment,
                 historical=simulate_historical(np.random.default_rng([seed, HIST_STREAM]), cities,
                                                d_propensity=d_lat.mean(axis=1), pop=pop[:, 0]))


def simulate_historical(rng: np.random.Generator, cities: pd.DataFrame, *, d_propensity: np.ndarray,
                        pop: np.ndarray) -> pd.DataFrame:
    """1984 telephones per 100 people and post-and-telecom volume (万元) per city, and whether it printed."""
    n = len(cities)
    z = (d_propensity - d_propensity.mean()) / d_propensity.std()
    muni = (cities["level"] == "municipality").to_numpy()
    printed = muni | (rng.random(n) < HIST_COVERAGE)
    pop_1984 = pop * np.exp(rng.normal(np.log(0.8), 0.05, n))                     # 万人, smaller than today
    phones = np.exp(np.log(1.5) + HIST_LOADING * z + rng.normal(0, HIST_NOISE_SD, n))   # 部 per 100 people
    per_capita = np.exp(np.log(12.0) + HIST_LOADING * z + rng.normal(0, HIST_NOISE_SD, n))  # 元 per person
    return pd.DataFrame({"city_code": cities["city_code"].to_numpy(), "year": HIST_YEAR, "printed": printed,
                         "pop_1984_10k": pop_1984, "phones_per_100": phones,
                         "post_telecom_volume_10k_yuan": pop_1984 * per_capita, "digital_propensity": z})


def _simulate_energy(rng: np.random.Generator, cities: pd.DataFrame, tt: np.ndarray, pop: np.ndarray,
                     gdp_real: np.ndarray, effect: np.ndarray, city_draw: Callable[[float, float], np.ndarray],
                     noise: Callable[[float], np.ndarray]) -> dict[str, np.ndarray]:
    """Transport turnover and volumes (yearbook) and central-heating supply (urban construction), x effect."""
    pkm = pop * 500.0 * np.exp(city_draw(0.0, 0.4) + 0.02 * tt + noise(0.04)) * effect       # 万人公里
    tkm = gdp_real * 0.09 * np.exp(city_draw(0.0, 0.5) + noise(0.04)) * effect               # 万吨公里
    trip_km = np.exp(city_draw(np.log(60.0), 0.2))
    haul_km = np.exp(city_draw(np.log(110.0), 0.25))
    heating = cities["province_code"].isin(HEATING_PROVINCES).to_numpy()[:, None]
    hot_water = pop * np.exp(city_draw(np.log(0.65), 0.5) + 0.04 * tt + noise(0.04)) * effect  # 万吉焦
    chp_share = np.clip(_logistic(city_draw(0.4, 0.6) + noise(0.02)), 0.05, 0.95)
    steam = hot_water * np.exp(city_draw(np.log(0.08), 0.6) + noise(0.05))                   # 万吨
    return {
        "passenger_turnover_10k_pkm": pkm,
        "freight_turnover_10k_tkm": tkm,
        "road_passengers_10k": pkm / trip_km,
        "road_freight_10k_ton": tkm / haul_km,
        "heat_hot_water_10k_gj": np.where(heating, hot_water, np.nan),
        "heat_chp_10k_gj": np.where(heating, hot_water * chp_share, np.nan),
        "heat_boiler_10k_gj": np.where(heating, hot_water * (1 - chp_share), np.nan),
        "heat_steam_10k_ton": np.where(heating, steam, np.nan),
    }


def transport_intensities(years: list[int]) -> pd.DataFrame:
    """The planted national transport energy intensities (kgce per 100 pkm / tkm) per year."""
    decline = 1 - TRANSPORT_INTENSITY_DECLINE
    rows = [{"year": y, "mode": mode, "kgce_per_100_units": round(v0 * decline ** (y - 2003), 4)}
            for y in years for mode, v0 in TRANSPORT_INTENSITY_2003.items()]
    return pd.DataFrame(rows)


MANUFACTURING_CODES = ("10-12", "13-15", "16", "17-18", "19-22", "23", "24", "25", "26-27", "28", "29", "30", "91")
_IFR_CN_SHARES = {"A-B": 0.003, "C": 0.004, "10-12": 0.03, "13-15": 0.006, "16": 0.004, "17-18": 0.004,
                  "19-22": 0.07, "23": 0.015, "24": 0.03, "25": 0.08, "26-27": 0.27, "28": 0.05, "29": 0.28,
                  "30": 0.01, "91": 0.02, "E": 0.003, "F": 0.002, "P": 0.01, "90": 0.01, "99": 0.098}


def load_concordance(version: str = BASE_GBT_VERSION) -> pd.DataFrame:
    """GB/T division -> exposure group (one row per division) of one GB/T 4754 edition, from the seed."""
    conc = pd.read_csv(CONCORDANCE_CSV, dtype=str)
    return conc[conc["gbt_version"] == version].reset_index(drop=True)


def simulate_base_employment(rng: np.random.Generator, city_codes: np.ndarray,
                             emp_b: dict[str, np.ndarray]) -> pd.DataFrame:
    """Base-year employment (10k persons) per city x GB/T division, plus national rows (city_code 000000)."""
    conc = pd.read_csv(CONCORDANCE_CSV, dtype=str)
    conc = conc[conc["gbt_version"] == BASE_GBT_VERSION]
    manuf = set(MANUFACTURING_CODES)
    frames = []
    for code, column in IFR_TO_EMPLOYMENT.items():
        in_section = conc["ifr_code"].isin(manuf) if code == "D" else conc["ifr_code"] == code
        divisions = sorted(conc.loc[in_section, "gbt_division"].unique())
        alpha = MANUFACTURING_DIVISION_CONCENTRATION if code == "D" else 5.0
        split = rng.dirichlet(np.full(len(divisions), alpha), size=len(city_codes))
        frames.append((divisions, split * emp_b[column][:, None]))
    other = rng.dirichlet(np.full(len(UNMAPPED_DIVISIONS), 5.0), size=len(city_codes))
    frames.append((list(UNMAPPED_DIVISIONS), other * emp_b["emp_other_10k"][:, None]
                   + other * emp_b["emp_it_10k"][:, None]))
    rows = [pd.DataFrame({"city_code": np.repeat(city_codes, len(d)), "gbt_division": np.tile(d, len(city_codes)),
                          "employment_10k": v.reshape(-1)}) for d, v in frames]
    city = pd.concat(rows, ignore_index=True)
    national = (city.groupby("gbt_division", as_index=False)["employment_10k"].sum()
                .assign(city_code="000000"))
    national["employment_10k"] *= 1 + EMPLOYMENT_OUTSIDE_SHARE
    out = pd.concat([city, national[city.columns]], ignore_index=True)
    return out.sort_values(["city_code", "gbt_division"]).reset_index(drop=True)


def allocate_unspecified(robots: pd.Series) -> pd.Series:
    """Spread each unspecified IFR code over the concordance codes under its parent, pro rata to their counts."""
    ind = pd.read_csv(IFR_INDUSTRIES_CSV, dtype=str)
    parent = dict(zip(ind["ifr_code"], ind["parent_code"], strict=True))
    leaves = [c for c in pd.read_csv(CONCORDANCE_CSV, dtype=str)["ifr_code"].unique()
              if c not in UNSPECIFIED_IFR_CODES]
    out = robots.reindex(leaves).fillna(0.0).astype(float)
    base = out.copy()
    for code in UNSPECIFIED_IFR_CODES:
        # Leaves under the same parent: 99 (parent All) -> every leaf; 91 (parent D) -> manufacturing leaves.
        under = [c for c in leaves if parent[code] == "All" or parent.get(c) == parent[code]]
        out[under] += robots.get(code, 0.0) * base[under] / base[under].sum()
    return out


def bartik_exposure(base_employment: pd.DataFrame, ifr: pd.DataFrame, years: list[int], *, city_codes: np.ndarray,
                    country: str, measure: str) -> np.ndarray:
    """Planted robot exposure (city x year, robots per 10k workers): sum_g L_ig/L_i x R_gt/L_g (eq. 21)."""
    conc = load_concordance()
    groups = conc.drop_duplicates("gbt_division").set_index("gbt_division")["exposure_group"]
    ifr_group = dict(zip(conc["ifr_code"], conc["exposure_group"], strict=False))
    emp = base_employment.assign(group=base_employment["gbt_division"].map(groups))
    cities = emp[emp["city_code"] != "000000"]
    share = (cities.pivot_table(index="city_code", columns="group", values="employment_10k", aggfunc="sum")
             .div(cities.groupby("city_code")["employment_10k"].sum(), axis=0))
    national = emp[emp["city_code"] == "000000"].groupby("group")["employment_10k"].sum()
    sub = ifr[ifr["country"] == country]
    robots = np.zeros((len(share), len(years)))
    for t, year in enumerate(years):
        r = allocate_unspecified(sub[sub["year"] == year].set_index("industry_code")[measure].astype(float))
        by_group = r.groupby(r.index.map(ifr_group)).sum()
        robots[:, t] = (share[national.index] * (by_group.reindex(national.index) / national)).sum(axis=1)
    return pd.DataFrame(robots, index=share.index).loc[list(city_codes)].to_numpy()


def electricity_use(gdppc_real: np.ndarray, pop: np.ndarray, k: float, eps: np.ndarray) -> np.ndarray:
    """Electricity use (万千瓦时) rising less than one-for-one with real output."""
    return k * (gdppc_real ** 0.85) * pop * np.exp(eps)


def _simulate_ifr(rng: np.random.Generator, years: list[int]) -> pd.DataFrame:
    """National robot installations and operational stock by IFR industry for CN and US."""
    rows = []
    for country, level, mid, steep in (("CN", 300000.0, 2017.0, 0.35), ("US", 40000.0, 2005.0, 0.12)):
        t = np.array(years, dtype=float)
        total = level / (1 + np.exp(-steep * (t - mid))) + (5000 if country == "US" else 500)
        for code, share in _IFR_CN_SHARES.items():
            s = share * np.exp(rng.normal(0, 0.08, len(years)))
            inst = np.round(total * s).astype(int)
            # Operational stock: perpetual inventory with 10% annual depreciation (12-year service life).
            stock = np.zeros(len(years))
            prev = inst[0] * 5.0
            for k in range(len(years)):
                prev = 0.9 * prev + inst[k]
                stock[k] = prev
            rows += [{"country": country, "industry_code": code, "year": y, "installations": int(i),
                      "operational_stock": round(s_)} for y, i, s_ in zip(years, inst, stock, strict=True)]
    return pd.DataFrame(rows)


def _ceads_coverage(rng: np.random.Generator, cities: pd.DataFrame, years: list[int]) -> np.ndarray:
    """Which city-years CEADs publishes: ~85% of cities, with gaps that widen after 2017 (as in the real file)."""
    n, T = len(cities), len(years)
    covered_city = rng.random(n) < 0.86
    p_year = np.array([0.95 if y <= 2017 else 0.62 for y in years])
    return covered_city[:, None] & (rng.random((n, T)) < p_year[None, :])


def _theil(pop_share: np.ndarray, z: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Population-weighted Theil index T_p = sum p ln(cbar / c) for per-capita c = exp(sigma z), per sigma."""
    c = np.exp(np.asarray(sigma)[..., None] * z)
    cbar = (pop_share * c).sum(axis=-1, keepdims=True)
    return (pop_share * np.log(cbar / c)).sum(axis=-1)


def _solve_sigma(p: np.ndarray, z: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Vectorised bisection for the dispersion giving each target Theil index (T increases in sigma >= 0)."""
    lo, hi = np.zeros_like(target), np.full_like(target, 8.0)
    for _ in range(45):
        mid = (lo + hi) / 2
        below = _theil(p, z, mid) < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


def _simulate_counties(rng: np.random.Generator, cities: pd.DataFrame, counties: pd.DataFrame, years: list[int],
                       city_year: pd.DataFrame, digital: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """County CO2 whose within-city Theil index follows theta_i + lambda_t + DIGITAL_THEIL_BETA ln D."""
    n, T = len(cities), len(years)
    theta_i = rng.uniform(0.08, 0.30, n)
    lam = 0.01 * np.sin(np.arange(T) / 3.0)
    target = np.clip(theta_i[:, None] + lam[None, :] + DIGITAL_THEIL_BETA * np.log(digital)
                     + rng.normal(0, 0.005, (n, T)), 0.01, None)
    co2 = city_year["co2_mt"].to_numpy().reshape(n, T)
    popm = city_year["pop_total_10k"].to_numpy().reshape(n, T)
    theil = np.zeros((n, T))
    groups = counties.groupby("city_code").indices
    codes, city_codes, yrs, pops, ems = [], [], [], [], []
    county_codes = counties["county_code"].to_numpy()
    for i, code in enumerate(cities["city_code"]):
        idx = groups[code]
        k = len(idx)
        p = rng.dirichlet(np.full(k, 3.0))
        z = rng.normal(0, 1, k)
        z = z - (p * z).sum()                                       # population-weighted mean zero
        sig = _solve_sigma(p, z, target[i]) if k > 1 else np.zeros(T)
        c = np.exp(sig[:, None] * z[None, :])                       # T x k per-capita multipliers
        em = co2[i][:, None] * (p * c) / (p * c).sum(axis=1, keepdims=True)
        theil[i] = _theil(p, z, sig) if k > 1 else 0.0
        codes.append(np.tile(county_codes[idx], T))
        city_codes.append(np.full(T * k, code))
        yrs.append(np.repeat(np.array(years), k))
        pops.append((popm[i][:, None] * p[None, :]).reshape(-1))
        ems.append(em.reshape(-1))
    county_year = pd.DataFrame({"county_code": np.concatenate(codes), "city_code": np.concatenate(city_codes),
                                "year": np.concatenate(yrs), "pop_10k": np.concatenate(pops),
                                "co2_mt": np.concatenate(ems)})
    return county_year, theil
