"""The user commands: export (every format read back), sql, doctor, report, and the README's commands as written."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, query
from scratch_warehouse import ScratchWarehouse

from dagster_project import cli
from dagster_project.commands.export import (
    export_panel,
    stata_label,
    write_all_or_nothing,
)
from dagster_project.commands.sql import QueryError, check_query, format_result, run_query
from dagster_project.reporting.tables import journal_tables

POLICY = "bigdata_pilot_zone"


# ----------------------------------------------------------------------------------- unit level

def test_stata_label_keeps_short_labels_and_cuts_long_ones_at_a_word() -> None:
    assert stata_label("Log CO2 emissions") == "Log CO2 emissions"
    long = ("Employees in agriculture, forestry, animal husbandry and fishery (districts under city): "
            "imputed by linear interpolation")
    short = stata_label(long)
    assert len(short) <= 80 and short.endswith("…")
    assert long.startswith(short[:-1])
    assert long[len(short) - 1] in " ,;(:"  # the cut falls on a word boundary


def test_write_all_or_nothing_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "panel.csv"

    def boom(path: Path) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_all_or_nothing({out: lambda p: p.write_text("a\n"), out.with_suffix(".md"): boom})
    assert not (tmp_path / "new").exists()


def test_parquet_without_pyarrow_fails_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the package were not installed
    with pytest.raises(ImportError):
        export_panel(tmp_path / "missing.duckdb", tmp_path / "out" / "p.parquet", fmt="parquet")
    assert not (tmp_path / "out").exists()


def test_check_query_refuses_empty_multi_and_writing_statements(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    for q, msg in [("", "empty query"), ("  ;  ", "empty query"), ("select 1; select 2", "2 statements"),
                   ("create table t as select 1", "carbonpanel export"),
                   ("copy (select 1) to 'x.csv'", "only reads the warehouse")]:
        with pytest.raises(QueryError, match=msg):
            check_query(q, warehouse=wh)
    assert check_query("with a as (select 1) select * from a", warehouse=wh) == "SELECT"


def test_journal_table_puts_specifications_side_by_side_and_marks_other_samples() -> None:
    rows = pd.DataFrame({
        "model_id": ["m_twfe", "m_twfe", "m_cs", "m_es", "m_es"],
        "dependent": "y", "term": ["treated", "x", "treated", "event_time::-2", "event_time::0"],
        "estimate": [-0.5, 1.0, -0.4, 0.01, -0.3], "std_error": [0.1, 0.5, 0.3, 0.02, 0.1],
        "p_value": [0.001, 0.04, 0.2, 0.6, 0.003], "nobs": [800, 800, 280, 800, 800],
        "n_clusters": [100, 100, 31, 100, 100], "r2_within": [0.1, 0.1, np.nan, 0.05, 0.05],
        "fixed_effects": "city+year", "vcov": "CRV1"})
    tables = journal_tables(rows, labels={"treated": "Treated", "x": "Control x"})
    coef = tables[0]
    assert [c.header for c in coef.columns] == ["(1) m_twfe", "(2) m_cs"]
    frame = coef.to_frame()
    assert frame.loc[("Treated", "estimate"), "(1) m_twfe"] == "-0.5000***"
    assert frame.loc[("Treated", "se"), "(2) m_cs"] == "(0.3000)"
    assert frame.loc[("Control x", "estimate"), "(1) m_twfe"] == "1.0000**"
    assert list(coef.sample_notes()) == ["m_cs"] and "280 observations, 31 clusters" in coef.sample_notes()["m_cs"]
    assert "†" in coef.to_html() and "Observations" in coef.to_html()
    assert tables[1].term_rows() == [("k=-2", "Event time -2"), ("k=0", "Event time 0")]
    # Spec-driven rows lay out by table and column.
    spec = rows.assign(table=["3", "3", "4", "4", "4"], column=[1, 1, 1, 2, 2], spec_id="s")
    assert [len(t.columns) for t in journal_tables(spec)] == [1, 2]


def test_citation_from_spec_notes(shared_data: Path) -> None:
    from dagster_project.reporting.citation import paper_citation

    specs = shared_data.parent / "specs"
    c4 = paper_citation(specs / "seed_004.md")
    assert "黄赜琳" in c4.authors and "工业机器人" in c4.title
    c2 = paper_citation(specs / "seed_002.md")
    assert "Authors not stated" in c2.text()  # the spec says the text has no authors: we do not invent them


def test_choropleth_counts_cities_with_and_without_values(tmp_path: Path) -> None:
    from dagster_project.reporting.maps import choropleth

    b = pd.DataFrame({"city_code": ["1", "2", "3"], "geometry_wkt": [
        "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))", "POLYGON ((1 0, 2 0, 2 1, 1 1, 1 0))",
        "MULTIPOLYGON (((2 0, 3 0, 3 1, 2 1, 2 0)), ((4 0, 5 0, 5 1, 4 0)))"]})
    png, n_value, n_missing = choropleth(b, pd.Series({"1": 1.0, "3": 5.0}), out=tmp_path / "m.png", title="t",
                                         legend="v")
    assert (n_value, n_missing) == (2, 1)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------- on the test build

@pytest.fixture(scope="module")
def wh(built_warehouse: Path) -> Path:
    """The session's test warehouse (read-only use)."""
    return built_warehouse


