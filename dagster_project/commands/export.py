"""Export the panel for Stata, R and Excel users: treatment variables, labels, a codebook and a .do file.

`export_panel` writes the chosen panel columns joined with the chosen policies' treatment variables
(from `marts.treatment_panel`, wide: `<policy>_treated`, `_cohort`, `_event_time`, `_never_treated`),
a numeric panel id for `xtset` beside the GB/T code, and a codebook (Markdown and CSV) with every full
label and the Stata name mapping. Everything is written to a staging folder first and moved into
place only when every file is complete, so a failure never leaves partial output behind.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.warehouse import table_exists

FORMATS = ("dta", "parquet", "csv", "xlsx")
LANGUAGES = ("en", "cn")
STATA_NAME_MAX = 32
STATA_LABEL_MAX = 80  # characters of a variable label in .dta 118
PANEL_ID = "city_id"
# (suffix, treatment_panel column, English label, Chinese label) of the wide treatment variables.
TREATMENT_FIELDS = [
    ("treated", "treated", "treated (1 from the first treated year on)", "处理组（首次处理年份起为1）"),
    ("cohort", "first_treat_year", "cohort: first treated year (missing if never treated)", "处理批次：首次处理年份"),
    ("event_time", "event_time", "event time: year minus first treated year", "事件时间：年份减首次处理年份"),
    ("never_treated", "never_treated", "never treated (1 if never listed)", "从未处理（1为从未入选）"),
]
YES_NO = {"en": {0: "no", 1: "yes"}, "cn": {0: "否", 1: "是"}}

# Stata allows 32-character names; these abbreviations keep long panel names readable.
_ABBREVIATIONS = [("_district", "_dist"), ("expenditure", "exp"), ("electricity", "elec"),
                  ("residential", "res"), ("industrial", "ind"), ("subscribers", "subs"), ("_10k_yuan", "_wy"),
                  ("_10k_kwh", "_wkwh"), ("_10k", "_w"), ("never_treated", "never"), ("event_time", "etime"),
                  ("_pilot", ""), ("_zone", "")]


class ExportError(ValueError):
    """The export request cannot be met (unknown variable or policy, empty selection, missing table)."""


def stata_names(columns: list[str]) -> dict[str, str]:
    """Map panel columns to unique Stata names of at most 32 characters (abbreviating only long ones)."""
    out: dict[str, str] = {}
    for col in columns:
        name = col
        for long, short in _ABBREVIATIONS:
            if len(name) <= STATA_NAME_MAX:
                break
            name = name.replace(long, short)
        if len(name) > STATA_NAME_MAX or name in out.values():
            raise ValueError(f"cannot give column {col!r} a unique Stata name of at most 32 characters")
        out[col] = name
    return out


def stata_label(text: str, *, limit: int = STATA_LABEL_MAX) -> str:
    """Shorten a label to Stata's limit at a word boundary, marking the cut with '…'."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = max(head.rfind(" "), head.rfind(","), head.rfind(";"), head.rfind("("))
    # Chinese text has no spaces: any character boundary is a word boundary there.
    if cut >= limit // 2:
        head = head[:cut]
    return head.rstrip(" ,;(:") + "…"


@dataclass
class PanelExport:
    """The export in memory: the data, its codebook and the value labels of coded columns."""

    data: pd.DataFrame
    codebook: pd.DataFrame
    value_labels: dict[str, dict[int, str]]
    category_codes: dict[str, dict[str, int]]
    language: str
    id_rule: str


def _close(name: str, choices: Sequence[str]) -> str:
    """Suggest close matches for an unknown name."""
    near = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(near)}?)" if near else ""


