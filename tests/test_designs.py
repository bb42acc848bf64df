"""The design layer: spec files load and validate, every spec runs on the sample build, the report compares."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import query as q

from analysis.designs import SpecError, design_files, load_design, validate_design
from analysis.designs.frame import DesignTables, build_frame
from analysis.designs.spec import parse_design
from dagster_project.assets.designs import validate_against_warehouse

DESIGNS = {p.stem: p for p in design_files()}


def _raw(paper: str) -> dict:
    return yaml.safe_load(DESIGNS[paper].read_text(encoding="utf-8"))


@pytest.mark.parametrize("paper", sorted(DESIGNS))
def test_every_design_file_loads(paper: str) -> None:
    design = load_design(DESIGNS[paper])
    assert design.paper == paper and design.specs
    assert len({s.id for s in design.specs}) == len(design.specs)
    for s in design.specs:
        assert s.id.startswith(paper.replace("_", "") + "."), s.id


def test_seed002_entries_follow_the_paper() -> None:
    """The corrections of issue 8: ten controls, base period -4, the four timing shifts, 2016 coding, rings."""
    d = {s.id: s for s in load_design(DESIGNS["seed_002"]).specs}
    assert len(d["seed002.table3.col1"].controls) == 10
    assert d["seed002.fig4.col1"].options == {"base_period": -4, "min_e": -4, "max_e": 2}
    shifts = sorted(s.treatment["shift"] for s in d.values() if s.table == "7" and s.outcome.endswith("total"))
    assert shifts == [-4, -3, -2, 1]
    assert d["seed002.table8.col2"].treatment["timing"] == "approval"
    assert d["seed002.table10.col1"].treatment["rings_for_treated"] is True
    assert {s.estimator for s in d.values()} >= {"twfe", "callaway_santanna", "bacon", "event_study", "placebo",
                                                  "psm_did", "stacked", "two_stage"}


def test_unknown_variable_fails_with_the_spec_id() -> None:
    raw = _raw("seed_004")
    raw["specs"][1]["regressors"] = ["robot_exposure", "no_such_variable"]
    design = parse_design(raw)
    with pytest.raises(SpecError, match=r"seed004\.table2\.col2: unknown variable\(s\) \['no_such_variable'\]"):
        validate_design(design, variables={"ln_industrial_co2_intensity", "robot_exposure", "city_code", "year",
                                           *design.specs[1].controls})


@pytest.mark.parametrize(("field", "value", "message"), [
    ("estimator", "ols_magic", "unknown estimator 'ols_magic'"),
    ("options", {"bandwidth": 3}, "has no option(s) ['bandwidth']"),
])
def test_unknown_estimator_or_option_fails_with_the_spec_id(field: str, value: object, message: str) -> None:
    raw = _raw("seed_004")
    raw["specs"][0][field] = value
    with pytest.raises(SpecError, match=r"seed004\.table2\.col1: .*" + message.replace("(", r"\(").replace(
            ")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        validate_design(parse_design(raw), variables={"ln_industrial_co2_intensity", "robot_exposure"})


@pytest.mark.parametrize(("patch", "message"), [
    ({"colour": "red"}, "unknown fields"),
    ({"sample": {"yaers": [2011, 2019]}}, "unknown sample keys"),
    ({"id": "seed004.t2"}, "the id must read"),
])
def test_malformed_entries_fail_when_loading(patch: dict, message: str) -> None:
    raw = _raw("seed_004")
    raw["specs"][0].update(patch)
    with pytest.raises(SpecError, match=message):
        parse_design(raw)


def test_frame_builds_timing_shift_rings_and_derived_variables() -> None:
    """Cohorts, a counterfactual lead, ring exposure of a treated city and a lag, on a hand-made panel."""
    panel = pd.DataFrame({"city_code": ["a"] * 4 + ["b"] * 4 + ["c"] * 4, "year": [2010, 2011, 2012, 2013] * 3,
                          "province_code": "1", "level": "prefecture", "y": range(12), "x": [1.0] * 12})
    cohorts = pd.DataFrame({"policy_id": "p", "timing_coding": ["t1", "t1", "t2"], "city_code": ["a", "b", "a"],
                            "first_treat_year": [2012, 2013, 2011], "first_batch": "1", "first_unit_name_cn": "u",
                            "zone_type": "z", "is_selected_coding": [True, True, False]})
    rings = pd.DataFrame({"policy_id": "p", "city_code": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
                          "year": [2010, 2011, 2012, 2013] * 3,
                          "n_treated_0_100": [0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 2]})
    rings["ring_0_100"] = 0
    tables = DesignTables(panel=panel, cohorts=cohorts, treatment=pd.DataFrame(
        columns=["city_code", "year", "policy_id", "treated"]), rings=rings)
    spec = load_design(DESIGNS["seed_004"]).specs[0]
    base = dataclasses.replace(spec, outcome="y", regressors=("treated",), controls=(), sample={},
                               treatment={"policy": "p", "timing": "t1", "rings": ["ring_0_100"]})
    df, dropped = build_frame(tables, base)
    a = df[df.city_code == "a"].set_index("year")
    assert a["cohort"].tolist() == [2012] * 4 and a["treated"].tolist() == [0, 0, 1, 1]
    assert a["ring_0_100"].tolist() == [0, 0, 0, 1]          # treated, and exposed by b from 2013
    assert df.loc[df.city_code == "c", "cohort"].eq(0).all()
    lead = dataclasses.replace(base, treatment={"policy": "p", "timing": "t1", "shift": -1,
                                                "pre_treatment_only": True})
    df, dropped = build_frame(tables, lead)
    assert df[df.city_code == "a"]["year"].tolist() == [2010, 2011]   # post-adoption years dropped
    assert df[df.city_code == "a"]["treated"].tolist() == [0, 1]      # fake adoption in 2011
    assert dropped == [{"reason": "treated city-years at or after the true adoption (counterfactual-timing test)",
                        "rows": 3}]
    no_treated_rings = dataclasses.replace(base, treatment={**base.treatment, "rings_for_treated": False})
    df, _ = build_frame(tables, no_treated_rings)
    assert df[df.city_code == "a"]["ring_0_100"].tolist() == [0, 0, 0, 0]


def test_every_design_validates_against_the_sample_build(built_warehouse: Path) -> None:
    conn = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        for path in DESIGNS.values():
            validate_against_warehouse(conn, load_design(path))
    finally:
        conn.close()


@pytest.mark.parametrize("paper", sorted(DESIGNS))
def test_every_spec_runs_on_the_sample_build(built_warehouse: Path, paper: str) -> None:
    """Each spec either has result rows (with its id, paper, table and column) or a not-estimable reason."""
    design = load_design(DESIGNS[paper])
    res = q(built_warehouse, f"select * from analysis.regression_results where paper = '{paper}'")
    ne = q(built_warehouse, f"select * from analysis.not_estimable where paper = '{paper}'")
    for s in design.specs:
        rows = res[res.spec_id == s.id]
        if rows.empty:
            reason = ne.loc[ne.spec_id == s.id, "reason"]
            assert len(reason) == 1 and reason.iloc[0], f"{s.id} has neither results nor a reason"
        else:
            assert (rows[["table_id", "column_id"]] == [s.table, s.column]).all().all()
            assert rows["estimate"].notna().any()


@pytest.mark.parametrize("paper", sorted(DESIGNS))
def test_report_has_a_row_for_every_covered_published_number(built_warehouse: Path, paper: str) -> None:
    design = load_design(DESIGNS[paper])
    pub = q(built_warehouse, f"select * from marts.published_estimates where paper = '{paper}'")
    cmp = q(built_warehouse, f"select * from analysis.replication_comparison where paper = '{paper}'")
    covered = 0
    for s in design.specs:
        for p in s.published:
            col = p.get("column", s.column)
            match = pub[(pub.table_id == s.table) & (pub.dependent == p["dependent"]) & (pub.term == p["term"])
                        & (pub.column_id.isna() | (pub.column_id == col))]
            assert len(match), f"{s.id}: published entry {p} matches no published row"
            got = cmp[(cmp.spec_id == s.id) & (cmp.published_term == p["term"])]
            assert len(got) == len(match), f"{s.id}: {p['term']} missing from the comparison"
            covered += len(match)
    numeric = pub[pub.estimate.notna() & pub.model_label.str.startswith(("descriptive", "text", "sample")).eq(False)]
    assert covered > 0 and len(cmp) == covered
    assert len(numeric) >= cmp["published_estimate"].notna().sum()


def test_replication_report_files(built_warehouse: Path, built_reports: Path) -> None:
    """make run's report: HTML and Markdown per paper, a comparison row per covered number, figures on disk."""
    for paper in DESIGNS:
        html = (built_reports / "replication" / f"{paper}.html").read_text(encoding="utf-8")
        md = (built_reports / "replication" / f"{paper}.md").read_text(encoding="utf-8")
        assert "<table>" in html and "Replication report" in html
        assert "Summary:" in md and "sample: N = " in md
    md = (built_reports / "replication" / "seed_002.md").read_text(encoding="utf-8")
    for fig in ("seed002.fig4.col1.png", "seed002.table5.col1.png", "seed002.fig6.col1.png"):
        assert f"seed_002_figures/{fig}" in md
        assert (built_reports / "replication" / "seed_002_figures" / fig).stat().st_size > 1000
    cmp = q(built_warehouse, "select * from analysis.replication_comparison where paper = 'seed_002'")
    table4 = cmp[cmp.table_id == "4"]
    assert set(table4["published_dependent"]) >= {"total_CO2", "electricity_CO2"}


