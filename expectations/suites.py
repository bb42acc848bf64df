"""The data-quality suites: one function per validated table, returning a GX ExpectationSuite.

GX 1.x cannot validate DuckDB tables through SQL (GX #10738, #11579), so every suite is run on the
table loaded as a pandas DataFrame (`expectations.validate.validate`) inside a blocking Dagster check.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import great_expectations as gx
    import great_expectations.expectations as gxe
else:
    class _LazyModule:
        """A module imported on first attribute access: GX costs seconds, and the Dagster definitions
        import this file only for the list of suites; the suites are built when a check runs."""

        def __init__(self, name: str) -> None:
            self._name = name
            self._module: ModuleType | None = None

        def __getattr__(self, attr: str) -> Any:
            if self._module is None:
                self._module = importlib.import_module(self._name)
            return getattr(self._module, attr)

    gx = _LazyModule("great_expectations")
    gxe = _LazyModule("great_expectations.expectations")

MIN_YEAR, MAX_YEAR = 1990, 2035


def city_year_panel() -> gx.ExpectationSuite:
    """The panel: unique (city_code, year) keys, codes in GB/T 2260 form, plausible magnitudes."""
    return gx.ExpectationSuite(name="marts.city_year_panel", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["city_code", "year"]),
        gxe.ExpectColumnValuesToNotBeNull(column="city_code"),
        gxe.ExpectColumnValuesToNotBeNull(column="year"),
        gxe.ExpectColumnValuesToMatchRegex(column="city_code", regex=r"^\d{6}$"),
        gxe.ExpectColumnValuesToBeBetween(column="year", min_value=MIN_YEAR, max_value=MAX_YEAR),
        gxe.ExpectColumnValuesToBeBetween(column="co2_mt", min_value=0, max_value=2000),
        gxe.ExpectColumnValuesToBeBetween(column="pop_total_10k", min_value=1, max_value=5000),
        gxe.ExpectColumnValuesToBeBetween(column="gdp_10k_yuan", min_value=0, strict_min=True),
        gxe.ExpectColumnValuesToBeBetween(column="share_secondary_gdp", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="robot_exposure", min_value=0),
        gxe.ExpectColumnValuesToNotBeNull(column="gdp_10k_yuan", mostly=0.9),
    ])


def ceads_city_emissions() -> gx.ExpectationSuite:
    """CEADs city inventory: one value per name-year, non-negative, years in range."""
    return gx.ExpectationSuite(name="raw.ceads_city_emissions", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["ceads_name", "year"]),
        gxe.ExpectColumnValuesToNotBeNull(column="co2_mt"),
        gxe.ExpectColumnValuesToBeBetween(column="co2_mt", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="year", min_value=MIN_YEAR, max_value=MAX_YEAR),
    ])


def ceads_county_emissions() -> gx.ExpectationSuite:
    """County CO2: unique county-year, six-digit codes, years in range."""
    return gx.ExpectationSuite(name="raw.ceads_county_emissions", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["county_code", "year"]),
        gxe.ExpectColumnValuesToMatchRegex(column="county_code", regex=r"^\d{6}$"),
        gxe.ExpectColumnValuesToBeBetween(column="year", min_value=MIN_YEAR, max_value=MAX_YEAR),
    ])


def ifr_robots() -> gx.ExpectationSuite:
    """IFR: non-negative counts, one row per country-industry-year."""
    return gx.ExpectationSuite(name="raw.ifr_robots", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["country", "industry_code", "year"]),
        gxe.ExpectColumnValuesToBeBetween(column="installations", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="operational_stock", min_value=0),
    ])


def nightlights() -> gx.ExpectationSuite:
    """Night lights: one row per unit-year-sensor (a municipality is both a city and a province), sums >= 0."""
    return gx.ExpectationSuite(name="raw.nightlights", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["city_code", "unit_kind", "year", "sensor"]),
        gxe.ExpectColumnValuesToBeInSet(column="sensor", value_set=["dmsp", "viirs"]),
        gxe.ExpectColumnValuesToBeBetween(column="sum_light", min_value=0),
    ])


def ceads_provincial_emissions() -> gx.ExpectationSuite:
    """CEADs provincial cells: one value per located cell, canonical vocabularies, years in range."""
    return gx.ExpectationSuite(name="raw.ceads_provincial_emissions", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["source_file", "sheet", "row", "column"]),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["province_en", "year", "sector_raw", "fuel_raw"]),
        gxe.ExpectColumnValuesToNotBeNull(column="sector"),
        gxe.ExpectColumnValuesToNotBeNull(column="fuel"),
        gxe.ExpectColumnValuesToBeInSet(column="layout", value_set=["1997-2017", "2018-"]),
        gxe.ExpectColumnValuesToBeBetween(column="year", min_value=MIN_YEAR, max_value=MAX_YEAR),
    ])


def dim_city() -> gx.ExpectationSuite:
    """The city dimension: unique six-digit codes, classifications from their closed vocabularies."""
    return gx.ExpectationSuite(name="marts.dim_city", expectations=[
        gxe.ExpectColumnValuesToBeUnique(column="city_code"),
        gxe.ExpectColumnValuesToMatchRegex(column="city_code", regex=r"^\d{6}$"),
        gxe.ExpectColumnValuesToBeInSet(column="region", value_set=["east", "central", "west", "northeast"]),
        gxe.ExpectColumnValuesToBeInSet(column="north_south", value_set=["north", "south"]),
        gxe.ExpectColumnValuesToBeInSet(column="resource_city_type",
                                        value_set=["growing", "mature", "declining", "regenerating"]),
        gxe.ExpectColumnValuesToNotBeNull(column="seat_lon"),
    ])


def _dim_city_codes(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The codes of marts.dim_city, the value set of every emission table's city_code."""
    return [r[0] for r in conn.execute("select city_code from marts.dim_city").fetchall()]


