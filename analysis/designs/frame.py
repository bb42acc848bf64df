"""The estimation frame of a specification: panel variables, treatment timing, rings and derived variables.

`load_tables` reads what a design needs from the warehouse once (panel columns, cohorts under every timing
coding, other policies' treatment indicators, ring exposure); `build_frame` turns them into the frame one
specification estimates on, recording every row it drops with the reason. The variables the design layer
builds (as opposed to panel columns) are:

- `cohort` (first treated year under the spec's timing coding and shift; 0 = never treated), `treated`
  (1{year >= cohort}), `event_time` (year - cohort), `never_treated`;
- `treated_<policy>` for every `treatment.other_policies` entry (their selected coding, treatment_panel);
- ring exposure `ring_<lo>_<hi>` from marts.spillover_rings: 1 when another treated city lies in the band;
  with `treatment.rings_for_treated: true` (the default, seed 002 §5.5) a treated city can be exposed too,
  with `false` only untreated city-years are;
- `treated_<zone_type>` (= treated × zone type) with `treatment.by_zone_type`;
- the design file's `derived` variables: `above_median` (1 for units above the cross-unit median of a
  variable in a given year, or of its mean over the sample years; `cut: mean` or a quantile such as 0.75
  instead of the median), `product`, `lag` (exact t-k within unit), `indicator` (1 where a variable takes
  one of the listed values, null where it is null), `log` (ln(x + shift), `shift` default 0; null where
  x + shift ≤ 0 or x is null, so the estimator's complete-case rule drops and counts those rows),
  `period_mean` (the mean over the frame's units in each period, e.g. the national annual mean of an index
  for a shift-share style instrument).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.designs.spec import Derived, Spec, SpecError
from analysis.results import NotEstimable

TREATMENT_VARIABLES = ("cohort", "treated", "event_time", "never_treated")
# City-year measure marts joined to the panel when a design reads their columns (alias, table), in this order.
MEASURE_TABLES = (("m", "city_year_measures"), ("fb", "factor_bias"))


@dataclass(kw_only=True)
class DesignTables:
    """What the design layer reads from the warehouse for one paper."""

    panel: pd.DataFrame               # marts.city_year_panel (needed columns)
    cohorts: pd.DataFrame             # marts.treatment_cohorts
    treatment: pd.DataFrame           # marts.treatment_panel (city_code, year, policy_id, treated)
    rings: pd.DataFrame               # marts.spillover_rings
    unit: str = "city_code"
    time: str = "year"


def design_variables(spec: Spec, derived: Iterable[Derived] = ()) -> set[str]:
    """The variable names the design layer builds for this specification."""
    out = set(TREATMENT_VARIABLES) | {d.name for d in derived}
    tr = spec.treatment
    out |= {f"treated_{p}" for p in tr.get("other_policies") or []}
    out |= set(tr.get("rings") or [])
    out |= {f"treated_{z}" for z in tr.get("by_zone_type") or []}
    return out


def load_tables(conn: Any, *, columns: Iterable[str], unit: str = "city_code", time: str = "year") -> DesignTables:
    """Read the panel columns a design needs, with cohorts, treatment indicators and rings, in a fixed order."""
    have = {r[0] for r in conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'city_year_panel'").fetchall()}
    cols = [c for c in dict.fromkeys([unit, time, "province_code", "level", *columns]) if c in have]
    # Measures computed in Python after the panel (marts.city_year_measures: inequality, digital indices,
    # Luenberger components; marts.factor_bias: Malmquist input bias of the year ending in `year`) are joined
    # on the panel's keys when a design asks for them.
    select_cols, joins = [f"p.{c}" for c in cols], []
    taken = set(cols)
    for alias, table in MEASURE_TABLES:
        measures = {r[0] for r in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = ?", [table]).fetchall()}
        extra = [c for c in dict.fromkeys(columns) if c not in taken and c in measures]
        if extra:
            taken |= set(extra)
            select_cols += [f"{alias}.{c}" for c in extra]
            joins.append(f" left join marts.{table} as {alias} on {alias}.city_code = p.{unit} "
                         f"and {alias}.year = p.{time}")
    select, join = ", ".join(select_cols), "".join(joins)
    panel = conn.execute(f"select {select} from marts.city_year_panel as p{join} "
                         f"order by p.{unit}, p.{time}").df()
    cohorts = conn.execute("select * from marts.treatment_cohorts order by policy_id, timing_coding, city_code").df()
    treatment = conn.execute("select city_code, year, policy_id, treated from marts.treatment_panel "
                             "order by policy_id, city_code, year").df()
    rings = conn.execute("select * from marts.spillover_rings order by policy_id, city_code, year").df()
    return DesignTables(panel=panel, cohorts=cohorts, treatment=treatment, rings=rings, unit=unit, time=time)


def build_frame(tables: DesignTables, spec: Spec, *, panel: dict[str, Any] | None = None,
                derived: Iterable[Derived] = ()) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The estimation frame of `spec` and the rows dropped on the way (reason, rows), sorted by unit and time."""
    unit, time = tables.unit, tables.time
    panel = panel or {}
    sample = {**{k: panel[k] for k in ("years", "exclude_provinces") if k in panel}, **spec.sample}
    df = tables.panel.copy()
    dropped: list[dict[str, Any]] = []

    def drop(mask: np.ndarray | pd.Series, reason: str) -> None:
        nonlocal df
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            dropped.append({"reason": reason, "rows": int(mask.sum())})
            df = df[~mask]

    if years := sample.get("years"):
        drop(~df[time].between(int(years[0]), int(years[1])).to_numpy(), f"outside the years {years[0]}–{years[1]}")
    if excl := sample.get("exclude_provinces"):
        drop(df["province_code"].astype(str).isin([str(p) for p in excl]).to_numpy(),
             f"in excluded provinces {', '.join(map(str, excl))}")
    if levels := sample.get("exclude_levels"):
        drop(df["level"].isin(levels).to_numpy(), f"administrative level {', '.join(levels)}")
    for flag in sample.get("exclude_flags") or []:
        drop(df[flag].fillna(False).astype(bool).to_numpy(), f"{flag} is true")

    tr = spec.treatment
    if policy := tr.get("policy"):
        df = _add_treatment(df, tables, spec, policy)
        if "_post_adoption" in df:
            # Counterfactual timing: only the years before the true adoption, so the fake date is a placebo.
            drop(df.pop("_post_adoption").to_numpy(), "treated city-years at or after the true adoption "
                 "(counterfactual-timing test)")
    for d in derived:
        df[d.name] = _derive(df, d, unit=unit, time=time)
    if query := sample.get("query"):
        keep = df.eval(query).to_numpy(dtype=bool)
        drop(~keep, f"not in the sample {query!r}")

    needed = [v for v in dict.fromkeys([spec.outcome, *spec.regressors, *spec.controls, *sample.get("require", ())])
              if v in df.columns]
    if sample.get("balanced"):
        complete = df[needed].notna().all(axis=1)
        n_years = df[time].nunique()
        full = complete.groupby(df[unit]).transform("sum") == n_years
        drop(~full.to_numpy(),
             f"units without {', '.join(needed)} in every one of the {n_years} years (balanced panel)")
    missing = [v for v in spec.variables() if v not in df.columns]
    if missing:
        raise SpecError(f"{spec.id}: variables not in the warehouse: {missing}")
    out = df.sort_values([unit, time]).reset_index(drop=True)
    if out.empty:
        raise NotEstimable(f"{spec.id}: no observation left in the sample ({'; '.join(d['reason'] for d in dropped)})")
    return out, dropped


