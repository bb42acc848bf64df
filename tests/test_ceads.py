"""CEADs readers, crosswalk seeds and sample writer, tested on the real publisher files.

The real workbooks live beside the repository in `../shared/data/ceads/` and are never copied: each
reader gets a temporary `<raw>/ceads/<product>/` folder of symlinks. Each real file is read once per
module. Adversarial variants are built by loading a real workbook with openpyxl, editing it and saving
the result under `tmp_path`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from dagster_project.sources.ceads import (
    CITY_FILE_NAME,
    COUNTY_FILE_NAME,
    read_city_inventory,
    read_county_emissions,
    read_provincial_inventories,
)
from dagster_project.sources.common import LoadResult, MissingSourceError, SourceFormatError
from dagster_project.sources.names import UnresolvedNamesError, first_locations, load_aliases, resolve_names

REPO = Path(__file__).resolve().parents[1]
CEADS = REPO.parent / "shared" / "data" / "ceads"
CITY_XLSX = CEADS / CITY_FILE_NAME
COUNTY_XLSX = CEADS / COUNTY_FILE_NAME
PROV_XLSX = {y: CEADS / "provincial" / f"Emission_Inventories_for_30_Provinces_{y}.xlsx"
             for y in (2012, 2019)}
SEEDS = REPO / "dbt" / "seeds"


# ------------------------------------------------------------------ fixtures
def _folder(root: Path, name: str, files: list[Path]) -> Path:
    """Make `<root>/ceads/<name>/` holding symlinks to `files` (the real data stay where they are)."""
    folder = root / "ceads" / name
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        (folder / f.name).symlink_to(f)
    return folder


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raw-data root whose ceads/ folders point at the real files."""
    if not CEADS.is_dir():
        raise FileNotFoundError(f"the real CEADs files are expected at {CEADS}")
    root = tmp_path_factory.mktemp("raw")
    _folder(root, "city", [CITY_XLSX])
    _folder(root, "provincial", list(PROV_XLSX.values()))
    _folder(root, "county", [COUNTY_XLSX])
    return root


@pytest.fixture(scope="module")
def city(raw: Path) -> LoadResult:
    """The real city inventory, read once."""
    return read_city_inventory(raw / "ceads" / "city")


@pytest.fixture(scope="module")
def provincial(raw: Path) -> LoadResult:
    """The real 2012 (1997–2017 layout) and 2019 (2018+ layout) provincial inventories, read once."""
    return read_provincial_inventories(raw / "ceads" / "provincial")


@pytest.fixture(scope="module")
def county(raw: Path) -> LoadResult:
    """The real county CO2 file, read once."""
    return read_county_emissions(raw / "ceads" / "county")


@pytest.fixture(scope="module")
def sectors() -> pd.DataFrame:
    """The sector vocabulary seed."""
    return pd.read_csv(SEEDS / "ceads" / "ceads_sectors.csv", dtype=str, keep_default_na=False)


# ------------------------------------------------------------------ city inventory (real)
def test_city_inventory_reads_every_value(city: LoadResult) -> None:
    """All 3,929 published city-years load, none rejected, with the documented schema."""
    t = city.table
    assert list(t.columns) == ["ceads_name", "year", "co2_mt", "source_file", "sheet", "row"]
    assert str(t["year"].dtype) == "int64" and str(t["co2_mt"].dtype) == "float64"
    assert len(t) == 3929 and city.rejected.empty
    assert t["ceads_name"].nunique() == 290
    assert not t.duplicated(["ceads_name", "year"]).any()
    assert t["year"].min() == 1995 and t["year"].max() == 2019
    per_year = t.groupby("year")["ceads_name"].nunique()
    assert per_year[2012] == 263 and per_year[2019] == 170  # unbalanced, as the README says
    first = t.iloc[0]
    assert (first["ceads_name"], first["year"], first["row"]) == ("北京", 1997, 2)
    assert first["co2_mt"] == pytest.approx(61.918115152276634, rel=1e-15)


