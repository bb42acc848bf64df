"""Reader of China City Statistical Yearbook (中国城市统计年鉴, CCSY) files into one tidy long table.

Folder layout (`<raw>/yearbook/`, see `EXPECTED_LAYOUT`):

- per-edition workbooks `中国城市统计年鉴<edition>.xlsx` (also `中国城市统计年鉴-<edition>-<title>.xlsx`,
  the renamed CNKI downloads), one sheet per yearbook table. The edition maps to the data year through
  `editions.data_year_by_edition` in the dictionary (the 2020 edition reports 2019 data);
- any other `.csv` / `.xlsx` / `.dta` is a vendor "panel" (long: 年份, 省份, 城市, 行政区划代码, then one
  column per indicator such as `地区生产总值_全市_万元`); CSVs may be UTF-8 or GBK/GB18030 (detected, never
  guessed); Stata files give their variable names, or the Chinese variable labels behind ASCII names;
- side-by-side tables (the city header twice in one row, incl. the 1998-2003 `序号 | 城市 | 值` ranking
  tables, whose indicator is named by the title) are read block by block;

Everything about variables (aliases, units, scopes, ranges) lives in `yearbook_dictionary.yaml`; this
module only knows the table *shapes* described in ../shared/reference/ccsy-formats.md §1.

Output (`LoadResult.table`, columns `TIDY_COLUMNS`): one row per published cell, value in the
variable's canonical unit. Decisions:

- missing cells (blank, `—`, `…`, `NA`, … see `missing_markers`) produce NO row;
- text in a numeric column, values outside the dictionary range, unmapped or interpolated (`插值_`)
  headers, footnote rows (`注…`), aggregate rows (`全国`, `城市合计`, …) and skipped sheets/files
  become rows of `LoadResult.rejected` with a reason (nothing is dropped silently);
- layout errors (duplicated header, a header matching two variables, an unknown unit, a truncated
  workbook, an undecodable CSV) raise `SourceFormatError` naming file, sheet, row and column;
- `city_name` is as written minus whitespace (the yearbook pads 2-character names: `北　京`); the `市`
  suffix is kept as printed; per-edition tables carry no 行政区划代码, so `city_code_given` is null there;
- rows of the same city-year-variable from several files are all kept (`source_file` tells them apart).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from openpyxl.utils import get_column_letter

from dagster_project.sources.common import (
    LoadResult,
    MissingSourceError,
    Rejects,
    SourceFormatError,
    require_dir,
)
from dagster_project.sources.frames import NO_STRING, StringPool, string_column
from dagster_project.sources.names import ended_units
from dagster_project.sources.xlsx import read_xlsx

SOURCE = "yearbook"
DICTIONARY_PATH = Path(__file__).with_name("yearbook_dictionary.yaml")
EXPECTED_LAYOUT = (
    "<raw>/yearbook/ with per-edition workbooks named 中国城市统计年鉴<edition>.xlsx (one sheet per table: "
    "title row, optional 单位 cell, 1-4 header rows starting with a 城市 cell, then one row per city) "
    "and optionally vendor panels (*.csv UTF-8/GBK, *.xlsx or Stata *.dta with columns 年份, 城市, [省份], "
    "[行政区划代码], then one column per indicator)"
)
TIDY_COLUMNS = [
    "city_name",
    "province_name",
    "city_code_given",
    "year",
    "edition",
    "variable",
    "scope",
    "value",
    "value_raw",
    "unit_raw",
    "unit",
    "unit_factor",
    "header_raw",
    "source_file",
    "sheet",
    "row",
    "column",
]
# Rank column of the 1998-2003 single-indicator tables (`序号 | 城市 | 值 | 序号 | 城市 | 值`).
RANK_HEADERS = frozenset({"序号", "位次", "排序", "名次"})
# Value-column headers that name no indicator; such a table's title names it.
GENERIC_VALUE_HEADERS = frozenset({"值", "数值", "指标值", "数据", "绝对数"})
MAX_HEADER_ROWS = 5  # the catalogue saw 1-4; one spare for a separate unit row
HEADER_SEARCH_ROWS = 60  # a table's 城市 header sits within its first rows

_CJK = re.compile(r"[\u3400-\u9fff]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
# English left after Chinese in one cell (`地区生产总值增长率 (%) GRP`); the bilingual editions' English.
_TRAILING_EN = re.compile(r"(?<=[\u3400-\u9fff)%])\s*[A-Za-z][A-Za-z0-9\s,.&'/()\-]*$")
# Table numbers in front of a header: `9．国内生产总值`, `5—9国内生产总值`, `2-18…`, `表24…`.
_TABLE_NO = re.compile(r"^(表\d+|\d+\.|\d+、|\d+[—–\-]\d+)")
_READXL_DUP = re.compile(r"\.\.\.\d+$")  # readxl's renaming of duplicated names: `…_万千瓦时...34`
_BRACKET = re.compile(r"\(([^()]*)\)")
_SPLIT = re.compile(r"[_\-]")
_WS = re.compile(r"\s+")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
# Any unit the yearbook could print, known or not: recognising unknown units lets the reader fail on
# them instead of treating them as part of an indicator name.
_UNIT_LIKE = re.compile(
    r"^[十百千万亿]*(元|美元|人|人次|户|吨|度|千瓦时|千瓦小时|立方米|平方米|平方公里|公里|公顷|册|册、件|册件|件|张|个|所|%|"
    r"人每平方公里|人/平方公里)$"
)


# ----------------------------------------------------------------------------------- dictionary


@dataclass(frozen=True)
class Variable:
    """One canonical yearbook variable of the dictionary."""

    name: str
    code: str
    label_zh: str
    label_en: str
    unit: str
    units: dict[str, float]
    scopes: tuple[str, ...]
    range: tuple[float, float]
    kind: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Dictionary:
    """The parsed yearbook dictionary plus the lookup tables the reader derives from it."""

    path: Path
    variables: dict[str, Variable]
    alias_index: dict[str, tuple[str, ...]]
    data_year_by_edition: dict[int, int]
    edition_re: re.Pattern[str]
    panel_extensions: tuple[str, ...]
    scope_tokens: dict[str, str]
    default_scope: str
    unit_aliases: dict[str, str]
    unit_prefixes: tuple[str, ...]
    known_units: frozenset[str]
    city_headers: frozenset[str]
    aggregate_re: re.Pattern[str]
    footnote_prefixes: tuple[str, ...]
    continuation_rows: frozenset[str]
    missing_markers: frozenset[str]
    panel_ids: dict[str, tuple[str, ...]]
    interpolated_sheets: frozenset[str]
    interpolated_prefix: str
    provinces: frozenset[str]
    municipalities: frozenset[str]
    glued_scopes: tuple[str, ...] = ()  # scope words, longest first, that dialect E glues to names
    glued_units: tuple[str, ...] = ()  # unit spellings, longest first
    zero_means_missing: frozenset[str] = frozenset()  # variables whose 0 stands for a missing value

    def norm_unit(self, raw: str) -> str:
        """Return the dictionary spelling of a printed unit (prefixes such as 当年价 removed)."""
        u = unicodedata.normalize("NFKC", raw).strip()
        for p in self.unit_prefixes:
            if u.startswith(p) and len(u) > len(p):
                u = u[len(p) :]
        return self.unit_aliases.get(u, u)

    def is_unit(self, text: str) -> bool:
        """Say whether a header token is a unit (a known one, or anything shaped like a unit)."""
        u = self.norm_unit(text)
        return u in self.known_units or bool(_UNIT_LIKE.match(u))


def load_dictionary(path: Path | None = None) -> Dictionary:
    """Load and index the yearbook dictionary (cached per path and modification time)."""
    path = Path(path or DICTIONARY_PATH)
    if not path.is_file():
        raise MissingSourceError(path, "dagster_project/sources/yearbook_dictionary.yaml")
    return _load_dictionary(path.resolve(), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_dictionary(path: Path, _mtime: int) -> Dictionary:
    """Build the Dictionary of one file version (the mtime argument only keys the cache)."""
    cfg = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)   # libyaml: same result, faster
    scope_tokens = {tok: scope for scope, toks in cfg["scopes"].items() for tok in toks}
    unit_aliases = {unicodedata.normalize("NFKC", k): v for k, v in cfg["unit_aliases"].items()}
    variables: dict[str, Variable] = {}
    known_units: set[str] = set(unit_aliases.values())
    for name, v in cfg["variables"].items():
        units = {str(k): float(f) for k, f in v["units"].items()}
        known_units.update(units)
        variables[name] = Variable(
            name=name,
            code=v["code"],
            label_zh=v["label_zh"],
            label_en=v["label_en"],
            unit=v["unit"],
            units=units,
            scopes=tuple(v["scopes"]),
            range=(float(v["range"][0]), float(v["range"][1])),
            kind=v["kind"],
            aliases=tuple(v.get("aliases") or []) + tuple(v.get("aliases_inferred") or []),
        )
    d = Dictionary(
        path=path,
        variables=variables,
        alias_index={},
        data_year_by_edition={int(k): int(v) for k, v in cfg["editions"]["data_year_by_edition"].items()},
        edition_re=re.compile(cfg["files"]["edition_pattern"]),
        panel_extensions=tuple(cfg["files"]["panel_extensions"]),
        scope_tokens=scope_tokens,
        default_scope=cfg["default_scope"],
        unit_aliases=unit_aliases,
        unit_prefixes=tuple(cfg["unit_prefixes"]),
        known_units=frozenset(known_units),
        city_headers=frozenset(cfg["city_column_headers"]),
        aggregate_re=re.compile(cfg["aggregate_rows"]),
        footnote_prefixes=tuple(cfg["footnote_prefixes"]),
        continuation_rows=frozenset(cfg["continuation_rows"]),
        missing_markers=frozenset(str(m) for m in cfg["missing_markers"]),
        panel_ids={k: tuple(v) for k, v in cfg["panel_id_columns"].items()},
        interpolated_sheets=frozenset(cfg["interpolated_sheets"]),
        interpolated_prefix=cfg["interpolated_prefix"],
        provinces=frozenset(n for names in cfg["provinces"] for n in names),
        municipalities=frozenset(cfg["municipalities"]),
        glued_scopes=tuple(sorted((t for t in scope_tokens if len(t) >= 2), key=len, reverse=True)),
        glued_units=tuple(sorted(known_units | set(unit_aliases), key=len, reverse=True)),
        zero_means_missing=frozenset(cfg.get("zero_means_missing") or []),
    )
    index: dict[str, list[str]] = {}
    for var in variables.values():
        # Aliases go through the same parser as headers, so both sides are normalised identically.
        for alias in var.aliases:
            key = "_".join(parse_header([alias], d).segments)
            # Dialect E glues unit and scope to the name (`采掘业从业人员数万人`): index the bare name too.
            for k in dict.fromkeys([key, _strip_glued(key, d)[0]]):
                if k and var.name not in index.setdefault(k, []):
                    index[k].append(var.name)
    return replace(d, alias_index={k: tuple(v) for k, v in index.items()})


def alias_collisions(d: Dictionary) -> list[tuple[str, str, tuple[str, ...]]]:
    """List (alias key, scope, variables) where one alias maps to several variables in one scope."""
    out = []
    for key, names in d.alias_index.items():
        for scope in ("city", "district"):
            hit = tuple(n for n in names if scope in d.variables[n].scopes)
            if len(hit) > 1:
                out.append((key, scope, hit))
    return out


# ----------------------------------------------------------------------------------- headers


@dataclass
class ParsedHeader:
    """A header reduced to its indicator segments plus the unit and scope it states."""

    segments: list[str] = field(default_factory=list)
    unit: str | None = None
    scope: str | None = None
    interpolated: bool = False


def clean_text(text: object) -> str:
    """Normalise one header cell: drop English lines/tails, full-width forms, whitespace, table numbers."""
    if text is None:
        return ""
    lines = [ln for ln in re.split(r"[\r\n]+", str(text)) if _CJK.search(ln) or not _ASCII_LETTER.search(ln)]
    s = unicodedata.normalize("NFKC", " ".join(lines))
    s = _TRAILING_EN.sub("", s)
    s = _WS.sub("", s)
    s = _READXL_DUP.sub("", s)
    return _TABLE_NO.sub("", s)


def parse_header(texts: Sequence[object], d: Dictionary) -> ParsedHeader:
    """Parse a header path (parent -> child cells, or one vendor string) into segments, unit and scope."""
    ph = ParsedHeader()
    for text in texts:
        s = clean_text(text)
        if not s:
            continue
        if s.startswith(d.interpolated_prefix):
            ph.interpolated, s = True, s[len(d.interpolated_prefix) :]
        s = re.sub(r"^其中:?", "", s)
        if s.startswith("单位"):
            ph.unit = s[2:].lstrip(":") or ph.unit
            continue

        def bracket(m: re.Match[str]) -> str:
            """Take a bracketed scope or unit out of the text; keep any other bracket (e.g. 当年价格)."""
            content = m.group(1)
            if content == "":  # dialect C `常住人口()`: an empty unit
                return ""
            if content in d.scope_tokens:
                ph.scope = d.scope_tokens[content]
                return ""
            if d.is_unit(content):
                ph.unit = content
                return ""
            return m.group(0)

        s = _BRACKET.sub(bracket, s)
        for seg in _SPLIT.split(s):
            if not seg or seg in ("合计", "总计", "小计"):
                continue
            if seg in d.scope_tokens:
                ph.scope = d.scope_tokens[seg]
            elif d.is_unit(seg):
                ph.unit = seg
            else:
                ph.segments.append(seg)
    return ph


def _strip_glued(key: str, d: Dictionary) -> tuple[str, str | None, str | None]:
    """Strip a scope and then a unit glued to the end of a name (dialect E: `户籍人口万人`, `…吨市辖区`)."""
    scope = unit = None
    for tok in d.glued_scopes:
        if key.endswith(tok) and len(key) > len(tok):
            key, scope = key[: -len(tok)], d.scope_tokens[tok]
            break
    for u in d.glued_units:
        if key.endswith(u) and len(key) > len(u):
            key, unit = key[: -len(u)], u
            break
    return key, scope, unit


@dataclass
class ColumnMap:
    """Where one mapped column sits and how its cells become canonical values."""

    index: int
    letter: str
    variable: str
    scope: str
    unit_raw: str | None
    unit: str
    factor: float
    header_raw: str


@dataclass
class _Ctx:
    """Location of the header being resolved, for error messages and rejected rows."""

    file: Path
    sheet: str | None
    row: int


def resolve_header(
    texts: Sequence[object],
    raw: str,
    col: int,
    ctx: _Ctx,
    d: Dictionary,
    rejects: Rejects,
    *,
    default_scope: str | None = None,
    default_unit: str | None = None,
) -> ColumnMap | None:
    """Map one header to (variable, scope, unit factor); None (with a rejected row) if it maps to nothing."""
    letter = get_column_letter(col + 1)
    ph = parse_header(texts, d)
    if ph.interpolated:
        rejects.add(
            ctx.file.name,
            f"interpolated vendor column ({d.interpolated_prefix}): not yearbook data, column skipped",
            sheet=ctx.sheet,
            row=ctx.row,
            column=letter,
            value=raw,
        )
        return None
    if not ph.segments:
        rejects.add(
            ctx.file.name,
            "unmapped header: no indicator name in it, column skipped",
            sheet=ctx.sheet,
            row=ctx.row,
            column=letter,
            value=raw,
        )
        return None
    full = "_".join(ph.segments)
    attempts = [(full, ph.scope, ph.unit)]
    if len(ph.segments) > 1:  # a 其中 child or a vendor `title-column` pair: the child names the variable
        attempts.append((ph.segments[-1], ph.scope, ph.unit))
    for key in dict.fromkeys([full, ph.segments[-1]]):
        k, sc, u = _strip_glued(key, d)
        if k != key:
            attempts.append((k, ph.scope or sc, ph.unit or u))
    hit = next((a for a in attempts if a[0] in d.alias_index), None)
    if hit is None:
        rejects.add(
            ctx.file.name,
            f"unmapped header: {full!r} matches no alias in {d.path.name}, column skipped",
            sheet=ctx.sheet,
            row=ctx.row,
            column=letter,
            value=raw,
        )
        return None
    key, scope, unit = hit
    cands = [d.variables[n] for n in d.alias_index[key]]
    scope = scope or default_scope
    if scope is None:
        # No scope printed (dialects C, E): the 全市 variable if there is one, else the only candidate.
        prim = [v for v in cands if v.scopes[0] == d.default_scope] if len(cands) > 1 else cands
        if len(prim) > 1:
            raise SourceFormatError(
                ctx.file,
                f"header {raw!r} matches several variables: {', '.join(v.name for v in prim)}",
                sheet=ctx.sheet,
                row=ctx.row,
                column=letter,
                expected="each header to match exactly one dictionary variable",
            )
        if not prim:
            prim = cands[:1] if len(cands) == 1 else []
        if not prim:
            raise SourceFormatError(
                ctx.file,
                f"header {raw!r} states no scope and matches {', '.join(v.name for v in cands)}",
                sheet=ctx.sheet,
                row=ctx.row,
                column=letter,
                expected="a 全市 or 市辖区 scope in the header",
            )
        var = prim[0]
        scope = d.default_scope if d.default_scope in var.scopes else var.scopes[0]
    else:
        hit = [v for v in cands if scope in v.scopes]
        if len(hit) > 1:
            raise SourceFormatError(
                ctx.file,
                f"header {raw!r} matches several variables in scope {scope}: "
                f"{', '.join(v.name for v in hit)}",
                sheet=ctx.sheet,
                row=ctx.row,
                column=letter,
                expected="each header to match exactly one dictionary variable",
            )
        if not hit:
            rejects.add(
                ctx.file.name,
                f"header maps to {', '.join(v.name for v in cands)}, which the dictionary "
                f"does not publish for scope {scope!r}; column skipped",
                sheet=ctx.sheet,
                row=ctx.row,
                column=letter,
                value=raw,
            )
            return None
        var = hit[0]
    unit_raw = unit or default_unit
    if unit_raw is None:
        factor = 1.0  # no unit printed (dialect A shares, per-edition sub-columns): the canonical unit
    else:
        factor = var.units.get(d.norm_unit(unit_raw))
        if factor is None:
            raise SourceFormatError(
                ctx.file,
                f"unit {unit_raw!r} of header {raw!r} is not a known unit of {var.name}",
                sheet=ctx.sheet,
                row=ctx.row,
                column=letter,
                expected=f"one of {', '.join(var.units)} (add a factor to {d.path.name})",
            )
    return ColumnMap(col, letter, var.name, scope, unit_raw, var.unit, factor, raw)


def _check_duplicates(maps: list[ColumnMap], ctx: _Ctx) -> None:
    """Raise if two columns of one table map to the same variable and scope."""
    seen: dict[tuple[str, str], ColumnMap] = {}
    for m in maps:
        prev = seen.setdefault((m.variable, m.scope), m)
        if prev is not m:
            raise SourceFormatError(
                ctx.file,
                f"duplicated header: columns {prev.letter} ({prev.header_raw!r}) and {m.letter} "
                f"({m.header_raw!r}) both map to {m.variable} [{m.scope}]",
                sheet=ctx.sheet,
                row=ctx.row,
                column=m.letter,
                expected="one column per variable and scope",
            )


# ----------------------------------------------------------------------------------- cell values


def round_significant(x: np.ndarray, digits: int = 12) -> np.ndarray:
    """Round to `digits` significant digits, removing binary noise that unit factors add (12345.67*1e4)."""
    x = np.asarray(x, dtype=float)
    out = x.copy()
    ok = np.isfinite(x) & (x != 0)
    if not ok.any():
        return out
    dec = (digits - 1 - np.floor(np.log10(np.abs(x[ok])))).astype(int)
    vals = x[ok]
    res = np.empty_like(vals)
    for k in np.unique(dec):
        m = dec == k
        res[m] = np.round(vals[m], int(k))
    out[ok] = res
    return out


# Cells travel as `Cells`: one numpy array per tidy column, one element per cell. Text columns hold
# `StringPool` codes (a few hundred distinct strings over ~500,000 cells), `_obj` the cell as read,
# `edition` is `NO_EDITION` for vendor panels; `_table` decodes them into TIDY_COLUMNS at the end.
Cells = dict[str, np.ndarray]
STRING_COLUMNS = ("city_name", "province_name", "city_code_given", "variable", "scope", "unit_raw", "unit",
                  "header_raw", "source_file", "sheet", "column")
INT_COLUMNS = ("year", "edition", "row")
NO_EDITION = -1


def _concat(blocks: list[Cells]) -> Cells:
    """Concatenate cell blocks column by column."""
    return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}


def _take(cells: Cells, idx: np.ndarray) -> Cells:
    """Return the cells at positions (or where a mask is true) `idx`."""
    return {k: v[idx] for k, v in cells.items()}


class _Located:
    """Location and text of single cells, for rejected rows (decodes only the cells asked for)."""

    def __init__(self, cells: Cells, pool: StringPool) -> None:
        self.cells, self.pool = cells, pool

    def text(self, column: str, i: int) -> str | None:
        """Return the text of one cell's string column."""
        code = int(self.cells[column][i])
        return None if code == NO_STRING else self.pool.values[code]

    def reject(self, rejects: Rejects, i: int, reason: str, value: object) -> None:
        """Record cell i as rejected with its file, sheet, row and column."""
        rejects.add(self.text("source_file", i), reason, sheet=self.text("sheet", i),
                    row=int(self.cells["row"][i]), column=self.text("column", i), value=value)