def load_export(
    warehouse: Path,
    *,
    variables: Sequence[str] | None = None,
    years: range | None = None,
    policies: Sequence[str] = (),
    label_language: str = "en",
) -> PanelExport:
    """Read the requested panel slice, add treatment variables and the panel id, and build the codebook."""
    if label_language not in LANGUAGES:
        raise ExportError(f"labels must be one of {LANGUAGES}, got {label_language!r}")
    if not warehouse.exists():
        raise ExportError(f"no warehouse at {warehouse}; run `carbonpanel build` first")
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        for table in ("city_year_panel", "variable_dictionary", "treatment_panel"):
            if not table_exists(conn, "marts", table):
                raise ExportError(f"marts.{table} is missing from {warehouse}; run `carbonpanel build` first")
        columns = [r[0] for r in conn.execute("describe marts.city_year_panel").fetchall()]
        chosen = _choose_columns(columns, variables)
        where, params = "", []
        if years is not None:
            where, params = "where year between ? and ?", [years.start, years.stop - 1]
        sel = ", ".join(f'"{c}"' for c in chosen)
        panel = conn.execute(f"select {sel} from marts.city_year_panel {where} order by city_code, year",
                             params).df()
        dictionary = conn.execute("select variable, label_cn, label_en, unit, source, formula "
                                  "from marts.variable_dictionary").df().set_index("variable")
        treatment = _treatment_wide(conn, policies)
        categories = (conn.execute("select variable, value, code, label_cn, label_en from ref.category_labels").df()
                      if table_exists(conn, "ref", "category_labels") else None)
    finally:
        conn.close()
    if panel.empty:
        raise ExportError(f"no panel rows for years {years.start}-{years.stop - 1}" if years else "the panel is empty")
    data, id_rule = _with_panel_id(panel)
    if treatment is not None:
        data = data.merge(treatment.data, on=["city_code", "year"], how="left", validate="one_to_one")
    value_labels, category_codes = _value_labels(data, treatment=treatment, categories=categories,
                                                 language=label_language)
    codebook = _codebook(data, dictionary=dictionary, treatment=treatment, value_labels=value_labels,
                         id_rule=id_rule, language=label_language)
    return PanelExport(data=data, codebook=codebook, value_labels=value_labels, category_codes=category_codes,
                       language=label_language, id_rule=id_rule)


def _value_labels(data: pd.DataFrame, *, treatment: _Treatment | None, categories: pd.DataFrame | None,
                  language: str) -> tuple[dict[str, dict[int, str]], dict[str, dict[str, int]]]:
    """Value labels of 0/1 flags and coded categories (booleans become 0/1 in place), and category codes."""
    value_labels: dict[str, dict[int, str]] = {}
    category_codes: dict[str, dict[str, int]] = {}
    label_col = "label_cn" if language == "cn" else "label_en"
    for col in data.columns:
        if str(data[col].dtype) in ("bool", "boolean"):
            data[col] = data[col].astype("Int8")
            value_labels[col] = YES_NO[language]
        elif treatment is not None and col in treatment.binary:
            value_labels[col] = YES_NO[language]
    if categories is None:
        return value_labels, category_codes
    for var, rows in categories.groupby("variable"):
        if var not in data.columns:
            continue
        unknown = sorted(set(data[var].dropna()) - set(rows["value"]))
        if unknown:
            raise ExportError(f"column {var}: values {unknown} have no entry in ref.category_labels; add "
                              "them to dbt/seeds/dictionary/category_labels.csv")
        value_labels[var] = {int(c): str(lab) for c, lab in zip(rows["code"], rows[label_col], strict=True)}
        category_codes[var] = {str(v): int(c) for v, c in zip(rows["value"], rows["code"], strict=True)}
    return value_labels, category_codes