def test_all_ceads_city_names_resolve(city: LoadResult) -> None:
    """Every one of the 290 CEADs names resolves to its own code, also year by year."""
    names = city.table["ceads_name"].unique()
    codes = resolve_names(names, kinds={"ceads_city"})
    assert len(codes) == 290 and len(set(codes.values())) == 290
    assert codes["安徽巢湖"] == "341400" and codes["内蒙古兴安盟"] == "152200" and codes["北京"] == "110000"
    assert codes["湖北襄阳"] == "420600" and codes["新疆伊犁州直属县"] == "654000"
    for year, group in city.table.groupby("year"):
        names = group["ceads_name"].unique()
        assert len(resolve_names(names, year=int(year))) == len(names)


def test_abolished_city_does_not_resolve_after_it_ended() -> None:
    """安徽巢湖 (abolished 2011) resolves for 2010 but not for 2012: validity years are used."""
    assert resolve_names(["安徽巢湖"], year=2010) == {"安徽巢湖": "341400"}
    with pytest.raises(UnresolvedNamesError, match="安徽巢湖"):
        resolve_names(["安徽巢湖"], year=2012)


def test_resolve_names_lists_every_failure() -> None:
    """One error names every unresolved or ambiguous name, not just the first."""
    with pytest.raises(UnresolvedNamesError) as err:
        resolve_names(["安徽安庆", "安徽火星", "Suzhou City", "Atlantis"])
    msg = str(err.value)
    assert "3 name(s)" in msg and "安徽火星" in msg and "Atlantis" in msg
    assert "ambiguous" in msg and "320500" in msg and "341300" in msg
    assert set(err.value.problems) == {"安徽火星", "Suzhou City", "Atlantis"}
    assert resolve_names([("安徽省", "Suzhou City"), ("Jiangsu", "Suzhou City")]) == {
        ("安徽省", "Suzhou City"): "341300", ("Jiangsu", "Suzhou City"): "320500"}


# ------------------------------------------------------------------ crosswalk seeds
def test_alias_codes_exist_and_are_unambiguous() -> None:
    """Every alias points to a known unit of its own province; no alias maps to two codes in one province."""
    aliases = load_aliases()
    cities = pd.read_csv(SEEDS / "reference" / "cities.csv", dtype=str)
    historic = pd.read_csv(SEEDS / "crosswalk" / "historic_cities.csv", dtype=str)
    county_units = pd.read_csv(SEEDS / "crosswalk" / "county_level_units.csv", dtype=str)
    province_of = {**dict(zip(cities["city_code"], cities["province_code"], strict=True)),
                   **dict(zip(historic["city_code"], historic["province_code"], strict=True)),
                   **dict(zip(county_units["unit_code"], county_units["province_code"], strict=True))}
    unknown = set(aliases["city_code"]) - set(province_of)
    assert not unknown
    assert (aliases["city_code"].map(province_of) == aliases["province_code"]).all()
    codes_per_alias = aliases.groupby(["alias", "province_code"])["city_code"].nunique()
    assert (codes_per_alias == 1).all(), codes_per_alias[codes_per_alias > 1]
    assert aliases["alias"].str.strip().eq(aliases["alias"]).all()
    # The sample writer needs a CEADs-style name for every reference city.
    ceads_style = aliases[aliases["alias_kind"].isin(["ceads_city", "ceads_style"])]
    assert set(cities["city_code"]) <= set(ceads_style["city_code"])


def test_admin_changes_cover_the_known_breaks() -> None:
    """The required administrative changes are recorded with their year and kind."""
    ch = pd.read_csv(SEEDS / "crosswalk" / "admin_changes.csv", dtype=str, keep_default_na=False)
    got = {(r.old_name, r.new_name, r.change_year, r.change_kind) for r in ch.itertuples()}
    for expected in [("襄樊市", "襄阳市", "2010", "rename"), ("思茅市", "普洱市", "2007", "rename"),
                     ("巢湖市", "", "2011", "abolition"), ("巢湖市", "合肥市", "2011", "split"),
                     ("巢湖市", "芜湖市", "2011", "split"), ("巢湖市", "马鞍山市", "2011", "split"),
                     ("毕节地区", "毕节市", "2011", "upgrade"), ("铜仁地区", "铜仁市", "2011", "upgrade"),
                     ("海东地区", "海东市", "2013", "upgrade"), ("儋州市", "儋州市", "2015", "upgrade"),
                     ("莱芜市", "济南市", "2019", "merge"), ("吐鲁番地区", "吐鲁番市", "2015", "upgrade"),
                     ("哈密地区", "哈密市", "2016", "upgrade")]:
        assert expected in got, expected
    assert "三沙市" in set(ch["new_name"])
    assert {"日喀则地区", "昌都地区", "林芝地区", "山南地区", "那曲地区"} <= set(ch["old_name"])
    historic = pd.read_csv(SEEDS / "crosswalk" / "historic_cities.csv", dtype=str)
    assert historic.set_index("city_code").loc["341400", "valid_to"] == "2010"