def test_export_dta_treatment_ids_value_labels_and_codebook(wh: Path, tmp_path: Path) -> None:
    out = tmp_path / "x" / "panel.dta"
    paths = export_panel(wh, out, fmt="dta", policies=[POLICY], label_language="cn")
    assert {p.name for p in paths} == {"panel.dta", "panel.codebook.csv", "panel.codebook.md", "panel.do"}
    with pd.io.stata.StataReader(out) as reader:
        labels = reader.variable_labels()
        value_labels = reader.value_labels()
        coded = reader.read(convert_categoricals=False)
    with pd.io.stata.StataReader(out) as reader:
        labelled = reader.read()
    panel = query(wh, "select city_code, year, region, is_provincial_capital from marts.city_year_panel "
                      "order by city_code, year")
    assert len(coded) == len(panel)
    # Numeric panel id beside the GB/T code, unique per (id, year) so xtset works.
    assert (coded["city_id"] == coded["city_code"].astype(int)).all()
    assert not coded.duplicated(["city_id", "year"]).any()
    # Treatment variables equal marts.treatment_panel, row by row.
    tp = query(wh, f"select city_code, year, treated, first_treat_year, event_time, never_treated "
                   f"from marts.treatment_panel where policy_id = '{POLICY}'")
    m = coded.merge(tp, on=["city_code", "year"], how="left", validate="one_to_one")
    for ours, theirs in [("bigdata_pilot_zone_treated", "treated"), ("bigdata_pilot_zone_cohort", "first_treat_year"),
                         ("bigdata_pilot_zone_event_time", "event_time")]:
        np.testing.assert_array_equal(m[ours].astype(float).to_numpy(), m[theirs].astype(float).to_numpy())
    assert m["bigdata_pilot_zone_treated"].sum() > 0
    # Value labels in Chinese for categories and 0/1 flags; the labelled read gives the category names.
    cats = query(wh, "select value, label_cn from ref.category_labels where variable = 'region'")
    assert set(value_labels["region"].values()) == set(cats["label_cn"])
    expect = panel["region"].map(dict(zip(cats["value"], cats["label_cn"], strict=True)))
    assert (labelled["region"].astype(str).to_numpy() == expect.to_numpy()).all()
    assert value_labels["is_provincial_capital"] == {0: "否", 1: "是"}
    assert labels["co2_mt"] == "二氧化碳排放量"
    # Names and labels within Stata's limits; the codebook keeps every full label.
    assert max(map(len, coded.columns)) <= 32 and max(map(len, labels.values())) <= 80
    cb = pd.read_csv(out.with_name("panel.codebook.csv"), encoding="utf-8-sig")
    d = query(wh, "select variable, label_cn from marts.variable_dictionary")
    full = dict(zip(d["variable"], d["label_cn"], strict=True))
    for r in cb[cb["column"].isin(full)].itertuples():
        assert r.label == full[r.column]
    do = out.with_name("panel.do").read_text(encoding="utf-8")
    assert "xtset city_id year" in do and 'use "panel.dta"' in do
    assert all(f"label variable {n} " in do for n in cb["stata_name"])