def _add_treatment(df: pd.DataFrame, tables: DesignTables, spec: Spec, policy: str) -> pd.DataFrame:
    """Cohort, treated and event time under the spec's timing; other policies, rings and zone-type dummies."""
    unit, time = tables.unit, tables.time
    tr = spec.treatment
    c = tables.cohorts[tables.cohorts["policy_id"] == policy]
    if c.empty:
        raise NotEstimable(f"{spec.id}: policy {policy!r} treats no city of dim_city")
    timing = tr.get("timing")
    c = c[c["timing_coding"] == timing] if timing else c[c["is_selected_coding"]]
    if c.empty:
        raise SpecError(f"{spec.id}: policy {policy!r} has no cohorts under timing coding {timing!r}")
    c = c.drop_duplicates("city_code").set_index("city_code")
    true_cohort = df[unit].map(c["first_treat_year"]).astype(float)
    shift = int(tr.get("shift", 0))
    df = df.assign(cohort=(true_cohort + shift).fillna(0).astype(int))
    df["treated"] = ((df["cohort"] > 0) & (df[time] >= df["cohort"])).astype(float)
    df["event_time"] = np.where(df["cohort"] > 0, df[time] - df["cohort"], np.nan)
    df["never_treated"] = (df["cohort"] == 0).astype(float)
    if tr.get("pre_treatment_only"):
        df["_post_adoption"] = (true_cohort.notna() & (df[time] >= true_cohort)).to_numpy()
    for other in tr.get("other_policies") or []:
        t = tables.treatment[tables.treatment["policy_id"] == other].set_index([unit, time])["treated"]
        df[f"treated_{other}"] = pd.Series(list(zip(df[unit], df[time], strict=True)), index=df.index).map(
            t).fillna(0).astype(float)
    if rings := tr.get("rings"):
        df = _add_rings(df, tables, spec, policy, list(rings))
    for z in tr.get("by_zone_type") or []:
        zone = df[unit].map(c["zone_type"])
        df[f"treated_{z}"] = df["treated"] * (zone == z).astype(float)
    return df