# ------------------------------------------------------------------ county file (real)
def test_county_file_reads_every_county(county: LoadResult) -> None:
    """2,735 counties × 21 years load; the publisher's suffixed codes get their own 6-digit codes."""
    t = county.table
    assert list(t.columns[:10]) == ["county_code", "distcode_raw", "county_cn", "county_en", "city_cn",
                                    "city_en", "province_cn", "province_en", "year", "co2_mt"]
    assert county.rejected.empty
    assert t["county_code"].nunique() == 2735 and len(t) == 2735 * 21
    assert t["county_code"].str.fullmatch(r"\d{6}").all()
    assert not t.duplicated(["county_code", "year"]).any()
    assert sorted(t["year"].unique()) == list(range(1997, 2018))
    suffixed = t.drop_duplicates("county_code").set_index("distcode_raw")["county_code"]
    assert suffixed["320211（2）"] == "320214" and suffixed["320506（2）"] == "320571"
    # Surrounding (no-break) spaces the publisher left in names are removed.
    assert "Alashan League" in set(t["city_en"]) and "Turpan Prefecture" in set(t["city_en"])


def test_county_file_cities_resolve(county: LoadResult) -> None:
    """Chinese city names resolve alone; English ones with their province; both give the same code."""
    t = county.table.drop_duplicates("county_code")
    cn = resolve_names(t["city_cn"].unique(), kinds={"county_city_cn"})
    en = resolve_names(list(zip(t["province_cn"], t["city_en"], strict=True)), kinds={"county_city_en"})
    assert len(cn) == 353 and len(en) == 354
    mismatch = [(r.city_cn, r.city_en) for r in t.itertuples()
                if cn[r.city_cn] != en[(r.province_cn, r.city_en)]]
    assert not mismatch
    assert cn["巢湖市"] == "341400" and cn["毕节地区"] == "520500" and cn["济源市"] == "419001"


# ------------------------------------------------------------------ provincial (real)
def test_provincial_layouts_share_one_schema(provincial: LoadResult) -> None:
    """2012 (old labels) and 2019 (new labels) give the same sectors, fuels and columns."""
    t = provincial.table
    assert provincial.rejected.empty
    assert dict(t.groupby("year")["layout"].unique().map(list)) == {2012: ["1997-2017"], 2019: ["2018-"]}
    by_year = {y: g for y, g in t.groupby("year")}
    for g in by_year.values():
        assert g["province_en"].nunique() == 30 and "Tibet" not in set(g["province_en"])
        assert g.groupby("province_en").size().eq(48 * 22).all()
    assert set(by_year[2012]["sector"]) == set(by_year[2019]["sector"])
    assert set(by_year[2012]["fuel"]) == set(by_year[2019]["fuel"])
    assert {"Total Consumption", "TotalEmissions"} <= set(t["sector_raw"])
    assert {"Raw Coal", "Raw_Coal", "CleanedCoal", "Cleaned Coal"} <= set(t["fuel_raw"])
    assert set(t["kind"]) == {"fossil", "other", "process", "scope2", "total"}
    assert t["is_total_row"].dtype == bool and str(t["co2_mt"].dtype) == "float64"