def _codebook(data: pd.DataFrame, *, dictionary: pd.DataFrame, treatment: _Treatment | None,
              value_labels: dict[str, dict[int, str]], id_rule: str, language: str) -> pd.DataFrame:
    """One row per exported column: Stata name, full and Stata-length label, unit, source, value labels."""
    label_col = "label_cn" if language == "cn" else "label_en"
    names = stata_names(list(data.columns))
    rows = []
    for col in data.columns:
        if col in dictionary.index:
            d = dictionary.loc[col]
            info = {k: d[k] for k in ("label_cn", "label_en", "unit", "source", "formula")}
        elif col == PANEL_ID:
            info = {"label_cn": "面板数值编号（" + id_rule + "）", "label_en": f"Numeric panel id ({id_rule})",
                    "unit": None, "source": "carbonpanel export", "formula": id_rule}
        elif treatment is not None and col in treatment.labels:
            info = treatment.labels[col]
        else:
            raise ExportError(f"column {col} has no entry in marts.variable_dictionary")
        full = info[label_col] if isinstance(info[label_col], str) else ""
        codes = value_labels.get(col)
        rows.append({"column": col, "stata_name": names[col], "label": full, "stata_label": stata_label(full),
                     "label_shortened": len(full) > STATA_LABEL_MAX, "label_cn": info["label_cn"],
                     "label_en": info["label_en"], "unit": info["unit"], "source": info["source"],
                     "formula": info["formula"], "dtype": str(data[col].dtype),
                     "value_labels": "; ".join(f"{k}={v}" for k, v in codes.items()) if codes else ""})
    return pd.DataFrame(rows)


def _choose_columns(columns: list[str], variables: Sequence[str] | None) -> list[str]:
    """The identifying columns plus the requested variables, in panel order; unknown names are an error."""
    if not variables:
        return columns
    unknown = [v for v in variables if v not in columns]
    if unknown:
        raise ExportError("unknown panel variables: " + "; ".join(f"{v}{_close(v, columns)}" for v in unknown)
                          + "\nlist them with: carbonpanel sql \"select variable, label_en from "
                          "marts.variable_dictionary\"")
    wanted = {"city_code", "year", *variables}
    return [c for c in columns if c in wanted]


@dataclass
class _Treatment:
    """The wide treatment variables of the chosen policies with their labels."""

    data: pd.DataFrame
    labels: dict[str, dict[str, object]]
    binary: set[str]


def _treatment_wide(conn: duckdb.DuckDBPyConnection, policies: Sequence[str]) -> _Treatment | None:
    """Pivot marts.treatment_panel to one column per (policy, treatment variable)."""
    if not policies:
        return None
    available = [r[0] for r in conn.execute("select distinct policy_id from marts.treatment_panel order by 1")
                 .fetchall()]
    unknown = [p for p in policies if p not in available]
    if unknown:
        raise ExportError("unknown policies: " + "; ".join(f"{p}{_close(p, available)}" for p in unknown)
                          + f"\npolicies in marts.treatment_panel: {', '.join(available)}")
    names = dict(conn.execute("select policy_id, policy_name_en || ' / ' || policy_name_cn from ref.policy_catalog")
                 .fetchall()) if table_exists(conn, "ref", "policy_catalog") else {}
    long = conn.execute("select city_code, year, policy_id, treated, first_treat_year, event_time, never_treated "
                        "from marts.treatment_panel where policy_id in (select unnest(?))", [list(policies)]).df()
    wide = long[["city_code", "year"]].drop_duplicates().reset_index(drop=True)
    labels: dict[str, dict[str, object]] = {}
    binary: set[str] = set()
    for policy in dict.fromkeys(policies):
        part = long[long["policy_id"] == policy].drop(columns="policy_id")
        rename = {src: f"{policy}_{suffix}" for suffix, src, _, _ in TREATMENT_FIELDS}
        wide = wide.merge(part.rename(columns=rename), on=["city_code", "year"], how="left")
        name_en, _, name_cn = names.get(policy, f"{policy} / {policy}").partition(" / ")
        for suffix, src, en, cn in TREATMENT_FIELDS:
            col = rename[src]
            wide[col] = wide[col].astype("Int64")
            labels[col] = {"label_en": f"{name_en}: {en}", "label_cn": f"{name_cn}：{cn}", "unit": None,
                           "source": "marts.treatment_panel (policy lists in ref.policy_*)",
                           "formula": f"treatment_panel.{src} where policy_id = '{policy}'"}
            if suffix in ("treated", "never_treated"):
                binary.add(col)
    return _Treatment(data=wide, labels=labels, binary=binary)


