"""The data-quality suites: one function per validated table, returning a GX ExpectationSuite.

GX 1.x cannot validate DuckDB tables through SQL (GX #10738, #11579), so every suite is run on the
table loaded as a pandas DataFrame (`expectations.validate.validate`) inside a blocking Dagster check.
"""

from __future__ import annotations

from collections.abc import Callable

import great_expectations as gx
import great_expectations.expectations as gxe

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
    """Night lights: one row per city-year-sensor, non-negative sums."""
    return gx.ExpectationSuite(name="raw.nightlights", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["city_code", "year", "sensor"]),
        gxe.ExpectColumnValuesToBeInSet(column="sensor", value_set=["dmsp", "viirs"]),
        gxe.ExpectColumnValuesToBeBetween(column="sum_light", min_value=0),
    ])


SUITES: dict[tuple[str, str], Callable[[], gx.ExpectationSuite]] = {
    ("marts", "city_year_panel"): city_year_panel,
    ("raw", "ceads_city_emissions"): ceads_city_emissions,
    ("raw", "ceads_county_emissions"): ceads_county_emissions,
    ("raw", "ifr_robots"): ifr_robots,
    ("raw", "nightlights"): nightlights,
}