def test_provincial_totals_equal_sum_of_parts(provincial: LoadResult, sectors: pd.DataFrame) -> None:
    """Per province-year: stated totals equal their parts; process sits in Nonmetal Mineral Products."""
    t = provincial.table
    key = ["year", "province_en"]
    scope1 = t[t["is_total_col"]]
    stated = scope1[scope1["is_total_row"]].set_index(key)["co2_mt"].sort_index()
    by_sector = scope1[~scope1["is_total_row"]].groupby(key)["co2_mt"].sum()
    is_part = ~t["is_total_row"] & t["kind"].isin(["fossil", "other", "process"])
    parts = t[is_part].groupby(key)["co2_mt"].sum()
    pd.testing.assert_series_equal(by_sector, stated, check_names=False, rtol=1e-9)
    pd.testing.assert_series_equal(parts, stated, check_names=False, rtol=1e-9)
    process = t[(t["kind"] == "process") & ~t["is_total_row"] & (t["co2_mt"] > 0)]
    assert set(process["sector"]) == {"nonmetal_minerals"}
    industrial = set(sectors.loc[sectors["is_industrial"] == "true", "sector"])
    ind = scope1[scope1["sector"].isin(industrial)].groupby(key)["co2_mt"].sum()
    share = ind / stated  # industry is 41–97% of provincial CO2 in 2012 and 2019 (Beijing … Ningxia)
    assert share.between(0.4, 0.98).all()
    shanghai = stated.loc[(2012, "Shanghai")]
    assert shanghai == pytest.approx(195.92639429225275, rel=1e-12)


# ------------------------------------------------------------------ adversarial variants
def _edited_city(tmp_path: Path, edit) -> Path:
    """Save a copy of the real city workbook after `edit(wb)`; return its folder."""
    wb = openpyxl.load_workbook(CITY_XLSX)
    edit(wb)
    folder = tmp_path / "ceads" / "city"
    folder.mkdir(parents=True)
    wb.save(folder / CITY_FILE_NAME)
    return folder


def test_city_renamed_sheet_is_a_located_error(tmp_path: Path) -> None:
    """A renamed data sheet stops the load, naming the file and the sheet it expected."""
    def edit(wb: openpyxl.Workbook) -> None:
        """Rename the long sheet."""
        wb["emission vector"].title = "emissions"
    folder = _edited_city(tmp_path, edit)
    with pytest.raises(SourceFormatError) as err:
        read_city_inventory(folder)
    assert CITY_FILE_NAME in str(err.value) and "sheet 'emission vector'" in str(err.value)
    assert "emissions" in str(err.value)


def test_city_shifted_header_is_a_located_error(tmp_path: Path) -> None:
    """A blank row above the header is reported at row 1, column A, with the expected label."""
    folder = _edited_city(tmp_path, lambda wb: wb["emission vector"].insert_rows(1))
    with pytest.raises(SourceFormatError) as err:
        read_city_inventory(folder)
    msg = str(err.value)
    assert CITY_FILE_NAME in msg and "sheet 'emission vector'" in msg
    assert "row 1" in msg and "column 'A'" in msg and "expected 'ID'" in msg


def test_city_duplicate_and_bad_values_are_rejected_rows(tmp_path: Path) -> None:
    """A duplicated city-year, a negative value and text are rejected rows; the rest loads."""
    def edit(wb: openpyxl.Workbook) -> None:
        """Duplicate a city-year and break two values."""
        ws = wb["emission vector"]
        ws.append([c.value for c in ws[2]])  # 北京1997 again, at the bottom
        ws["D3"] = -1.0  # 北京1998 (the matrix still holds the true value)
        ws["D4"] = "n/a"  # 北京1999
    folder = _edited_city(tmp_path, edit)
    res = read_city_inventory(folder)
    rej = res.rejected.set_index("row")
    assert len(res.table) == 3929 - 2
    dup_row = 3931
    assert "duplicate" in rej.loc[dup_row, "reason"] and "row 2" in rej.loc[dup_row, "reason"]
    assert rej.loc[dup_row, "sheet"] == "emission vector" and rej.loc[dup_row, "column"] == "B"
    assert rej.loc[3, "reason"] == "emission is negative" and rej.loc[3, "column"] == "D"
    assert rej.loc[4, "reason"] == "emission is not a number"
    # The matrix still holds both broken city-years; they are not reported twice.
    assert set(res.rejected["sheet"]) == {"emission vector"}


def test_city_vector_matrix_disagreement_is_quarantined(tmp_path: Path) -> None:
    """A vector value that the matrix contradicts is rejected with the matrix cell named."""
    def edit(wb: openpyxl.Workbook) -> None:
        """Change one vector value by 0.1%."""
        wb["emission vector"]["D2"] = wb["emission vector"]["D2"].value * 1.001
    res = read_city_inventory(_edited_city(tmp_path, edit))
    assert len(res.table) == 3929 - 1
    (reason,) = res.rejected["reason"]
    assert "emission matrix" in reason and res.rejected["row"].iloc[0] == 2


