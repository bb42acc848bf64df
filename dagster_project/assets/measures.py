"""Measure marts: carbon inequality, digital-economy indices and green productivity, computed in Python.

Tables (schema `marts`, documented in marts.variable_dictionary through seeds/dictionary/measure_variables.csv):
- `inequality_year`: per year, Theil L of per-capita CO2 (population-weighted, seed 000 eq. 1) with its
  between/within split by province and by region, Gini of CO2 and CO2 intensity (seed 001 eqs. 4-5)
  nationally and within each region, and Dagum's decomposition by region. Long: year, variable, measure,
  grouping, group_value, value, n.
- `inequality_city_year`: the within-city Theil across the city's counties (CEADs county product) and the
  city's term in the national Theil.
- `digital_index` / `digital_index_weights`: entropy-TOPSIS (pooled and by-year normalisation) and PCA
  indices of the digital-economy indicators, with the weights per year.
- `productivity`: Luenberger indicator and its four parts for production (T: K, L -> real GDP) and green
  (GT: + CO2 as a weakly disposable bad output) productivity, slacks-based inefficiency (non-radial DDF,
  Fukuyama-Weber), contemporaneous and global frontiers. `factor_bias`: Malmquist input-biased technical
  change and the seed 000 Table 3 classification for K, L and energy.
- `city_year_measures`: the city-year columns above side by side (join to marts.city_year_panel on
  city_code, year).
"""


from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from dagster_project.resources import Warehouse

if TYPE_CHECKING:        # pandas is imported inside the functions: the definitions must load light
    import pandas as pd

PANEL = dg.AssetKey(["marts", "city_year_panel"])
COUNTY = dg.AssetKey(["intermediate", "int_emissions__county_city_map"])

# Digital-economy indicator sets (panel columns). Seed 000 §3.3 lists five indicators and Zhao et al. (2020)
# five; the PKU Digital Financial Inclusion Index of both is not in the warehouse (no source under
# ../shared), so each index is built on the four yearbook indicators and the weights table says so.
DIGITAL_INDICATORS: dict[str, list[str]] = {
    "seed000": ["telecom_revenue_10k_yuan", "emp_it_10k", "broadband_subscribers_10k", "mobile_subscribers_10k"],
    "zhao2020": ["broadband_per_capita", "it_employment_share", "telecom_revenue_per_capita",
                 "mobile_per_capita"],
}
MISSING_INDICATOR = "digital_financial_inclusion_index (PKU DFIIC; no source in the warehouse)"

# DEA specification: inputs, good output, bad output (panel columns), direction g = (−K, −L, Y, −CO2).
DEA_INPUTS = ["capital_stock_10k_yuan", "emp_total_10k"]
DEA_GOOD = ["gdp_real_10k_yuan"]
DEA_BAD = ["co2_mt"]
ENERGY = "electricity_total_10k_kwh"     # the yearbook's only city energy total (electricity), for factor bias

# The panel columns the measures use (the panel has ~220): reading only these is most of the read's time saved.
PANEL_COLUMNS = list(dict.fromkeys(
    ["city_code", "year", "province_code", "region", "co2_mt", "pop_total_10k", "co2_intensity_t_per_10k_yuan",
     "telecom_revenue_10k_yuan", *(c for cols in DIGITAL_INDICATORS.values() for c in cols
                                   if c != "telecom_revenue_per_capita"),     # derived in digital_tables
     *DEA_INPUTS, *DEA_GOOD, *DEA_BAD, ENERGY]))


def _write(conn: object, name: str, frame: "pd.DataFrame") -> None:
    """Replace marts.<name> with the frame."""
    conn.execute("create schema if not exists marts")
    conn.register("_frame", frame)
    conn.execute(f"create or replace table marts.{name} as select * from _frame")
    conn.unregister("_frame")