def test_export_english_labels_keep_full_text_in_codebook(wh: Path, tmp_path: Path) -> None:
    out = tmp_path / "en.dta"
    export_panel(wh, out, fmt="dta", label_language="en")
    with pd.io.stata.StataReader(out) as reader:
        labels = reader.variable_labels()
        value_labels = reader.value_labels()
    cb = pd.read_csv(tmp_path / "en.codebook.csv")
    d = query(wh, "select variable, label_en from marts.variable_dictionary")
    long = d[d["label_en"].str.len() > 80]
    assert len(long) > 0
    by_name = cb.set_index("column")
    for r in long[long["variable"].isin(by_name.index)].itertuples():
        assert by_name.at[r.variable, "label"] == r.label_en  # full text kept
        stata = labels[by_name.at[r.variable, "stata_name"]]
        assert len(stata) <= 80 and stata.endswith("…") and r.label_en.startswith(stata[:-1])
    assert value_labels["region"] == {1: "East", 2: "Central", 3: "West", 4: "Northeast"}
    md = (tmp_path / "en.codebook.md").read_text(encoding="utf-8")
    assert all(f"| {c} |" in md for c in cb["column"])


def test_export_csv_parquet_xlsx_read_back(wh: Path, tmp_path: Path) -> None:
    import openpyxl
    import pyarrow.parquet as pq

    ref = query(wh, "select city_code, year, city_cn, co2_mt from marts.city_year_panel "
                    "where year between 2011 and 2019 order by city_code, year")
    args = {"variables": ["city_cn", "co2_mt"], "years": range(2011, 2020), "policies": [POLICY]}
    csv = export_panel(wh, tmp_path / "p.csv", fmt="csv", **args)[0]
    assert csv.read_bytes()[:3] == b"\xef\xbb\xbf"  # BOM: Excel shows Chinese
    c = pd.read_csv(csv, encoding="utf-8-sig", dtype={"city_code": str})
    assert list(c.columns[:4]) == ["city_code", "city_id", "city_cn", "year"]
    assert (c["city_cn"] == ref["city_cn"]).all()
    np.testing.assert_allclose(c["co2_mt"], ref["co2_mt"], rtol=1e-12)

    pqf = export_panel(wh, tmp_path / "p.parquet", fmt="parquet", **args)[0]
    table = pq.read_table(pqf)
    meta = table.schema.field("co2_mt").metadata
    assert meta[b"label_cn"].decode() == "二氧化碳排放量"
    assert table.schema.field(f"{POLICY}_treated").metadata[b"value_labels"].decode() == "0=no; 1=yes"
    np.testing.assert_allclose(table.column("co2_mt").to_numpy(zero_copy_only=False), ref["co2_mt"], rtol=0)

    xl = export_panel(wh, tmp_path / "p.xlsx", fmt="xlsx", **args)[0]
    wb = openpyxl.load_workbook(xl, read_only=True)
    assert wb.sheetnames == ["panel", "codebook"]
    rows = list(wb["panel"].iter_rows(values_only=True))
    assert rows[0][:4] == ("city_code", "city_id", "city_cn", "year") and len(rows) == len(ref) + 1
    assert [r[2] for r in rows[1:]] == list(ref["city_cn"])
    wb.close()