def test_city_unknown_name_is_reported_by_the_crosswalk(tmp_path: Path) -> None:
    """A name no alias knows loads as written but fails resolution, listed by name."""
    def edit(wb: openpyxl.Workbook) -> None:
        """Rename 安徽安庆 to a city that does not exist, in both sheets."""
        for ws in (wb["emission vector"], wb["emission matrix"]):
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value == "安徽安庆":
                        cell.value = "安徽安卡拉"
                    elif isinstance(cell.value, str) and cell.value.startswith("安徽安庆"):
                        cell.value = cell.value.replace("安徽安庆", "安徽安卡拉")
    res = read_city_inventory(_edited_city(tmp_path, edit))
    assert res.rejected.empty and "安徽安卡拉" in set(res.table["ceads_name"])
    where = first_locations(res.table, "ceads_name", cell_column="B")
    with pytest.raises(UnresolvedNamesError) as err:
        resolve_names(res.table["ceads_name"].unique(), kinds={"ceads_city"}, where=where)
    assert list(err.value.problems) == ["安徽安卡拉"]
    msg = str(err.value)
    first_row = int(res.table.loc[res.table["ceads_name"] == "安徽安卡拉", "row"].min())
    assert f"file {CITY_FILE_NAME}, sheet 'emission vector', row {first_row}, column 'B'" in msg


def _edited_provincial(tmp_path: Path, year: int, edit, keep: tuple[str, ...] = ("Shanghai", "Beijing"),
                       ) -> Path:
    """Save a two-province copy of a real provincial workbook after `edit(wb)`; return its folder."""
    wb = openpyxl.load_workbook(PROV_XLSX[year])
    for name in wb.sheetnames:
        if name != "NOTE" and not name.startswith(keep):
            del wb[name]
    edit(wb)
    folder = tmp_path / "ceads" / "provincial"
    folder.mkdir(parents=True)
    wb.save(folder / PROV_XLSX[year].name)
    return folder


def test_provincial_sheet_with_wrong_year_is_a_located_error(tmp_path: Path) -> None:
    """A sheet renamed to another year contradicts the file name: error naming file and sheet."""
    def edit(wb: openpyxl.Workbook) -> None:
        """Give one sheet the wrong year."""
        wb["Beijing2012"].title = "Beijing2013"
    with pytest.raises(SourceFormatError) as err:
        read_provincial_inventories(_edited_provincial(tmp_path, 2012, edit))
    msg = str(err.value)
    assert "Emission_Inventories_for_30_Provinces_2012.xlsx" in msg and "sheet 'Beijing2013'" in msg
    assert "2013" in msg and "2012" in msg


def test_provincial_shifted_header_is_a_located_error(tmp_path: Path) -> None:
    """A blank row above the fuel labels is reported at row 1 of that sheet with what was expected."""
    for year in (2012, 2019):
        def edit(wb: openpyxl.Workbook, y: int = year) -> None:
            """Push the header of one sheet down by a row."""
            wb[f"Beijing{y}"].insert_rows(1)
        folder = _edited_provincial(tmp_path / str(year), year, edit)
        with pytest.raises(SourceFormatError) as err:
            read_provincial_inventories(folder)
        msg = str(err.value)
        assert f"Emission_Inventories_for_30_Provinces_{year}.xlsx" in msg and f"sheet 'Beijing{year}'" in msg
        assert "row 1" in msg and "column 'B'" in msg and "shifted" in msg and "expected fuel labels" in msg


def test_provincial_unknown_label_is_a_located_error(tmp_path: Path) -> None:
    """A sector label outside the seed vocabulary names its cell and the seed to extend."""
    def edit(wb: openpyxl.Workbook) -> None:
        """Put an unknown sector label in column A."""
        wb["Shanghai2012"]["A10"] = "Space Mining"
    with pytest.raises(SourceFormatError) as err:
        read_provincial_inventories(_edited_provincial(tmp_path, 2012, edit))
    msg = str(err.value)
    assert "sheet 'Shanghai2012'" in msg and "row 10" in msg and "column 'A'" in msg
    assert "Space Mining" in msg and "ceads_sectors.csv" in msg