def inequality_tables(panel: "pd.DataFrame", counties: "pd.DataFrame") -> "tuple[pd.DataFrame, pd.DataFrame]":
    """Year-level inequality (long) and city-year within-city Theil across counties."""
    import numpy as np
    import pandas as pd

    from analysis.inequality import dagum_cells, gini_cells, theil_cells

    # Every measure is computed for all years (or year x region cells) at once; `_order` keeps the rows in the
    # order of the long table: per variable, per year, Theil by province then by region / national Gini,
    # regional Ginis by region, then Dagum's three parts.
    parts = []

    def add(frame: "pd.DataFrame", *, variable: str, measure: str, grouping: str, value: str, order: int) -> None:
        """Append one measure per year (or per year and region) to the long table."""
        parts.append(pd.DataFrame({"year": frame["year"], "variable": variable, "measure": measure,
                                   "grouping": grouping, "group_value": frame.get("group_value", "all"),
                                   "value": frame[value], "n": frame["n"], "_order": order}))

    pc = panel[(panel["co2_mt"] > 0) & (panel["pop_total_10k"] > 0)]
    x, w = pc["co2_mt"] / pc["pop_total_10k"], pc["pop_total_10k"]
    for slot, grouping in enumerate(("province_code", "region") if len(pc) else ()):
        t = theil_cells(x, cells=pc["year"], weights=w, groups=pc[grouping]).rename_axis("year").reset_index()
        for k, (measure, col) in enumerate((("theil_L", "total"), ("theil_L_between", "between"),
                                            ("theil_L_within", "within"))):
            add(t, variable="co2_per_capita", measure=measure, grouping=grouping, value=col, order=3 * slot + k)
    for var in ("co2_mt", "co2_intensity_t_per_10k_yuan"):
        ok = panel[panel[var] > 0]
        if ok.empty:
            continue
        d = dagum_cells(ok[var], cells=ok["year"], groups=ok["region"]).rename_axis("year").reset_index()
        add(d, variable=var, measure="gini", grouping="national", value="gini", order=0)
        g = gini_cells(ok[var], cells=ok[["year", "region"]]).to_frame()
        g = g.join(ok.groupby(["year", "region"]).size().rename("n")).reset_index()
        add(g[g["n"] >= 2].rename(columns={"region": "group_value"}), variable=var, measure="gini",
            grouping="region", value="gini", order=1)
        for k, measure in enumerate(("within", "net_between", "transvariation")):
            add(d, variable=var, measure=f"dagum_{measure}", grouping="region", value=measure, order=2 + k)
    columns = ["year", "variable", "measure", "grouping", "group_value", "value", "n", "_order"]
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    long["_variable"] = long["variable"].map({"co2_per_capita": 0, "co2_mt": 1, "co2_intensity_t_per_10k_yuan": 2})
    # stable: the regional Ginis keep their region order
    long = long.sort_values(["_variable", "year", "_order"], kind="stable", ignore_index=True)
    # year and n as BIGINT, as the table has always been written
    year_level = long.drop(columns=["_variable", "_order"]).astype({"year": "int64", "n": "int64"})

    # City's own term p_i ln(c̄ / c_i) of the national Theil L (seed 000 §3.2 candidate (b)).
    # Yearly totals by numpy's pairwise sum over each year's rows (19 slices): the same rounding as the Series
    # sums these terms were first published with (a grouped sum is compensated and differs in the last bit).
    pop, co2 = pc["pop_total_10k"].to_numpy(), pc["co2_mt"].to_numpy()
    total_pop, total_co2 = np.empty(len(pc)), np.empty(len(pc))
    for rows in pc.groupby("year").indices.values():
        total_pop[rows], total_co2[rows] = pop[rows].sum(), co2[rows].sum()
    city = pc[["city_code", "year"]].assign(
        theil_city_term=(pop / total_pop) * np.log((total_co2 / total_pop) / x.to_numpy()))
    within = _county_theil(counties)
    return year_level, city.merge(within, on=["city_code", "year"], how="outer")