def ceads_city_co2(conn: duckdb.DuckDBPyConnection) -> gx.ExpectationSuite:
    """City CO2 after name resolution: unique city-years, non-negative, every city_code in dim_city."""
    return gx.ExpectationSuite(name="intermediate.int_emissions__city_co2", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["city_code", "year"]),
        gxe.ExpectColumnValuesToBeInSet(column="city_code", value_set=_dim_city_codes(conn)),
        gxe.ExpectColumnValuesToBeBetween(column="co2_mt", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="year", min_value=MIN_YEAR, max_value=MAX_YEAR),
    ])


def county_city_co2(conn: duckdb.DuckDBPyConnection) -> gx.ExpectationSuite:
    """County CO2 summed to cities: every mapped city_code in dim_city."""
    return gx.ExpectationSuite(name="intermediate.int_emissions__county_city_co2", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["city_code", "year"]),
        gxe.ExpectColumnValuesToBeInSet(column="city_code", value_set=_dim_city_codes(conn)),
    ])


def energy_city_co2() -> gx.ExpectationSuite:
    """CO2 from energy use: unique city-years, non-negative components, grid factors in the published range."""
    return gx.ExpectationSuite(name="intermediate.int_energy__city_co2", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["city_code", "year"]),
        *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in (
            "co2_energy_total", "co2_energy_electricity", "co2_energy_industrial_electricity",
            "co2_energy_residential_electricity", "co2_energy_heat", "co2_energy_transport", "co2_energy_direct")],
        # The published regional factors span 0.21 (BM 南方) to 1.12 (OM 东北) t CO2 per MWh.
        gxe.ExpectColumnValuesToBeBetween(column="grid_factor_t_per_mwh", min_value=0.2, max_value=1.2),
        gxe.ExpectColumnValuesToNotBeNull(column="co2_energy_total", mostly=0.9),
    ])


def _static(fn: Callable[[], gx.ExpectationSuite]) -> Callable[[duckdb.DuckDBPyConnection], gx.ExpectationSuite]:
    """Adapt a suite that needs no reference data to the (connection) -> suite signature."""
    return lambda _conn: fn()


# (schema, table) -> a function of the warehouse connection (for suites whose value sets are data).
SUITES: dict[tuple[str, str], Callable[[duckdb.DuckDBPyConnection], gx.ExpectationSuite]] = {
    ("marts", "city_year_panel"): _static(city_year_panel),
    ("marts", "dim_city"): _static(dim_city),
    ("raw", "ceads_city_emissions"): _static(ceads_city_emissions),
    ("raw", "ceads_provincial_emissions"): _static(ceads_provincial_emissions),
    ("raw", "ceads_county_emissions"): _static(ceads_county_emissions),
    ("raw", "ifr_robots"): _static(ifr_robots),
    ("raw", "nightlights"): _static(nightlights),
    ("intermediate", "int_emissions__city_co2"): ceads_city_co2,
    ("intermediate", "int_emissions__county_city_co2"): county_city_co2,
    ("intermediate", "int_energy__city_co2"): _static(energy_city_co2),
}