def test_provincial_total_mismatch_is_quarantined_or_raised(tmp_path: Path) -> None:
    """An edited part makes two stated totals disagree: rejected with location, or raised when strict."""
    def edit(wb: openpyxl.Workbook) -> None:
        """Change one part so two stated totals disagree."""
        wb["Shanghai2019"]["B6"] = 5.0  # Coal Mining × Raw_Coal, stated 0
    folder = _edited_provincial(tmp_path, 2019, edit)
    res = read_provincial_inventories(folder)
    rej = res.rejected
    # Row 6's Scope 1 Total (W6) no longer equals its fuels; the total row's Raw_Coal (B4) no longer
    # equals its sectors. W4 still agrees with both its row and its column, so it stays.
    assert set(zip(rej["sheet"], rej["row"], rej["column"], strict=True)) == {
        ("Shanghai2019", 6, "W"), ("Shanghai2019", 4, "B")}
    assert rej["reason"].str.contains("stated total").all()
    with pytest.raises(SourceFormatError) as err:
        read_provincial_inventories(folder, strict=True)
    assert "sheet 'Shanghai2019'" in str(err.value) and "column" in str(err.value)


def test_county_renamed_sheet_and_shifted_header(tmp_path: Path) -> None:
    """The county unit lives in the sheet name, so a renamed sheet is an error; so is a shifted header."""
    wb = openpyxl.load_workbook(COUNTY_XLSX)
    ws = wb.worksheets[0]
    ws.delete_rows(50, ws.max_row)  # a short copy is enough and keeps the test fast
    folders = [tmp_path / str(k) / "ceads" / "county" for k in range(2)]
    for folder in folders:
        folder.mkdir(parents=True)
    ws.title = "Sheet1"
    wb.save(folders[0] / COUNTY_FILE_NAME)
    ws.title = "Unit (Million tons)"
    ws.insert_cols(1)
    wb.save(folders[1] / COUNTY_FILE_NAME)
    messages = []
    for folder in folders:
        with pytest.raises(SourceFormatError) as err:
            read_county_emissions(folder)
        messages.append(str(err.value))
    assert all(COUNTY_FILE_NAME in m and "sheet 'Unit (Million tons)'" in m for m in messages)
    assert "Sheet1" in messages[0]
    assert "row 1" in messages[1] and "column 'A'" in messages[1] and "DISTCODE" in messages[1]


def test_missing_folders_name_the_expected_layout(tmp_path: Path) -> None:
    """Missing inputs raise MissingSourceError with the layout the reader expects."""
    for reader, name in [(read_city_inventory, "city"), (read_provincial_inventories, "provincial"),
                         (read_county_emissions, "county")]:
        with pytest.raises(MissingSourceError) as err:
            reader(tmp_path / "ceads" / name)
        assert f"ceads/{name}/" in str(err.value)


# ------------------------------------------------------------------ sample writer round trip
@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    """A small truth rendered by the CEADs writer."""
    from dagster_project.sample.ceads import write_ceads
    from dagster_project.sample.dgp import simulate

    # 2015–2019 covers both label layouts (<= 2017 and 2018+) and county years (<= 2017).
    truth = simulate(n_cities=40, years=range(2015, 2020), seed=3)
    out = tmp_path_factory.mktemp("sample")
    return truth, out, write_ceads(truth, out)


def test_sample_city_round_trip(sample) -> None:
    """The city workbook gives back exactly the in-CEADs city-years, and its names resolve."""
    truth, out, _ = sample
    res = read_city_inventory(out / "ceads" / "city")
    assert res.rejected.empty
    codes = resolve_names(res.table["ceads_name"].unique(), kinds={"ceads_city", "ceads_style"})
    got = res.table.assign(city_code=res.table["ceads_name"].map(codes))
    want = truth.city_year.loc[truth.city_year["in_ceads"], ["city_code", "year", "co2_mt"]]
    m = want.merge(got, on=["city_code", "year"], how="outer", indicator=True)
    assert (m["_merge"] == "both").all()
    # openpyxl writes 16 significant digits, so values come back to ~1e-16 relative.
    assert ((m["co2_mt_x"] - m["co2_mt_y"]).abs() <= 1e-13 * m["co2_mt_x"].abs()).all()