def _county_theil(counties: "pd.DataFrame") -> "pd.DataFrame":
    """Theil L across each city's counties in a year: equal weights, plus per-capita/per-GDP where weights exist.

    Equal weights: T = mean ln(μ / CO2_c), inequality of county emission levels. With a `population` or
    `gdp` column (from the optional county weights input): the weighted Theil L of CO2 per person / per
    unit of GDP, as seed 000 weights cities.
    """
    import pandas as pd

    from analysis.inequality import inequality_by

    cols = ["city_code", "year", "theil_county", "n_counties", "n_counties_dropped"]
    if counties.empty:
        return pd.DataFrame(columns=cols)
    out = inequality_by(counties, value="co2_mt", by=["city_code", "year"])
    out = out.rename(columns={"theil": "theil_county", "n": "n_counties", "n_dropped": "n_counties_dropped"})[cols]
    for weight in ("population", "gdp"):
        if weight in counties and counties[weight].notna().any():
            ratio = counties.assign(_ratio=counties["co2_mt"] / counties[weight])
            w = inequality_by(ratio, value="_ratio", weight=weight, by=["city_code", "year"])
            out = out.merge(w[["city_code", "year", "theil"]].rename(columns={"theil": f"theil_county_{weight}"}),
                            on=["city_code", "year"], how="left")
    return out


COUNTY_WEIGHTS_FILE = Path("counties") / "county_weights.csv"
COUNTY_WEIGHTS_COLUMNS = {"county_code", "year"}


def read_county_weights(raw_dir: Path) -> "pd.DataFrame | None":
    """The optional county weights input (<raw>/counties/county_weights.csv), or None when absent.

    Layout: one row per county and year, columns county_code (6-digit GB/T 2260, as the CEADs county file),
    year, and population (persons) and/or gdp (any constant unit); UTF-8 CSV. No such table exists under
    ../shared, so the sample has none and the marts then carry the equal-weight Theil only.
    """
    import pandas as pd

    path = raw_dir / COUNTY_WEIGHTS_FILE
    if not path.is_file():
        return None
    df = pd.read_csv(path, dtype={"county_code": str})
    missing = COUNTY_WEIGHTS_COLUMNS - set(df.columns)
    if missing or not ({"population", "gdp"} & set(df.columns)):
        raise ValueError(f"{path}: header {list(df.columns)}; expected county_code, year and population and/or gdp "
                         f"(missing {sorted(missing) or 'population/gdp'})")
    for col in [c for c in ("population", "gdp") if c in df]:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = (values.isna() & df[col].notna()) | (values < 0)
        if bad.any():
            row = int(bad.to_numpy().argmax()) + 2          # + header line, 1-based
            raise ValueError(f"{path}: row {row}, column {col}: {df[col].iloc[row - 2]!r} "
                             "(expected a non-negative number)")
        df[col] = values
    return df


def digital_tables(panel: "pd.DataFrame") -> "tuple[pd.DataFrame, pd.DataFrame]":
    """Entropy-TOPSIS (pooled, by year) and PCA indices per indicator set, and their weights."""
    import pandas as pd

    from analysis.indices import entropy_topsis, pca_index

    df = panel.assign(telecom_revenue_per_capita=panel["telecom_revenue_10k_yuan"] / panel["pop_total_10k"])
    out = df[["city_code", "year"]].copy()
    weights = []
    for variant, cols in DIGITAL_INDICATORS.items():
        for label, fn, by in (("topsis", entropy_topsis, None), ("topsis_by_year", entropy_topsis, "year"),
                              ("pca", pca_index, None)):
            res = fn(df, positive=cols, by=by)
            out[f"de_{label}_{variant}"] = res.index
            w = res.weights.assign(variant=variant, method=label, not_available=MISSING_INDICATOR)
            weights.append(w if by else w.assign(year=pd.NA))
    w = pd.concat(weights, ignore_index=True)
    w["year"] = w["year"].astype("Int64")
    return out, w[["variant", "method", "year", "indicator", "weight", "n", "not_available"]]


