"""Descriptive statistics of panel variables, labelled from marts.variable_dictionary."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def descriptive_statistics(
    panel: pd.DataFrame,
    *,
    variables: Sequence[str],
    dictionary: pd.DataFrame,
    language: str = "en",
) -> pd.DataFrame:
    """N, mean, SD, min, median, max per variable, with its label and unit instead of the raw name."""
    d = dictionary.set_index("variable")
    label_col = "label_cn" if language == "cn" else "label_en"
    rows = []
    for v in variables:
        s = pd.to_numeric(panel[v], errors="raise").astype("float64").dropna()
        label = d.at[v, label_col] if v in d.index and isinstance(d.at[v, label_col], str) else v
        unit = d.at[v, "unit"] if v in d.index and isinstance(d.at[v, "unit"], str) else ""
        rows.append({"Variable": label, "Unit": unit, "Name": v, "N": len(s), "Mean": s.mean(), "SD": s.std(),
                     "Min": s.min(), "Median": s.median(), "Max": s.max()})
    return pd.DataFrame(rows)