def test_sample_provincial_round_trip(sample, sectors: pd.DataFrame) -> None:
    """Industrial sectors add up to co2_industrial_mt, all sectors to co2_mt, process to co2_process_mt."""
    truth, out, _ = sample
    res = read_provincial_inventories(out / "ceads" / "provincial")
    assert res.rejected.empty
    t = res.table
    assert dict(t.groupby("year")["layout"].first()) == {y: "1997-2017" if y <= 2017 else "2018-"
                                                         for y in range(2015, 2020)}
    industrial = set(sectors.loc[sectors["is_industrial"] == "true", "sector"])
    key = ["province_en", "year"]
    scope1 = t[t["is_total_col"]]
    got = pd.DataFrame({
        "co2_mt": scope1[scope1["is_total_row"]].set_index(key)["co2_mt"],
        "co2_industrial_mt": scope1[scope1["sector"].isin(industrial)].groupby(key)["co2_mt"].sum(),
        "co2_process_mt": t[t["is_total_row"] & (t["kind"] == "process")].set_index(key)["co2_mt"],
    })
    want = (truth.province_year.merge(truth.provinces[["province_code", "province_en"]])
            .query("province_code != '540000'").set_index(key)[list(got.columns)])
    pd.testing.assert_frame_equal(got.sort_index(), want.sort_index(), rtol=1e-12, check_index_type=False)


def test_sample_county_round_trip(sample) -> None:
    """County values for the years <= 2017 come back; Tibet is absent as in the real file."""
    truth, out, _ = sample
    res = read_county_emissions(out / "ceads" / "county")
    assert res.rejected.empty and sorted(res.table["year"].unique()) == list(range(2015, 2018))
    tibet = set(truth.counties.loc[truth.counties["city_code"].str.startswith("54"), "county_code"])
    cy = truth.county_year
    want = cy[(cy["year"] <= 2017) & ~cy["county_code"].isin(tibet)]
    m = want.merge(res.table, on=["county_code", "year"], how="outer", indicator=True)
    assert (m["_merge"] == "both").all()
    assert ((m["co2_mt_x"] - m["co2_mt_y"]).abs() <= 1e-13 * m["co2_mt_x"].abs()).all()
    assert resolve_names(res.table["city_cn"].unique())  # current full names resolve


def test_sample_is_byte_deterministic(sample, tmp_path: Path) -> None:
    """The same truth gives the same bytes (checked on a two-year slice to stay fast)."""
    from dagster_project.sample.ceads import write_ceads

    truth = dataclasses.replace(sample[0], years=[2016, 2018])
    digests = []
    for k in range(2):
        paths = write_ceads(truth, tmp_path / str(k))
        digests.append([(p.relative_to(tmp_path / str(k)), hashlib.sha256(p.read_bytes()).hexdigest())
                        for p in paths])
    assert digests[0] == digests[1] and len(digests[0]) == 4


# ------------------------------------------------------------------ provincial: layouts per sheet
def _mixed_workbook(out: Path, year: int) -> dict[str, tuple[int, str]]:
    """Write `Emission_Inventories_for_30_Provinces_<year>.xlsx` from the real 2012 and 2019 files.

    Provinces alternate between the 2012 sheet (1997–2017 labels, empty corner) and the 2019 sheet
    (2018+ labels, `Emission_Inventory`/`unit` corner); one 2019-layout sheet carries the old
    `Cleaned Coal` label, as in the real 2017 file. Returns province -> (source year, layout expected).
    """
    src = {y: openpyxl.load_workbook(PROV_XLSX[y], read_only=True) for y in (2012, 2019)}
    wb = openpyxl.Workbook()
    note = wb.active
    note.title = "NOTE"
    for row in src[2019]["NOTE"].iter_rows(values_only=True):
        note.append([row[0], year] if str(row[0]).startswith("Timeseries") else list(row[:2]))
    plan: dict[str, tuple[int, str]] = {}
    provinces = [n.removesuffix("2019") for n in src[2019].sheetnames if n != "NOTE"]
    for k, prov in enumerate(provinces):
        y = 2012 if k % 2 == 0 else 2019
        rows = [list(r) for r in src[y][f"{prov}{y}"].iter_rows(values_only=True)]
        if prov == provinces[1]:  # a 2018+ sheet with one re-issued old label
            rows[0] = ["Cleaned Coal" if v == "CleanedCoal" else v for v in rows[0]]
        ws = wb.create_sheet(f"{prov}{year}")
        for r in rows:
            ws.append(r)
        plan[prov] = (y, "1997-2017" if y == 2012 else "2018-")
    for w in src.values():
        w.close()
    out.mkdir(parents=True, exist_ok=True)
    wb.save(out / f"Emission_Inventories_for_30_Provinces_{year}.xlsx")
    return plan


