"""Export the panel for Stata / R users, with the variable dictionary's labels."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

# Stata allows 32-character names; these abbreviations keep long panel names readable.
_ABBREVIATIONS = [("_district", "_dist"), ("expenditure", "exp"), ("electricity", "elec"),
                  ("residential", "res"), ("industrial", "ind"), ("subscribers", "subs"), ("_10k_yuan", "_wy"),
                  ("_10k_kwh", "_wkwh"), ("_10k", "_w")]


def stata_names(columns: list[str]) -> dict[str, str]:
    """Map panel columns to unique Stata names of at most 32 characters (abbreviating only long ones)."""
    out: dict[str, str] = {}
    for col in columns:
        name = col
        for long, short in _ABBREVIATIONS:
            if len(name) <= 32:
                break
            name = name.replace(long, short)
        if len(name) > 32 or name in out.values():
            raise ValueError(f"cannot give column {col!r} a unique Stata name of at most 32 characters")
        out[col] = name
    return out


def export_panel(warehouse: Path, out: Path, fmt: str = "dta", label_language: str = "en") -> Path:
    """Write marts.city_year_panel as .dta (labels from marts.variable_dictionary), CSV or Parquet."""
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        panel = conn.execute("select * from marts.city_year_panel order by city_code, year").df()
        labels = conn.execute("select variable, label_cn, label_en from marts.variable_dictionary").df()
    finally:
        conn.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        panel.to_csv(out, index=False)
    elif fmt == "parquet":
        panel.to_parquet(out, index=False)
    else:
        col = "label_cn" if label_language == "cn" else "label_en"
        lab = dict(zip(labels["variable"], labels[col].fillna(""), strict=True))
        names = stata_names(list(panel.columns))
        for c in panel.columns:
            if panel[c].dtype == bool:
                panel[c] = panel[c].astype("int8")
        panel = panel.rename(columns=names)
        # Labels: at most 80 characters in Stata; the full names map is written next to the file.
        panel.to_stata(out, write_index=False, version=118,
                       variable_labels={names[c]: lab.get(c, "")[:80] for c in names})
        pd.DataFrame({"panel_column": list(names), "stata_name": list(names.values())}).to_csv(
            out.with_suffix(".names.csv"), index=False)
    return out