def _value_raw(obj: np.ndarray) -> list[str | None]:
    """Return cells as written: text as is, anything else as its repr (None for empty)."""
    return [v if isinstance(v, str) else (None if v is None else repr(v)) for v in obj.tolist()]


def _to_values(cells: Cells, pool: StringPool, d: Dictionary, rejects: Rejects) -> Cells:
    """Turn raw cell objects (`_obj`) into canonical values; drop missing cells, reject text and outliers."""
    obj = cells.pop("_obj")
    at = _Located(cells, pool)
    n = len(obj)
    kinds = list(map(type, obj.tolist()))
    is_num = np.fromiter((k is int or k is float for k in kinds), dtype=bool, count=n)
    is_str = np.fromiter((k is str for k in kinds), dtype=bool, count=n)
    value = np.full(n, np.nan)
    value[is_num] = obj[is_num].astype(float)
    keep = is_num & ~np.isnan(value)
    bad = ~is_num & ~is_str & ~pd.isna(obj)  # dates, booleans: not numbers
    if is_str.any():
        s = pd.Series(obj[is_str], dtype=object).astype(str).str.normalize("NFKC").str.strip()
        missing = s.isin(d.missing_markers).to_numpy()
        t = s.str.replace(r"\s+", "", regex=True)
        t = t.where(~t.str.match(_THOUSANDS.pattern), t.str.replace(",", "", regex=False))
        num = pd.to_numeric(t.where(t.str.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")), errors="coerce")
        parsed = num.notna().to_numpy()
        idx = np.flatnonzero(is_str)
        value[idx[parsed]] = num.to_numpy()[parsed]
        keep[idx[parsed]] = True
        bad[idx[~parsed & ~missing]] = True
    for i in np.flatnonzero(bad).tolist():
        at.reject(rejects, i, f"not a number in numeric column {at.text('variable', i)} [{at.text('scope', i)}]: "
                  "expected a number, a blank or a missing marker (—, …, NA)", obj[i])
    factor = cells["unit_factor"]
    cells["value"] = np.where(factor != 1.0, round_significant(value * factor), value)
    cells["_obj"] = obj
    cells = _take(cells, keep)
    at = _Located(cells, pool)
    lo_of = np.full(len(pool.values) + 1, np.nan)  # by variable code; the last slot is NO_STRING
    hi_of = lo_of.copy()
    for name, var in d.variables.items():
        if (code := pool.find(name)) is not None:
            lo_of[code], hi_of[code] = var.range
    lo, hi = lo_of[cells["variable"]], hi_of[cells["variable"]]
    v = cells["value"]
    out = (v < lo) | (v > hi)
    for i in np.flatnonzero(out).tolist():
        at.reject(rejects, i, f"value {v[i]:g} {at.text('unit', i)} outside the valid range "
                  f"[{lo[i]:g}, {hi[i]:g}] of {at.text('variable', i)}", _value_raw(cells["_obj"][i: i + 1])[0])
    return _take(cells, ~out)


def _quarantine(cells: Cells, pool: StringPool, d: Dictionary, rejects: Rejects) -> Cells:
    """Reject cells that parse but cannot be right: zeros meaning missing, ended units, self-contradictions."""
    n = len(cells["value"])
    at = _Located(cells, pool)
    bad = np.zeros(n, dtype=bool)

    def reject(i: int, reason: str) -> None:
        """Record cell i as rejected with its location and raw value."""
        at.reject(rejects, i, reason, _value_raw(cells["_obj"][i: i + 1])[0])
        bad[i] = True

    def codes_of(names: Iterable[str]) -> np.ndarray:
        """Return the codes of those names that occur in this read (others match no cell)."""
        return np.asarray([c for s in names if (c := pool.find(s)) is not None], dtype=np.int32)

    # 1. A 0 where a prefecture-level city cannot have 0 (population, GDP, ...) is a vendor's blank.
    zero = np.isin(cells["variable"], codes_of(d.zero_means_missing)) & (cells["value"] == 0)
    for i in np.flatnonzero(zero).tolist():
        v = d.variables[at.text("variable", i)]
        reject(i, f"zero {v.label_zh} ({v.name}) stands for a missing value: a prefecture-level city "
                  f"cannot report 0 (zero_means_missing in {d.path.name}); cell not used")
    # 2. A unit that had been abolished or merged by that year (莱芜 from 2019), by its code or name.
    ended = ended_units()
    ident = np.where(cells["city_code_given"] != NO_STRING, cells["city_code_given"], cells["city_name"])
    for i in np.flatnonzero(np.isin(ident, codes_of(ended))).tolist():
        unit = ended[pool.values[ident[i]]]
        if int(cells["year"][i]) >= unit.change_year:
            reject(i, unit.reason(int(cells["year"][i])))
    # 3. One file giving two different values for one city-year-variable-scope contradicts itself: no
    #    precedence rule can pick (the 0.5% agreement tolerance is for different editions/vendors).
    #    Duplicates are found on the codes; only the few duplicated cells are decoded and grouped.
    keys = ["source_file", "year", "variable", "scope"]
    ok = np.flatnonzero(~bad)
    coded = pd.DataFrame({k: cells[k][ok] for k in keys} | {"_id": ident[ok]})
    pos = ok[coded.duplicated(keep=False).to_numpy()]
    sub = pd.DataFrame(
        {k: pool.decode(cells[k][pos]) for k in ("source_file", "variable", "scope", "sheet", "column")}
        | {"year": cells["year"][pos].tolist(), "_id": pool.decode(ident[pos]), "row": cells["row"][pos].tolist(),
           "value": cells["value"][pos]},
        index=pos, dtype=object,
    )
    for _, grp in sub.groupby([*keys, "_id"], sort=True, dropna=False):
        if grp["value"].nunique() < 2:
            continue  # the same number twice (e.g. a table printed in two places): harmless
        where = "; ".join(f"sheet {r.sheet!r} row {r.row} column {r.column} = {r.value:g}"
                          for r in grp.itertuples())
        for i in grp.index:
            reject(int(i), f"the same file gives {grp['_id'].iat[0]} {grp['year'].iat[0]} "
                           f"{grp['variable'].iat[0]} [{grp['scope'].iat[0]}] different values ({where}); "
                           "all of them quarantined")
    return _take(cells, ~bad)


def _block(
    rows: list[tuple],
    maps: list[ColumnMap],
    pool: StringPool,
    *,
    strings: dict[str, str | None],
    row_strings: dict[str, list[str | None]],
    row_ints: dict[str, list[int]],
) -> Cells:
    """Melt the mapped columns of data rows into cells (column-major), with per-row/per-column labels."""
    n, m = len(rows), len(maps)
    width = max(c.index for c in maps) + 1
    grid = np.empty((n, width), dtype=object)
    for i, r in enumerate(rows):
        k = min(len(r), width)
        grid[i, :k] = r[:k]
    out: Cells = {"_obj": grid[:, [c.index for c in maps]].ravel(order="F")}
    for k, v in row_strings.items():
        out[k] = np.tile(pool.codes(v), m)
    for k, v in row_ints.items():
        out[k] = np.tile(np.asarray(v, dtype=np.int64), m)
    for attr in ("variable", "scope", "unit_raw", "unit", "header_raw", "letter"):
        out["column" if attr == "letter" else attr] = np.repeat(pool.codes(getattr(c, attr) for c in maps), n)
    out["unit_factor"] = np.repeat(np.asarray([c.factor for c in maps], dtype=np.float64), n)
    for k, v in strings.items():
        out[k] = np.full(n * m, pool.code(v), dtype=np.int32)
    return out


def _table(cells: Cells | None, pool: StringPool) -> pd.DataFrame:
    """Decode cells into the tidy table: TIDY_COLUMNS in order with fixed dtypes."""
    if cells is None:
        cells = {k: np.empty(0, dtype=np.int32) for k in (*STRING_COLUMNS, *INT_COLUMNS)}
        cells |= {"value": np.empty(0), "unit_factor": np.empty(0), "_obj": np.empty(0, dtype=object)}
    out: dict[str, object] = {}
    for c in TIDY_COLUMNS:
        if c in STRING_COLUMNS:
            out[c] = pool.column(cells[c])
        elif c in INT_COLUMNS:
            values = cells[c].astype(np.int64)
            out[c] = pd.arrays.IntegerArray(values, values == NO_EDITION if c == "edition" else
                                            np.zeros(len(values), dtype=bool))
        elif c == "value_raw":
            out[c] = string_column(_value_raw(cells["_obj"]))
        else:
            out[c] = cells[c].astype(np.float64)
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------------- per-edition workbooks


def _text(v: object) -> str:
    """Return a cell as stripped text ('' for empty)."""
    return "" if v is None else str(v).strip()


def _name(v: object) -> str:
    """Return a city/province cell without any whitespace (the yearbook pads names: `北　京`)."""
    if v is None:
        return ""
    return _name_text(v) if isinstance(v, str) else _WS.sub("", unicodedata.normalize("NFKC", str(v)))


@lru_cache(maxsize=16384)
def _name_text(v: str) -> str:
    """`_name` of a text cell, cached: the same few hundred names recur in every table of every edition."""
    return _WS.sub("", unicodedata.normalize("NFKC", v))


def _has_text(r: tuple, columns: list[int]) -> bool:
    """Say whether any of the columns of a row holds anything (as `_text(cell) != ""`, numbers first)."""
    n = len(r)
    return any(c < n and ((v := r[c]).__class__ in (int, float) or _text(v) != "") for c in columns)


def _read_edition(path: Path, edition: int, d: Dictionary, rejects: Rejects, pool: StringPool) -> list[Cells]:
    """Read every table sheet of one per-edition workbook."""
    if edition not in d.data_year_by_edition:
        raise SourceFormatError(
            path,
            f"edition {edition} has no data year in {d.path.name}",
            expected=f"an edition listed under editions.data_year_by_edition "
            f"({min(d.data_year_by_edition)}-{max(d.data_year_by_edition)})",
        )
    year = d.data_year_by_edition[edition]
    frames = []
    for sheet, rows in read_xlsx(path):
        frame = _read_table_sheet(path, sheet, rows, d, rejects, pool)
        if frame is not None:
            n = len(frame["_obj"])
            frame["year"], frame["edition"] = np.full(n, year, dtype=np.int64), np.full(n, edition, dtype=np.int64)
            frames.append(frame)
    return frames


def _read_table_sheet(
    path: Path, sheet: str, rows: list[tuple], d: Dictionary, rejects: Rejects, pool: StringPool
) -> Cells | None:
    """Parse one yearbook table; side-by-side city blocks (incl. the 序号 layouts) are read block by block."""
    hs = None
    hits: list[int] = []
    for i, r in enumerate(rows[:HEADER_SEARCH_ROWS]):
        hits = [j for j, v in enumerate(r) if isinstance(v, str) and clean_text(v) in d.city_headers]
        if hits:
            hs = i
            break
    if hs is None:
        rejects.add(
            path.name,
            f"sheet has no city table (no {'/'.join(sorted(d.city_headers)[:3])}… header in "
            f"the first {HEADER_SEARCH_ROWS} rows); sheet skipped",
            sheet=sheet,
        )
        return None
    # Side-by-side panels (ccsy-formats.md §1(a) 7): the city header repeats in one row. Block k runs
    # from its rank column (序号, if any, just left of its city column) to the next block's start.
    starts = []
    for j in hits:
        k = j
        while k > 0 and clean_text(rows[hs][k - 1]) in RANK_HEADERS:
            k -= 1
        starts.append(k)
    ends = [*starts[1:], max(len(r) for r in rows)]
    frames = [
        f
        for cc, end in zip(hits, ends, strict=True)
        if (f := _read_table_block(path, sheet, rows, hs, cc, end, d, rejects, pool)) is not None
    ]
    return _concat(frames) if frames else None


def _read_table_block(
    path: Path,
    sheet: str,
    rows: list[tuple],
    hs: int,
    cc: int,
    end: int,
    d: Dictionary,
    rejects: Rejects,
    pool: StringPool,
) -> Cells | None:
    """Parse one city block (city column `cc`, value columns up to `end`): header block, city rows, notes."""

    def nonblank(r: tuple, j: int) -> bool:
        """Say whether cell j of a row holds anything."""
        return j < len(r) and _text(r[j]) != ""

    block = [hs]
    i = hs + 1
    while i < len(rows) and not nonblank(rows[i], cc):
        if any(_text(v) for v in rows[i]):
            block.append(i)
        i += 1
    if i >= len(rows):
        raise SourceFormatError(
            path,
            f"table header at row {hs + 1} is followed by no data rows (truncated table?)",
            sheet=sheet,
            row=hs + 1,
            column=get_column_letter(cc + 1),
            expected="city rows below the header block",
        )
    if len(block) > MAX_HEADER_ROWS:
        raise SourceFormatError(
            path,
            f"header block has {len(block)} rows",
            sheet=sheet,
            row=hs + 1,
            expected=f"at most {MAX_HEADER_ROWS} header rows above the first city row",
        )
    first_data = i

    # Preamble: title (may state the scope: `(不包括市辖县)`) and a `单位：…` cell.
    title_scope = sheet_unit = title = None
    for r in rows[:hs]:
        for v in r:
            t = clean_text(v)
            if t.startswith("单位"):
                sheet_unit = t[2:].lstrip(":") or None
            elif t and title is None:
                title, title_scope = v, parse_header([v], d).scope

    # Column paths with merged cells filled: a blank means "same as the cell to the left" as long as
    # the columns share their parents.
    width = min(end, max(len(rows[k]) for k in block))
    paths: list[list[str]] = [[""] * len(block) for _ in range(width)]
    for level, k in enumerate(block):
        r = rows[k]
        for c in range(cc + 1, width):
            t = _text(r[c]) if c < len(r) else ""
            if not t and c - 1 > cc and paths[c - 1][:level] == paths[c][:level]:
                t = paths[c - 1][level]
            paths[c][level] = t
    data_rows = rows[first_data:]
    ctx = _Ctx(path, sheet, hs + 1)
    maps: list[ColumnMap] = []
    value_columns = [c for c in range(cc + 1, width) if any(nonblank(r, c) for r in rows[first_data:])]
    for c in range(cc + 1, width):
        texts = [t for t in paths[c] if t]
        if value_columns == [c] and title is not None and _generic_header(texts, d):
            # A single-indicator (序号 | 城市 | 值) table: the indicator is named by the title only.
            texts = [str(title), *texts]
        if not texts or not any(clean_text(t) for t in texts):
            if c == cc + 1:
                continue  # the English city-name column (`City`), absent from the 2011 edition
            if texts or any(nonblank(r, c) for r in data_rows):
                rejects.add(
                    path.name,
                    "column without a Chinese header: column skipped",
                    sheet=sheet,
                    row=hs + 1,
                    column=get_column_letter(c + 1),
                    value=" | ".join(texts) or None,
                )
            continue
        m = resolve_header(
            texts, " | ".join(texts), c, ctx, d, rejects, default_scope=title_scope, default_unit=sheet_unit
        )
        if m is not None:
            maps.append(m)
    _check_duplicates(maps, ctx)
    # Province rows must be empty in every indicator column (the English column may hold `Hebei`).
    value_cols = [c for c in range(cc + 1, width) if c != cc + 1 or any(clean_text(t) for t in paths[c] if t)]

    keep_rows: list[tuple] = []
    row_no: list[int] = []
    names: list[str] = []
    provs: list[str | None] = []
    province: str | None = None
    in_notes = False
    i = first_data
    while i < len(rows):
        r = rows[i]
        name = _name(r[cc]) if cc < len(r) else ""
        has_values = _has_text(r, value_cols)
        if in_notes or (name and name.startswith(d.footnote_prefixes)):
            in_notes = True
            if name or has_values:
                rejects.add(
                    path.name,
                    "footnote row (注…) below the table: not data, row skipped",
                    sheet=sheet,
                    row=i + 1,
                    column=get_column_letter(cc + 1),
                    value=_text(r[cc]) if cc < len(r) else None,
                )
        elif not name:
            if has_values:
                rejects.add(
                    path.name,
                    "values in a row without a city name: row skipped",
                    sheet=sheet,
                    row=i + 1,
                    column=get_column_letter(cc + 1),
                )
        elif name in d.continuation_rows or name.startswith("续表"):
            pass  # a 续表 line: the table continues, usually with its header repeated
        elif name in d.city_headers or (_ASCII_LETTER.search(name) and clean_text(r[cc]) in d.city_headers):
            while i + 1 < len(rows) and not nonblank(rows[i + 1], cc):
                i += 1  # skip the repeated header block
        elif d.aggregate_re.match(name):
            rejects.add(
                path.name,
                "aggregate row (not a city): row skipped",
                sheet=sheet,
                row=i + 1,
                column=get_column_letter(cc + 1),
                value=name,
            )
        elif name in d.provinces and not has_values:
            province = name  # a province group row: it heads the cities below it
        else:
            if name in d.municipalities:
                province = name
            keep_rows.append(r)
            row_no.append(i + 1)
            names.append(name)
            provs.append(province)
        i += 1
    if not keep_rows or not maps:
        return None
    return _block(
        keep_rows,
        maps,
        pool,
        strings={"source_file": path.name, "sheet": sheet, "city_code_given": None},
        row_strings={"city_name": names, "province_name": provs},
        row_ints={"row": row_no},
    )


def _generic_header(texts: list[str], d: Dictionary) -> bool:
    """Say whether a value column's header names no indicator (blank, `值`/`数值`, or only a unit)."""
    cleaned = [clean_text(t) for t in texts if clean_text(t)]
    return all(t in GENERIC_VALUE_HEADERS or d.is_unit(t.strip("()")) for t in cleaned)


# ----------------------------------------------------------------------------------- vendor panels


def decode_text(path: Path) -> tuple[str, str]:
    """Decode a text file as UTF-8 (BOM allowed) or else GB18030 (a GBK superset); never guess silently."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_err:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise SourceFormatError(
                path,
                f"text is neither UTF-8 nor GBK/GB18030 (UTF-8 fails at byte "
                f"{utf8_err.start}, GB18030 at byte {exc.start})",
                row=line,
                expected="a CSV encoded in UTF-8 or GBK",
            ) from exc


def _read_panel_rows(
    path: Path,
    header: list[object],
    body: list[tuple],
    header_row: int,
    sheet: str | None,
    d: Dictionary,
    rejects: Rejects,
    pool: StringPool,
) -> Cells | None:
    """Map a vendor panel's ID and indicator columns and melt it."""
    ctx = _Ctx(path, sheet, header_row)
    ids: dict[str, int] = {}
    id_names = {clean_text(n) or str(n).strip(): role for role, names in d.panel_ids.items() for n in names}
    maps: list[ColumnMap] = []
    for c, h in enumerate(header):
        raw = _text(h)
        key = _WS.sub("", unicodedata.normalize("NFKC", raw))
        role = id_names.get(key) or id_names.get(clean_text(raw))
        if role == "ignore" or (role and role in ids):
            continue
        if role:
            ids[role] = c
            continue
        if not raw:
            if any(c < len(r) and _text(r[c]) for r in body):
                rejects.add(
                    path.name,
                    "column without a header: column skipped",
                    sheet=sheet,
                    row=header_row,
                    column=get_column_letter(c + 1),
                )
            continue
        m = resolve_header([raw], raw, c, ctx, d, rejects)
        if m is not None:
            maps.append(m)
    if "year" not in ids or not ({"city", "city_code"} & ids.keys()):
        raise SourceFormatError(
            path,
            f"vendor panel header {[_text(h) for h in header][:6]} lacks the ID columns",
            sheet=sheet,
            row=header_row,
            expected="a 年份 column and a 城市 or 行政区划代码 column (or an edition workbook "
            "named 中国城市统计年鉴<edition>.xlsx)",
        )
    _check_duplicates(maps, ctx)
    if not maps or not body:
        return None

    def col(role: str) -> list[str | None]:
        """Return one ID column as stripped strings (None when absent or blank)."""
        j = ids.get(role)
        return [(_text(r[j]) or None) if j is not None and j < len(r) else None for r in body]

    year_col, prov_col = col("year"), col("province")
    years = pd.to_numeric(
        pd.Series(year_col, dtype=object).str.replace("年", "", regex=False), errors="coerce"
    )
    good = (years.notna() & (years == years.round())).to_numpy()
    for i in np.flatnonzero(~good):
        rejects.add(
            path.name,
            "年份 is not a year: row skipped",
            sheet=sheet,
            row=header_row + 1 + int(i),
            column=get_column_letter(ids["year"] + 1),
            value=year_col[i],
        )
    codes = [None if c is None else re.sub(r"\.0+$", "", c) for c in col("city_code")]
    names = [None if n is None else _name(n) for n in col("city")]
    rows_idx = np.flatnonzero(good)
    frame = _block(
        [body[i] for i in rows_idx],
        maps,
        pool,
        strings={"source_file": path.name, "sheet": sheet},
        row_strings={
            "city_name": [names[i] for i in rows_idx],
            "province_name": [prov_col[i] for i in rows_idx],
            "city_code_given": [codes[i] for i in rows_idx],
        },
        row_ints={
            "row": [header_row + 1 + int(i) for i in rows_idx],
            "year": [int(years.iloc[i]) for i in rows_idx],
        },
    )
    frame["edition"] = np.full(len(frame["_obj"]), NO_EDITION, dtype=np.int64)
    return frame


def _read_stata(path: Path, d: Dictionary) -> tuple[list[object], list[tuple]]:
    """Read a Stata vendor panel into a header (variable names, or their Chinese labels) and rows.

    Stata 14+ files may carry Chinese variable names (dialects A and E); older ones ASCII names with the
    Chinese header as the variable label. A name that is pure ASCII and not an ID column gives way to a
    label with Chinese in it. Row numbers are observation numbers + 1 (the header counts as row 1).
    """
    try:
        with pd.io.stata.StataReader(path) as reader:
            df = reader.read(convert_categoricals=False, convert_dates=False)
            labels = reader.variable_labels()
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise SourceFormatError(path, f"not a readable Stata file: {exc}", row=1,
                                expected="a Stata .dta file (format 113-119)") from exc
    ids = {_WS.sub("", n).lower() for names in d.panel_ids.values() for n in names}
    header: list[object] = []
    for name in df.columns:
        label = labels.get(name) or ""
        ascii_name = not _CJK.search(name) and name.lower() not in ids
        header.append(label if ascii_name and _CJK.search(label) else name)
    body = [
        tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in r)
        for r in df.itertuples(index=False, name=None)
    ]
    return header, body


def _read_panel(path: Path, d: Dictionary, rejects: Rejects, pool: StringPool) -> list[Cells]:
    """Read a vendor panel CSV (UTF-8 or GBK), Stata .dta or workbook (every non-interpolated sheet)."""
    if path.suffix.lower() == ".dta":
        header, body = _read_stata(path, d)
        frame = _read_panel_rows(path, header, body, 1, None, d, rejects, pool)
        return [] if frame is None else [frame]
    if path.suffix.lower() == ".csv":
        text, _encoding = decode_text(path)
        sep = "\t" if "\t" in text.split("\n", 1)[0] and "," not in text.split("\n", 1)[0] else ","
        df = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
        )
        grid = [tuple(r) for r in df.itertuples(index=False, name=None)]
        if not grid:
            raise SourceFormatError(path, "empty file", expected="a header row and data rows")
        frame = _read_panel_rows(path, list(grid[0]), grid[1:], 1, None, d, rejects, pool)
        return [] if frame is None else [frame]
    frames = []
    for sheet, rows in read_xlsx(path):
        if sheet in d.interpolated_sheets:
            rejects.add(
                path.name, f"interpolated sheet {sheet!r}: not yearbook data, sheet skipped", sheet=sheet
            )
            continue
        start = next((i for i, r in enumerate(rows) if any(_text(v) for v in r)), None)
        if start is None:
            continue
        frame = _read_panel_rows(
            path, list(rows[start]), rows[start + 1 :], start + 1, sheet, d, rejects, pool
        )
        if frame is not None:
            frames.append(frame)
    return frames