def test_heterogeneity_robust_specs_recover_the_planted_effects(built_warehouse: Path) -> None:
    """On the built warehouse, through the design layer: the seed-002 CS and two-stage designs on the energy-
    accounting CO2 (full coverage; the sample plants ATT(g, e) = base_g + slope_g·e on every energy input, see
    docs/sample-dgp.md) cover the planted cohort ATTs and dynamic effects in their 95% intervals.

    Achieved on the 120-city test universe: cohort 2015 -0.117 (planted -0.120), cohort 2017 -0.052 (-0.050),
    e = 0 -0.042 (-0.036); every planted value inside the interval. The ring coefficients are not asserted: with
    120 cities too few untreated city-years sit in each band (the report states the sample of every column).
    """
    from analysis.designs.frame import load_tables
    from analysis.designs.runner import run_design
    from dagster_project.sample.dgp import BIGDATA_ATT_BASE, BIGDATA_ATT_SLOPE

    d = load_design(DESIGNS["seed_002"])
    base = {s.id: s for s in d.specs}
    cs = base["seed002.table4.col1"]
    ts = base["seed002.table10.col1"]
    specs = (
        dataclasses.replace(cs, id="seed002.table4.col1.group", options={**cs.options, "aggregate": "group"}),
        dataclasses.replace(cs, id="seed002.table4.col1.dynamic", options={**cs.options, "aggregate": "dynamic"}),
        dataclasses.replace(ts, id="seed002.table10.col1.dynamic", options={"event_study": True},
                            treatment={**ts.treatment, "rings_for_treated": False}),
    )
    conn = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        years = conn.execute("select min(year), max(year) from marts.city_year_panel").fetchone()
        tables = load_tables(conn, columns=["ln_co2_energy_total", "gdp_per_capita_yuan"])
    finally:
        conn.close()
    design = dataclasses.replace(d, specs=specs, panel={**d.panel, "years": list(years)})
    run = {r.spec.id: r for r in run_design(design, tables).runs}

    def planted(g: int, e: int) -> float:
        return BIGDATA_ATT_BASE[g] + BIGDATA_ATT_SLOPE[g] * e

    last = years[1]
    group = run["seed002.table4.col1.group"].result
    ci = group.conf_int()
    for g in (2015, 2017):
        truth = np.mean([planted(g, e) for e in range(last - g + 1)])
        lo, hi = ci.loc[f"cohort::{g}"]
        assert lo <= truth <= hi, (g, truth, lo, hi)
    sizes = group.sample.cohorts
    for kind in ("seed002.table4.col1.dynamic", "seed002.table10.col1.dynamic"):
        res = run[kind].result
        ci = res.conf_int()
        for e in range(0, 5):
            w = {g: sizes[str(g)] for g in (2015, 2017) if g + e <= last}
            truth = sum(planted(g, e) * n for g, n in w.items()) / sum(w.values())
            lo, hi = ci.loc[f"event_time::{e}"] if kind.startswith("seed002.table4") else ci.loc[e]
            assert lo <= truth <= hi, (kind, e, truth, lo, hi)