def test_layout_is_decided_per_sheet_on_a_mixed_real_workbook(provincial: LoadResult, tmp_path: Path) -> None:
    """A workbook mixing real 2012 sheets, real 2019 sheets and a 2019 sheet with `Cleaned Coal` loads
    completely, each sheet in its own layout, with every cell equal to the same cell read from the
XX
    copied floats); asserted: 1e-13 relative."""
    plan = _mixed_workbook(tmp_path / "prov", 2017)
    got = read_provincial_inventories(tmp_path / "prov")
    assert got.rejected.empty
    t = got.table
    assert dict(t.groupby("province_en")["layout"].agg(lambda s: sorted(set(s)))) == {
        p: [layout] for p, (_, layout) in plan.items()}
    ref = provincial.table
    key = ["province_en", "sector", "fuel", "row", "column"]
    worst = 0.0
    for prov, (y, _) in plan.items():
        a = t[t.province_en == prov].set_index(key)["co2_mt"].sort_index()
        b = ref[(ref.province_en == prov) & (ref.year == y)].set_index(key)["co2_mt"].sort_index()
        assert len(a) > 100 and a.index.equals(b.index), prov
        rel = (a - b).abs() / b.abs().clip(lower=1e-300)
        worst = max(worst, float(rel.max()))
    assert worst <= 1e-15, worst
    cleaned = t[(t.province_en == list(plan)[1]) & (t.fuel_raw == "Cleaned Coal")]
    assert len(cleaned) and (cleaned.fuel == "cleaned_coal").all() and (cleaned.layout == "2018-").all()


def test_unknown_label_still_fails_with_its_location(tmp_path: Path) -> None:
    """Accepting either layout's spelling is not accepting anything: an unknown fuel label is an error."""
    _mixed_workbook(tmp_path / "prov", 2017)
    path = tmp_path / "prov" / "Emission_Inventories_for_30_Provinces_2017.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb[wb.sheetnames[2]]
    ws["C1"] = "Clean Coal"
    wb.save(path)
    with pytest.raises(SourceFormatError, match=r"sheet '.*2017', row 1, column 'C': header cell is 'Clean Coal'"):
        read_provincial_inventories(tmp_path / "prov")


def test_reissued_spellings_of_sheet_names_and_total_row(provincial: LoadResult, tmp_path: Path) -> None:
    """Spellings other re-issued vintages use (`Inner mongolia<year>` sheets, a `Total Emissions` total row
    in the 2018+ layout; seen handled in OpenClimate's reader of all 1997-2019 files) load to the same
    province and sector codes with the same numbers. Achieved: one ulp (openpyxl re-serialises the copied
    floats), asserted: 1e-15 relative."""
    plan = _mixed_workbook(tmp_path / "prov", 2017)
    path = tmp_path / "prov" / "Emission_Inventories_for_30_Provinces_2017.xlsx"
    wb = openpyxl.load_workbook(path)
    wb["InnerMongolia2017"].title = "Inner mongolia2017"
    new = next(p for p, (_, layout) in plan.items() if layout == "2018-" and p != "InnerMongolia")
    ws = wb[f"{new}2017"]
    total_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "TotalEmissions")
    ws.cell(total_row, 1).value = "Total Emissions"
    wb.save(path)
    got = read_provincial_inventories(tmp_path / "prov")
    assert got.rejected.empty
    t = got.table
    assert {"InnerMongolia", new} <= set(t.province_en)
    tot = t[(t.province_en == new) & t.is_total_row & t.is_total_col]["co2_mt"]
    y = plan[new][0]
    ref = provincial.table
    want = ref[(ref.province_en == new) & (ref.year == y) & ref.is_total_row & ref.is_total_col]["co2_mt"]
    assert len(tot) == 1 and abs(tot.item() - want.item()) <= 1e-15 * abs(want.item())