# ----------------------------------------------------------------------------------- entry point


def read_yearbook(folder: Path, dictionary: Path | None = None) -> LoadResult:
    """Read all CCSY per-edition workbooks and vendor panels in `folder` into a tidy long table."""
    folder = Path(folder)
    d = load_dictionary(dictionary)
    require_dir(folder, EXPECTED_LAYOUT)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(("~$", ".")))
    rejects = Rejects(SOURCE)
    pool = StringPool()
    frames: list[Cells] = []
    used: list[Path] = []
    for path in files:
        m = d.edition_re.match(path.name)
        if m and path.suffix.lower() in (".xlsx", ".xls"):
            frames += _read_edition(path, int(m.group(1)), d, rejects, pool)
        elif path.suffix.lower() in d.panel_extensions:
            frames += _read_panel(path, d, rejects, pool)
        else:
            rejects.add(
                path.name, f"not a yearbook file type ({path.suffix or 'no extension'}): file skipped"
            )
            continue
        used.append(path)
    if not used:
        raise MissingSourceError(folder / "中国城市统计年鉴<edition>.xlsx", EXPECTED_LAYOUT)
    cells = None
    if frames:
        cells = _quarantine(_to_values(_concat(frames), pool, d, rejects), pool, d, rejects)
    return LoadResult(table=_table(cells, pool), rejected=rejects.frame(), files=used)
