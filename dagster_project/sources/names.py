"""Exact name → city-code resolution through the explainable alias table (never fuzzy matching).

The table is the dbt seed `dbt/seeds/crosswalk/city_name_aliases.csv`: one row per spelling a source
uses, with the 6-digit code it denotes, the province it belongs to, the kind of source it comes from
and the data years in which it is valid. A name resolves when exactly one code remains after
filtering by kind, year and (optionally) province; anything else is reported, all at once.

Conventions of the table (see `_crosswalk__seeds.yml`):
- `valid_from` / `valid_to` are inclusive data years; empty means open-ended. A change that takes
  effect in year Y applies from data year Y (year-end status, as statistical yearbooks report it);
  the old name of a unit that continues (rename, upgrade) stays valid through Y (statistics for the
  transition year still print it), the name of a unit that ends (abolition, merger) has `valid_to = Y - 1`.
- English names from the county file repeat across provinces ("Suzhou City" is 苏州 and 宿州); pass
  `(province, name)` pairs for those. `province` may be a province code, full Chinese name, short
  Chinese name or the English name used in CEADs sheet names, matched exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[2]
ALIASES_CSV = REPO_ROOT / "dbt" / "seeds" / "crosswalk" / "city_name_aliases.csv"
PROVINCES_CSV = REPO_ROOT / "dbt" / "seeds" / "reference" / "provinces.csv"
ADMIN_CHANGES_CSV = REPO_ROOT / "dbt" / "seeds" / "crosswalk" / "admin_changes.csv"
ENDING_CHANGES = ("abolition", "merge")  # change kinds after which the old unit no longer exists

ALIAS_KINDS = (
    "ceads_city",  # as written in the real CEADs city inventory
    "ceads_style",  # constructed in the CEADs convention for units absent from the real file
    "county_city_cn",  # City Name (Chinese) in the county CO2 file, 2010 divisions
    "county_city_en",  # City Name (English) in the county CO2 file, surrounding whitespace removed
    "reference_city_cn",  # full Chinese name from dbt/seeds/reference/cities.csv
    "historic_name",  # a name valid only before an administrative change
    "official_name",  # a name valid only after a change the reference table does not carry yet
)

Name = str | tuple[str, str]


class UnresolvedNamesError(ValueError):
    """Some names did not resolve to exactly one code; `problems` maps each such name to why."""

    def __init__(self, problems: dict[Name, str], year: int | None, kinds: Iterable[str] | None) -> None:
        """Build one message listing every problem, with the year and alias kinds searched."""
        self.problems = problems
        scope = f"year {year}" if year is not None else "any year"
        if kinds is not None:
            scope += f", alias kinds {sorted(kinds)}"
        lines = [f"{len(problems)} name(s) did not resolve to one city code ({scope}); "
                 f"add them to {ALIASES_CSV.relative_to(REPO_ROOT)}:"]
        lines += [f"  {name!r}: {why}" for name, why in problems.items()]
        super().__init__("\n".join(lines))
        self._args = (problems, year, None if kinds is None else tuple(kinds))

    def __reduce__(self) -> tuple:
        """Pickle with the constructor's arguments (readers run in worker processes; see sources.parallel)."""
        return (type(self), self._args)