def test_seed004_threshold_and_robot_effects_recovered(built_warehouse: Path) -> None:
    """The planted robot slope (-0.013 below a human-capital threshold of 0.035, -0.030 above) is recovered by
    seed004.table3.col4 on the built warehouse: threshold within one grid step, both regime slopes inside
    their 95% intervals. Achieved on the test build: 0.03500 (grid step about 3e-5), -0.0138 and -0.0308."""
    import json

    from analysis.results import EstimationResult
    from dagster_project.sample.dgp import HUMAN_CAPITAL_THRESHOLD, ROBOT_BETA_HIGH, ROBOT_BETA_LOW

    row = q(built_warehouse, "select result_json from analysis.spec_results where spec_id = 'seed004.table3.col4'")
    res = EstimationResult.from_dict(json.loads(row["result_json"].iloc[0]))
    est = float(res.tables["thresholds"]["estimate"].iloc[0])
    lr = res.tables["lr"]
    grid = np.sort(lr.loc[lr["step"] == "Th-1", "gamma"].to_numpy(dtype=float))
    i = int(np.searchsorted(grid, est))
    step = max(np.diff(grid[max(i - 1, 0):i + 2]))
    assert abs(est - HUMAN_CAPITAL_THRESHOLD) <= step, (est, step)
    ci = res.conf_int()
    for term, truth in (("robot_exposure_regime1", ROBOT_BETA_LOW), ("robot_exposure_regime2", ROBOT_BETA_HIGH)):
        assert ci.loc[term, "lower"] <= truth <= ci.loc[term, "upper"], (term, ci.loc[term].to_dict())