def _with_panel_id(panel: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Put a numeric panel id beside city_code: the GB/T code as an integer, stable across exports."""
    codes = panel["city_code"].astype("string")
    if codes.str.fullmatch(r"\d{1,9}").all():
        ids, rule = codes.astype("int64"), "GB/T 2260 code as an integer"
    else:
        # Extension units may carry non-numeric codes; a dense rank by code is then the only numeric id.
        ids, rule = codes.rank(method="dense").astype("int64"), "dense rank of city_code"
    out = panel.copy()
    out.insert(1, PANEL_ID, ids)
    return out, rule


def export_panel(
    warehouse: Path,
    out: Path,
    *,
    fmt: str,
    variables: Sequence[str] | None = None,
    years: range | None = None,
    policies: Sequence[str] = (),
    label_language: str = "en",
) -> list[Path]:
    """Write the export and its codebook (and a .do file for Stata); return the files written."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "parquet":
        # Fail before anything is written when the optional engine is missing.
        import pyarrow  # noqa: F401
    exp = load_export(warehouse, variables=variables, years=years, policies=policies, label_language=label_language)
    out = Path(out)
    stem = out.with_suffix("")
    writers: dict[Path, Callable[[Path], None]] = {
        out: {"dta": _write_dta, "parquet": _write_parquet, "csv": _write_csv, "xlsx": _write_xlsx}[fmt](exp),
        Path(f"{stem}.codebook.csv"): lambda p: exp.codebook.to_csv(p, index=False, encoding="utf-8-sig"),
        Path(f"{stem}.codebook.md"): lambda p: p.write_text(codebook_markdown(exp, data_file=out.name),
                                                            encoding="utf-8"),
    }
    if fmt == "dta":
        writers[Path(f"{stem}.do")] = lambda p: p.write_text(do_file(exp, data_file=out.name), encoding="utf-8")
    return write_all_or_nothing(writers)


def write_all_or_nothing(writers: dict[Path, Callable[[Path], None]]) -> list[Path]:
    """Write every file into a staging folder, then move them into place; on failure leave nothing behind."""
    targets = list(writers)
    parent = targets[0].parent.resolve()
    created = [p for p in [parent, *parent.parents] if not p.exists()]
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=parent))
    done = False
    try:
        for target, write in writers.items():
            write(staging / target.name)
        for target in targets:
            os.replace(staging / target.name, target)
        done = True
    finally:
        # Whatever went wrong (including Ctrl-C), the error propagates; only the cleanup happens here.
        shutil.rmtree(staging, ignore_errors=True)
        for folder in [] if done else created:  # innermost first: only folders this call made, if empty
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
    return targets


def _stata_frame(exp: PanelExport) -> pd.DataFrame:
    """The data with category columns coded as integers (their labels go into Stata value labels)."""
    df = exp.data.copy()
    for col, code_of in exp.category_codes.items():
        df[col] = df[col].map(code_of).astype("Int64")
    return df


def _write_dta(exp: PanelExport) -> Callable[[Path], None]:
    """A writer of the Stata 14+ (.dta 118, UTF-8) file with variable and value labels."""
    def write(path: Path) -> None:
        df = _stata_frame(exp)
        names = dict(zip(exp.codebook["column"], exp.codebook["stata_name"], strict=True))
        labels = dict(zip(exp.codebook["stata_name"], exp.codebook["stata_label"], strict=True))
        df = df.rename(columns=names)
        df.to_stata(path, write_index=False, version=118, variable_labels=labels,
                    value_labels={names[c]: v for c, v in exp.value_labels.items()})
    return write


