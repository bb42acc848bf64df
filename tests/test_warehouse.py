"""Atomic writes: a raw table and its rejected rows change together or not at all; builds swap files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dagster_project.sources.common import REJECTED_COLUMNS
from dagster_project.warehouse import replace_raw_table


def _rej(n: int) -> pd.DataFrame:
    return pd.DataFrame([{"source": "s", "file": "f.xlsx", "sheet": "S", "row": i, "column": "B", "value": "x",
                          "reason": "text in a numeric column"} for i in range(n)], columns=REJECTED_COLUMNS)


def test_replace_is_idempotent_and_scoped_to_asset(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    df = pd.DataFrame({"a": [1, 2]})
    for _ in range(2):
        replace_raw_table(conn, "t", df, asset="t", rejected=_rej(3))
    replace_raw_table(conn, "u", df, asset="u", rejected=_rej(1))
    counts = dict(conn.execute("select asset, count(*) from raw.rejected_rows group by asset").fetchall())
    assert counts == {"t": 3, "u": 1}
    assert conn.execute("select count(*) from raw.t").fetchone()[0] == 2


def test_failed_replace_rolls_back(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    replace_raw_table(conn, "t", pd.DataFrame({"a": [1, 2]}), asset="t", rejected=_rej(2))
    bad = _rej(1).drop(columns=["reason"])  # missing column: fails after the table was replaced
    with pytest.raises(KeyError):
        replace_raw_table(conn, "t", pd.DataFrame({"a": [9]}), asset="t", rejected=bad)
    assert conn.execute("select count(*) from raw.t").fetchone()[0] == 2
    assert conn.execute("select count(*) from raw.rejected_rows").fetchone()[0] == 2