def test_export_errors_name_close_matches_and_leave_nothing(wh: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBONPANEL_WAREHOUSE", str(wh))
    out = tmp_path / "nope" / "p.csv"
    with pytest.raises(SystemExit, match="did you mean co2_mt"):
        cli.main(["export", "--format", "csv", "--vars", "co2_mtt", "--out", str(out)])
    with pytest.raises(SystemExit, match="did you mean bigdata_pilot_zone"):
        cli.main(["export", "--format", "csv", "--policy", "bigdata_pilot", "--out", str(out)])
    with pytest.raises(SystemExit, match="no panel rows"):
        cli.main(["export", "--format", "csv", "--years", "1950-1951", "--out", str(out)])
    assert not (tmp_path / "nope").exists()


def test_sql_truncation_says_how_many_rows(wh: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture) -> None:
    n = int(query(wh, "select count(*) as n from marts.city_year_panel")["n"].iloc[0])
    monkeypatch.setenv("CARBONPANEL_WAREHOUSE", str(wh))
    assert cli.main(["sql", "select city_code, year from marts.city_year_panel", "--max-rows", "7"]) == 0
    out = capsys.readouterr().out
    assert f"showing the first 7 of {n:,} rows" in out and len(out.splitlines()) == 1 + 7 + 1
    assert format_result(run_query("select 1 as a", warehouse=wh), max_rows=5).endswith("(1 row)")
    with pytest.raises(SystemExit, match="refused"):
        cli.main(["sql", "insert into marts.dim_city select * from marts.dim_city"])
    with pytest.raises(SystemExit, match="empty query"):
        cli.main(["sql", ""])


def test_documented_queries_run(wh: Path) -> None:
    """Every SQL block of docs/queries.md runs on the test build and returns rows."""
    blocks = re.findall(r"```sql\n(.*?)```", (REPO / "docs" / "queries.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 8
    for sql in blocks:
        assert run_query(sql, warehouse=wh).total_rows > 0, sql


def test_report_html_per_paper(wh: Path, tmp_path: Path, shared_data: Path) -> None:
    from dagster_project.commands.report import write_reports

    pages = write_reports(wh, tmp_path, papers=["seed002", "seed004"], spec_dir=shared_data.parent / "specs")
    html = pages[0].read_text(encoding="utf-8")
    assert "National Big-Data Comprehensive Pilot Zones" in html and "Sample as published: 286 cities" in html
    # Descriptive statistics with labels; the mean of the total-CO2 outcome over 2011-2019 equals an independent
    # SQL mean.
    # The report's sample: the paper's window with every outcome of its specifications observed.
    panel_cols = set(query(wh, "describe marts.city_year_panel")["column_name"])
    deps = [d for d in query(wh, "select distinct dependent from analysis.regression_results "
                                 "where paper = 'seed_002'")["dependent"] if d in panel_cols]
    observed = " and ".join(f'"{d}" is not null' for d in deps)
    mean = query(wh, "select avg(ln_co2_energy_total) as m from marts.city_year_panel where year between 2011 "
                     f"and 2019 and {observed}")["m"].iloc[0]
    label = query(wh, "select label_en from marts.variable_dictionary where variable = 'ln_co2_energy_total'")
    assert label["label_en"].iloc[0] in html and f"{mean:,.4g}" in html
    # Callaway–Sant'Anna and the placebo run on the balanced subsample: the table says so with both Ns.
    res = query(wh, "select spec_id, any_value(nobs) as n, any_value(n_clusters) as g "
                    "from analysis.regression_results group by 1").set_index("spec_id")
    # Within Table 4 the heat column (cities with central heating) runs on fewer city-years than column 1.
    base, heat = res.loc["seed002.table4.col1"], res.loc["seed002.table4.col3"]
    assert heat.n != base.n
    assert (f"(3) seed002.table4.col3: different sample, {heat.n:,} observations, {heat.g} clusters "
            f"(baseline (1) seed002.table4.col1: {base.n:,}, {base.g} clusters)") in html
    assert html.count("<figure>") >= 2 and "data:image/png;base64," in html
    assert (tmp_path / "seed002_files" / "map_co2_per_capita.png").read_bytes()[:4] == b"\x89PNG"
    assert "No Gini or Theil series" in html or "gini" in html.lower()
    for sha in query(wh, "select sha256 from raw.source_files")["sha256"]:
        assert sha in html
    assert pages[1].name == "seed004.html" and "黄赜琳" in pages[1].read_text(encoding="utf-8")


def test_report_errors_are_messages(wh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBONPANEL_WAREHOUSE", str(wh))
    with pytest.raises(SystemExit, match="paper ids look like seed002"):
        cli.main(["report", "--paper", "002", "--out", str(tmp_path)])
    monkeypatch.setenv("CARBONPANEL_WAREHOUSE", str(tmp_path / "none.duckdb"))
    with pytest.raises(SystemExit, match="no warehouse"):
        cli.main(["report", "--out", str(tmp_path)])


def test_doctor_names_missing_and_malformed_sources(sample_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    import openpyxl

    from dagster_project.sources.ceads import CITY_FILE_NAME

    raw = tmp_path / "raw"
    shutil.copytree(sample_dir, raw)
    shutil.rmtree(raw / "ceads" / "county")                        # missing
    book = raw / "ceads" / "city" / CITY_FILE_NAME                  # wrong sheet name
    wb = openpyxl.load_workbook(book)
    wb["emission vector"].title = "emissions"
    wb.save(book)
    (raw / "yearbook" / "vendor_panel.csv").write_bytes(b"\xff\xfe\x00garbage\x81\x30")  # neither UTF-8 nor GBK
    (raw / "Nightlight").mkdir()                                    # a folder the layout does not have
    monkeypatch.setenv("CARBONPANEL_RAW_DIR", str(raw))
    monkeypatch.setenv("CARBONPANEL_WAREHOUSE", str(tmp_path / "w.duckdb"))
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"\[MISSING\] ceads: raw\.ceads_county_emissions .*ceads/county", out)
    assert re.search(r"\[BAD    \] ceads: raw\.ceads_city_emissions.*emission vector", out)
    assert re.search(r"\[BAD    \] yearbook: .*vendor_panel\.csv.*neither UTF-8 nor GBK", out)
    assert "Nightlight/ is not part of the layout" in out and "did you mean nightlights/" in out
    assert "[ok     ] ifr: raw.ifr_robots" in out
    assert "problem(s) to fix" in out


def test_doctor_without_raw_folder_and_with_a_misspelt_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CARBONPANEL_RAW_DIR", str(tmp_path / "absent"))
    monkeypatch.setenv("CARBONPANEL_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("CARBONPANEL_RAWDIR", "x")
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"[MISSING] CARBONPANEL_RAW_DIR: {tmp_path / 'absent'} does not exist" in out
    assert "carbonpanel sample --out data/sample" in out and "ceads/provincial/" in out
    assert "[WARNING] CARBONPANEL_RAWDIR" in out and "did you mean CARBONPANEL_RAW_DIR?" in out
    assert "not checked: the raw folder is missing" in out


# ----------------------------------------------------------------------------------- the README as written

def _readme_commands() -> list[str]:
    """The commands of the README's 'Check, export, report' block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Check, export, report\s+```bash\n(.*?)```", text, re.S)
    assert block, "README section 'Check, export, report' with a bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_commands_run_as_written(scratch: ScratchWarehouse, sample_dir: Path, tmp_path: Path) -> None:
    """Runs each README command in a fresh folder (with .venv linked) on a copy of the test build.

    Its `carbonpanel doctor` is also the check that the doctor passes on the sample (every source read by
    its reader: 7 s of CPU, so not run twice)."""
    commands = _readme_commands()
    verbs = {shlex.split(c)[1] for c in commands}
    assert {"doctor", "build", "sql", "export", "report"} <= verbs
    formats = {shlex.split(c)[shlex.split(c).index("--format") + 1] for c in commands if "--format" in c}
    assert formats == {"dta", "parquet", "csv", "xlsx"}
    work = tmp_path / "user"
    work.mkdir()
    (work / ".venv").symlink_to(REPO / ".venv")
    wh = scratch.path
    env = {**os.environ, "CARBONPANEL_RAW_DIR": str(sample_dir), "CARBONPANEL_WAREHOUSE": str(wh),
           "CARBONPANEL_REPORTS_DIR": str(work / "reports")}
    outputs = {}
    for command in commands:
        proc = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        outputs[shlex.split(command)[1]] = outputs.get(shlex.split(command)[1], "") + proc.stdout
    assert "ready to build" in outputs["doctor"] and outputs["doctor"].count("[ok     ]") >= 8
    assert "published:" in outputs["build"] and "warehouse:" in outputs["build"]
    years = query(wh, "select count(distinct year) as n from marts.city_year_panel")["n"].iloc[0]
    assert f"showing the first 5 of {years} rows" in outputs["sql"]
    for name in ("panel.dta", "panel.do", "panel.parquet", "panel.csv", "panel.xlsx", "panel.codebook.md"):
        assert (work / "exports" / name).stat().st_size > 0, name
    with pd.io.stata.StataReader(work / "exports" / "panel.dta") as reader:
        assert "bigdata_pilot_zone_treated" in reader.read().columns
    for paper in ("seed002", "seed004"):
        assert "<table" in (work / "reports" / "html" / f"{paper}.html").read_text(encoding="utf-8")