def _write_csv(exp: PanelExport) -> Callable[[Path], None]:
    """A writer of UTF-8 CSV with a byte-order mark, so Excel shows Chinese text correctly."""
    return lambda path: exp.data.to_csv(path, index=False, encoding="utf-8-sig")


def _write_xlsx(exp: PanelExport) -> Callable[[Path], None]:
    """A writer of an Excel workbook with the data and the codebook as sheets."""
    def write(path: Path) -> None:
        with pd.ExcelWriter(path, engine="openpyxl") as xl:
            exp.data.to_excel(xl, sheet_name="panel", index=False)
            exp.codebook.to_excel(xl, sheet_name="codebook", index=False)
    return write


def _write_parquet(exp: PanelExport) -> Callable[[Path], None]:
    """A writer of Parquet (pyarrow) with each column's labels and unit in the field metadata."""
    def write(path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(exp.data, preserve_index=False)
        meta = exp.codebook.set_index("column")
        fields = []
        for f in table.schema:
            m = meta.loc[f.name]
            md = {k: str(m[k]) for k in ("label_en", "label_cn", "unit", "value_labels") if isinstance(m[k], str)}
            fields.append(f.with_metadata({k.encode(): v.encode() for k, v in md.items()}))
        schema = pa.schema(fields, metadata=table.schema.metadata)
        pq.write_table(table.cast(schema), path)
    return write


def do_file(exp: PanelExport, *, data_file: str) -> str:
    """A Stata .do snippet that loads the export, declares the panel and (re)applies every label."""
    lines = [f"* carbon-panel export: {data_file}; full labels and names in "
             f"{Path(data_file).with_suffix('').name}.codebook.md",
             f'use "{data_file}", clear',
             f"* {PANEL_ID} = {exp.id_rule}; city_code keeps the GB/T 2260 code as text",
             f"xtset {PANEL_ID} year, yearly"]
    for _, r in exp.codebook.iterrows():
        # Compound quotes `"…"' let a label contain double quotes.
        lines.append(f'label variable {r["stata_name"]} `"{r["stata_label"]}"\'')
    names = dict(zip(exp.codebook["column"], exp.codebook["stata_name"], strict=True))
    # One label set per distinct mapping (every 0/1 flag shares `yesno`), so set names never collide.
    sets: dict[tuple, str] = {}
    for col, labels in exp.value_labels.items():
        key = tuple(labels.items())
        if key not in sets:
            sets[key] = "yesno" if labels == YES_NO[exp.language] else f"{names[col][:28]}_lbl"
            pairs = " ".join(f'{k} `"{v}"\'' for k, v in labels.items())
            lines.append(f"label define {sets[key]} {pairs}, replace")
        lines.append(f"label values {names[col]} {sets[key]}")
    return "\n".join(lines) + "\n"


def codebook_markdown(exp: PanelExport, *, data_file: str) -> str:
    """The codebook as a Markdown table: name, Stata name, full label, unit, value labels, source."""
    def cell(v: object) -> str:
        return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).replace("|", "\\|")

    head = [f"# Codebook of {data_file}", "",
            f"{len(exp.data)} rows (city × year), {len(exp.codebook)} columns; labels in "
            f"{'Chinese' if exp.language == 'cn' else 'English'}; `{PANEL_ID}` = {exp.id_rule}.",
            "Stata keeps at most 80 characters of a variable label: `stata_label` is what the .dta holds, "
            "`label` the full text.", "",
            "| column | Stata name | label | Stata label | unit | value labels | source |",
            "|---|---|---|---|---|---|---|"]
    body = [f"| {cell(r['column'])} | {cell(r['stata_name'])} | {cell(r['label'])} | "
            f"{cell(r['stata_label']) if r['label_shortened'] else '(same)'} | {cell(r['unit'])} | "
            f"{cell(r['value_labels'])} | {cell(r['source'])} |" for _, r in exp.codebook.iterrows()]
    return "\n".join(head + body) + "\n"
