"""Alias validity windows against the administrative-change rule, and exact resolution around changes."""

from __future__ import annotations

import pandas as pd
import pytest

from dagster_project.sources.names import ALIASES_CSV, UnresolvedNamesError, load_aliases, resolve_names

CHANGES_CSV = ALIASES_CSV.with_name("admin_changes.csv")
CONTINUING = {"rename", "upgrade"}  # the unit goes on under a new name (and maybe a new code)
ENDING = {"abolition", "merge"}  # the unit stops existing at the end of the change


def _changes() -> pd.DataFrame:
    """admin_changes.csv with codes as text and the change year as an integer."""
    df = pd.read_csv(CHANGES_CSV, dtype=str, keep_default_na=False)
    df["change_year"] = df["change_year"].astype(int)
    return df


def _expected_valid_to(change: pd.Series) -> int:
    """Last data year of the old name: the change year if the unit continues, the year before if it ends."""
    return change.change_year if change.change_kind in CONTINUING else change.change_year - 1


def test_every_historic_alias_window_follows_the_change_rule() -> None:
    """Every historic_name alias ends where its administrative change says, and every change has one.

    Rule (dbt/seeds/crosswalk/_crosswalk__seeds.yml): data year = edition - 1; a continuing unit's old
    name is valid through the change year (襄樊 in data year 2010), an ending unit's through the year before.
    """
    aliases = load_aliases()
    historic = aliases[aliases.alias_kind == "historic_name"]
    changes = _changes()
    checked = 0
    for change in changes[changes.change_kind.isin(CONTINUING | ENDING)].itertuples(index=False):
        if not change.old_code or change.old_name == change.new_name:
            continue  # 三沙: no predecessor city; 儋州: the name did not change
        # An alias of the old unit: the old name, or a CEADs-style spelling of it (province + short name).
        code = change.new_code if change.change_kind in CONTINUING else change.old_code
        short = change.old_name.removesuffix("市").removesuffix("地区")
        rows = historic[(historic.city_code == code) & historic.alias.str.endswith((change.old_name, short))]
        assert len(rows), f"{change.old_name} ({change.change_kind} {change.change_year}) has no historic_name alias"
        want = _expected_valid_to(pd.Series(change._asdict()))
        for r in rows.itertuples(index=False):
            assert r.valid_to == want, (
                f"{r.alias}: valid_to {r.valid_to}, but a {change.change_kind} in {change.change_year} "
                f"makes it valid through {want}")
            checked += 1
    assert checked >= 15, checked  # 13 continuing-unit names + 巢湖 + 莱芜
    # Every bounded historic alias is explained by some change (no window set by hand without a rule).
    explained = {
        r.alias for r in historic.itertuples(index=False)
        if any(r.alias.endswith((c.old_name, c.old_name.removesuffix("市").removesuffix("地区")))
               for c in changes.itertuples(index=False) if c.old_name)
    }
    assert set(historic.loc[historic.valid_to.notna(), "alias"]) <= explained


@pytest.mark.parametrize(("name", "year", "code"), [
    ("襄樊市", 2009, "420600"), ("襄樊市", 2010, "420600"), ("襄阳市", 2010, "420600"), ("襄阳市", 2011, "420600"),
    ("思茅市", 2007, "530800"), ("普洱市", 2007, "530800"), ("毕节地区", 2011, "520500"), ("毕节市", 2012, "520500"),
    ("莱芜市", 2018, "371200"), ("巢湖市", 2010, "341400"),
])
def test_names_resolve_through_the_transition_year(name: str, year: int, code: str) -> None:
    """Old and new names of a continuing unit both resolve in the change year, to the same code."""
    assert resolve_names([name], year) == {name: code}


@pytest.mark.parametrize(("name", "year"), [("襄樊市", 2011), ("思茅市", 2008), ("莱芜市", 2019), ("巢湖市", 2011)])
def test_names_of_ended_or_renamed_units_fail_after_the_window(name: str, year: int) -> None:
    """A name past its window is an error naming it, not a silent match."""
    with pytest.raises(UnresolvedNamesError, match=name):
        resolve_names([name], year, kinds=["historic_name", "official_name"])