def _add_rings(df: pd.DataFrame, tables: DesignTables, spec: Spec, policy: str, rings: list[str]) -> pd.DataFrame:
    """Ring exposure from marts.spillover_rings (treated neighbours per band), under the spec's own status."""
    unit, time = tables.unit, tables.time
    tr = spec.treatment
    sel = tables.cohorts[(tables.cohorts["policy_id"] == policy) & tables.cohorts["is_selected_coding"]]
    if tr.get("timing") and not (sel["timing_coding"] == tr["timing"]).all():
        raise SpecError(f"{spec.id}: rings come from marts.spillover_rings, built under the selected timing coding "
                        f"({sel['timing_coding'].iloc[0]}); the spec asks for {tr['timing']!r}")
    r = tables.rings[tables.rings["policy_id"] == policy].set_index([unit, time])
    key = pd.MultiIndex.from_arrays([df[unit], df[time]])
    for ring in rings:
        count_col = "n_treated_" + ring.removeprefix("ring_")
        if count_col not in r.columns:
            raise SpecError(f"{spec.id}: ring {ring!r} is not a band of marts.spillover_rings "
                            f"(bands: {[c for c in r.columns if c.startswith('ring_')]})")
        n = pd.Series(r[count_col].reindex(key).to_numpy(), index=df.index).fillna(0)
        exposed = n > 0
        if not tr.get("rings_for_treated", True):
            exposed &= df["treated"] == 0
        df[ring] = exposed.astype(float)
    return df


def _derive(df: pd.DataFrame, d: Derived, *, unit: str, time: str) -> pd.Series:
    """Compute one derived variable."""
    if d.kind == "above_median":
        of, year = str(d.args["of"]), d.args.get("year")
        base = df[df[time] == int(year)] if year is not None else df
        per_unit = base.groupby(unit)[of].mean()
        cut = _cut(per_unit, d.args.get("cut", "median"), name=d.name)
        return df[unit].map((per_unit > cut).astype(float))
    if d.kind == "period_mean":
        return df.groupby(time)[str(d.args["of"])].transform("mean").astype(float)
    if d.kind == "product":
        cols = list(d.args["of"])
        out = df[cols[0]].astype(float)
        for c in cols[1:]:
            out = out * df[c].astype(float)
        return out
    if d.kind == "indicator":
        col = df[str(d.args["of"])]
        return col.isin(list(d.args["in"])).astype(float).where(col.notna())
    if d.kind == "log":
        shifted = df[str(d.args["of"])].astype(float) + float(d.args.get("shift", 0))
        return pd.Series(np.log(shifted.where(shifted > 0)), index=df.index)
    if d.kind == "lag":
        of, k = str(d.args["of"]), int(d.args.get("periods", 1))
        prev = df[[unit, time, of]].assign(**{time: df[time] + k}).set_index([unit, time])[of]
        return pd.Series(prev.reindex(pd.MultiIndex.from_arrays([df[unit], df[time]])).to_numpy(), index=df.index)
    raise SpecError(f"derived variable {d.name!r}: unknown rule {d.kind!r}")


def _cut(values: pd.Series, cut: object, *, name: str) -> float:
    """The threshold of an above_median rule: the median (default), the mean, or a quantile in (0, 1)."""
    if cut == "median":
        return float(values.median())
    if cut == "mean":
        return float(values.mean())
    if isinstance(cut, float) and 0 < cut < 1:
        return float(values.quantile(cut))
    raise SpecError(f"derived variable {name!r}: cut must be 'median', 'mean' or a quantile in (0, 1), not {cut!r}")
