"""Shared contract of every source reader: tidy output, rejected rows, and located errors.

A reader turns publisher files into a tidy `pandas.DataFrame` plus a frame of rejected rows.
It never touches the warehouse (the Dagster ingestion assets do that), so it can be tested on
the real files in `../shared/data/` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

REJECTED_COLUMNS = ["source", "file", "sheet", "row", "column", "value", "reason"]


class SourceError(Exception):
    """Base class for errors about a source's files."""


class MissingSourceError(SourceError):
    """A source folder or file is missing; the message names the path and the expected layout."""

    def __init__(self, path: Path | str, expected: str) -> None:
        self.path = str(path)
        self.expected = expected
        super().__init__(f"missing source input: {self.path}\nexpected layout: {expected}")

    def __reduce__(self) -> tuple:
        """Pickle with the constructor's arguments (readers run in worker processes; see sources.parallel)."""
        return (type(self), (self.path, self.expected))


class SourceFormatError(SourceError):
    """A file does not have the layout its publisher ships; names file, sheet, row and column."""

    def __init__(
        self,
        file: Path | str,
        problem: str,
        *,
        sheet: str | None = None,
        row: int | None = None,
        column: str | int | None = None,
        expected: str | None = None,
    ) -> None:
        self.file, self.sheet, self.row, self.column = str(file), sheet, row, column
        self.problem, self.expected = problem, expected
        where = [f"file {self.file}"]
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        msg = f"{', '.join(where)}: {problem}"
        if expected:
            msg += f" (expected {expected})"
        super().__init__(msg)

    def __reduce__(self) -> tuple:
        """Pickle with the constructor's arguments (readers run in worker processes; see sources.parallel)."""
        return (partial(type(self), sheet=self.sheet, row=self.row, column=self.column, expected=self.expected),
                (self.file, self.problem))


@dataclass
class Rejects:
    """Collects rows that cannot be used, each with its location and reason (→ raw.rejected_rows)."""

    source: str
    rows: list[dict] = field(default_factory=list)

    def add(
        self,
        file: Path | str,
        reason: str,
        *,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        """Record one rejected cell or row; `row` is the 1-based row number as a spreadsheet shows it."""
        self.rows.append(
            {
                "source": self.source,
                "file": str(file),
                "sheet": sheet,
                "row": row,
                "column": None if column is None else str(column),
                "value": None if value is None else str(value),
                "reason": reason,
            }
        )

    def frame(self) -> pd.DataFrame:
        """Return the rejected rows with the fixed column set and types."""
        df = pd.DataFrame(self.rows, columns=REJECTED_COLUMNS)
        df["row"] = df["row"].astype("Int64")
        for col in ("source", "file", "sheet", "column", "value", "reason"):
            df[col] = df[col].astype("string")
        return df


@dataclass
class LoadResult:
    """What a reader returns: the tidy table, its rejected rows, and the files it read."""

    table: pd.DataFrame
    rejected: pd.DataFrame
    files: list[Path]


def require_dir(path: Path, expected: str) -> Path:
    """Return `path` if it is an existing folder, else raise MissingSourceError naming the layout."""
    if not path.is_dir():
        raise MissingSourceError(path, expected)
    return path


def require_files(folder: Path, pattern: str, expected: str) -> list[Path]:
    """Return the sorted files in `folder` matching `pattern`; raise if the folder or files are missing."""
    require_dir(folder, expected)
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith(("~$", ".")))
    if not files:
        raise MissingSourceError(folder / pattern, expected)
    return files