def productivity_tables(panel: "pd.DataFrame") -> "tuple[pd.DataFrame, pd.DataFrame]":
    """Luenberger T and GT (SBI, both frontiers) and the Malmquist factor-bias table."""
    import pandas as pd

    from analysis.productivity import luenberger, malmquist_bias

    frames, dropped = [], {}
    for spec, bad in (("T", []), ("GT", DEA_BAD)):
        direction = {**{v: -1 for v in DEA_INPUTS}, **{v: 1 for v in DEA_GOOD}, **{v: -1 for v in bad}}
        # both frontiers in one call: they share the own-period distances D^t(t)
        both = luenberger(panel, inputs=DEA_INPUTS, good=DEA_GOOD, bad=bad, unit="city_code", time="year",
                          direction=direction, measure="nonradial", frontier=("contemporaneous", "global"))
        for frontier, r in both.groupby("frontier", sort=False):
            frames.append(r.drop(columns="frontier").assign(spec=spec, frontier=frontier, measure="sbi_nonradial"))
        dropped.update({f"{spec}: {d['reason']}": d["rows"] for d in both.attrs["dropped"]})
    prod = pd.concat(frames, ignore_index=True).rename(columns={"time_from": "year_from"})
    prod.attrs["dropped"] = dropped
    bias = malmquist_bias(panel.rename(columns={ENERGY: "E", DEA_INPUTS[0]: "K", DEA_INPUTS[1]: "L"}),
                          inputs=["K", "L", "E"], good=DEA_GOOD, bad=DEA_BAD, unit="city_code", time="year")
    return prod, bias.rename(columns={"time_from": "year_from"})


def wide_measures(city: "pd.DataFrame", digital: "pd.DataFrame", prod: "pd.DataFrame") -> "pd.DataFrame":
    """City-year columns side by side: within-city Theil, digital indices, global-frontier T/GT components."""
    g = prod[prod["frontier"] == "global"]
    parts = []
    for spec in ("T", "GT"):
        sub = g[g["spec"] == spec].set_index(["city_code", "year"])[["luenberger", "lpec", "lsec", "lptp", "ltpsc",
                                                                      "ec", "tc"]]
        parts.append(sub.add_prefix(f"{spec.lower()}_"))
    wide = digital.merge(city, on=["city_code", "year"], how="outer")
    for p in parts:
        wide = wide.merge(p.reset_index(), on=["city_code", "year"], how="left")
    return wide.sort_values(["city_code", "year"]).reset_index(drop=True)


@dg.asset(key=["marts", "city_year_measures"], deps=[PANEL, COUNTY], group_name="measures",
          kinds={"python", "duckdb"},
          description="Carbon inequality, digital-economy indices and Luenberger green productivity marts.")
def measure_marts(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Compute the measure marts from the panel and the CEADs county product and write them to `marts`."""
    import time

    seconds: dict[str, float] = {}          # per part, in the metadata: the build's slowest asset stays explained
    start = time.perf_counter()

    def lap(part: str) -> None:
        """Record the seconds since the previous lap under `part`."""
        nonlocal start
        seconds[part] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()

    with warehouse.connection(read_only=True) as conn:
        panel = conn.execute(f"select {', '.join(PANEL_COLUMNS)} from marts.city_year_panel "
                             "order by city_code, year").df()
        counties = conn.execute(
            "select m.city_code, e.year, e.county_code, e.co2_mt from staging.stg_ceads__county_emissions e "
            "inner join intermediate.int_emissions__county_city_map m using (county_code) "
            "where m.city_code is not null order by m.city_code, e.year, e.county_code").df()
    county_weights = read_county_weights(Path(warehouse.raw_dir))
    if county_weights is not None:
        counties = counties.merge(county_weights, on=["county_code", "year"], how="left")
    lap("read")
    year_level, city = inequality_tables(panel, counties)
    lap("inequality")
    digital, weights = digital_tables(panel)
    lap("digital")
    prod, bias = productivity_tables(panel)
    lap("productivity")
    wide = wide_measures(city, digital, prod)
    with warehouse.connection() as conn:
        for name, frame in (("inequality_year", year_level), ("inequality_city_year", city),
                            ("digital_index", digital), ("digital_index_weights", weights),
                            ("productivity", prod), ("factor_bias", bias), ("city_year_measures", wide)):
            _write(conn, name, frame)
    lap("write")
    dropped = {"luenberger rows with an infeasible cross-period LP": int(prod["luenberger"].isna().sum())}
    dropped.update(prod.attrs["dropped"])
    context.log.info(f"measure marts: {len(wide)} city-years; {dropped}; seconds {seconds}")
    return dg.MaterializeResult(metadata={"dagster/row_count": len(wide), "productivity_rows": len(prod),
                                          "dropped": dg.MetadataValue.json(dropped),
                                          "seconds": dg.MetadataValue.json(seconds),
                                          "path": str(Path(warehouse.path))})


measure_assets = [measure_marts]