@lru_cache(maxsize=4)
def load_aliases(path: Path = ALIASES_CSV) -> pd.DataFrame:
    """Read the alias seed with codes as strings and validity years as nullable integers."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("valid_from", "valid_to"):
        df[col] = pd.to_numeric(df[col].replace("", None)).astype("Int64")
    return df


@lru_cache(maxsize=1)
def _province_codes() -> dict[str, str]:
    """Map every exact spelling of a province (code, full, short, English) to its 6-digit code."""
    prov = pd.read_csv(PROVINCES_CSV, dtype=str)
    out: dict[str, str] = {}
    for col in ("province_code", "province_cn", "province_short", "province_en"):
        out.update(dict(zip(prov[col], prov["province_code"], strict=True)))
    return out


@lru_cache(maxsize=4)
def _index(path: Path = ALIASES_CSV) -> dict[str, list[tuple[str, str, str, int | None, int | None]]]:
    """Group alias rows by alias string for O(1) lookup: alias → [(code, province, kind, from, to)]."""
    df = load_aliases(path)
    idx: dict[str, list[tuple[str, str, str, int | None, int | None]]] = {}
    for r in df.itertuples(index=False):
        vf = None if pd.isna(r.valid_from) else int(r.valid_from)
        vt = None if pd.isna(r.valid_to) else int(r.valid_to)
        idx.setdefault(r.alias, []).append((r.city_code, r.province_code, r.alias_kind, vf, vt))
    return idx


def resolve_names(
    names: Iterable[Name],
    year: int | None = None,
    *,
    kinds: Iterable[str] | None = None,
    where: Mapping[Name, str] | None = None,
    aliases_path: Path = ALIASES_CSV,
) -> dict[Name, str]:
    """Map each name (or `(province, name)` pair) to its city code; raise once listing every failure.

    `where` may give, per name, where it was read (see `first_locations`); failures then quote it.
    """
    kind_set = None if kinds is None else set(kinds)
    if kind_set is not None and (unknown := kind_set - set(ALIAS_KINDS)):
        raise ValueError(f"unknown alias kinds {sorted(unknown)}; known: {list(ALIAS_KINDS)}")
    idx = _index(aliases_path)
    provinces = _province_codes()
    resolved: dict[Name, str] = {}
    problems: dict[Name, str] = {}
    for item in names:
        if item in resolved or item in problems:
            continue
        if isinstance(item, str):
            province, name = None, item
        elif isinstance(item, tuple) and len(item) == 2:
            province, name = item
        else:
            problems[item] = "not a name or a (province, name) pair"
            continue
        rows = idx.get(name, [])
        if kind_set is not None:
            rows = [r for r in rows if r[2] in kind_set]
        if year is not None:
            rows = [r for r in rows if (r[3] is None or r[3] <= year) and (r[4] is None or year <= r[4])]
        if province is not None:
            pcode = provinces.get(province)
            if pcode is None:
                problems[item] = f"unknown province {province!r}"
                continue
            rows = [r for r in rows if r[1] == pcode]
        codes = sorted({r[0] for r in rows})
        if len(codes) == 1:
            resolved[item] = codes[0]
        elif not codes:
            near = idx.get(name, [])
            problems[item] = ("no alias with this exact spelling" if not near else
                              f"alias exists but not for this year/kind/province: {sorted(set(near))}")
        else:
            problems[item] = f"ambiguous, could be {codes}; qualify it with the province"
    if problems:
        if where:
            problems = {k: f"{v} (first seen in {where[k]})" if k in where else v
                        for k, v in problems.items()}
        raise UnresolvedNamesError(problems, year, kind_set)
    return resolved


def first_locations(table: pd.DataFrame, name_column: str, cell_column: str | None = None) -> dict[str, str]:
    """Map each name in a reader's tidy table to where it first appears (file, sheet, row[, column])."""
    first = table.drop_duplicates(name_column)
    cell = f", column {cell_column!r}" if cell_column else ""
    cols = [first[c] for c in (name_column, "source_file", "sheet", "row")]
    return {name: f"file {file}, sheet {sheet!r}, row {row}{cell}"
            for name, file, sheet, row in zip(*cols, strict=True)}


def ceads_names_by_code(aliases_path: Path = ALIASES_CSV) -> dict[str, str]:
    """Return city_code → the name a CEADs city inventory writes for it (real spelling first)."""
    df = load_aliases(aliases_path)
    out: dict[str, str] = {}
    # Real spellings win over constructed ones; the seed lists ceads_city before ceads_style.
    for kind in ("ceads_city", "ceads_style"):
        for r in df[df["alias_kind"] == kind].itertuples(index=False):
            out.setdefault(r.city_code, r.alias)
    return out


@dataclass(frozen=True)
class EndedUnit:
    """A prefecture-level unit that stopped existing: from `change_year` on it reports nothing."""

    code: str
    name: str
    change_year: int
    change_kind: str
    successor: str

    def reason(self, year: int) -> str:
        """Say why a row of this unit in `year` cannot be used."""
        return (f"city {self.code} {self.name} did not exist in {year}: {self.change_kind} "
                f"{'into ' + self.successor + ' ' if self.successor else ''}in {self.change_year} "
                f"({ADMIN_CHANGES_CSV.relative_to(REPO_ROOT)}); row not used")


@lru_cache(maxsize=2)
def ended_units(path: Path = ADMIN_CHANGES_CSV) -> dict[str, EndedUnit]:
    """Map the code and the name (with and without 市) of every abolished or merged unit to its end."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    out: dict[str, EndedUnit] = {}
    for r in df[df["change_kind"].isin(ENDING_CHANGES)].itertuples(index=False):
        successor = f"{r.new_code} {r.new_name}".strip()
        unit = EndedUnit(r.old_code, r.old_name, int(r.change_year), r.change_kind, successor)
        for key in (r.old_code, r.old_name, r.old_name.removesuffix("市")):
            out.setdefault(key, unit)
    return out
