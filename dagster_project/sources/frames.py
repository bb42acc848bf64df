"""Building readers' tidy tables column by column from integer codes instead of per-row Python objects.

The long tables repeat a few hundred distinct strings (sector, fuel, sheet, file names) over hundreds
of thousands of rows. Readers intern each distinct string once in a `StringPool`, carry int32 codes
through their numpy work, and decode the codes into pandas' `string` columns (Arrow-backed) at the
end: the same column as `Series(objects).astype("string")`, without converting every row's string.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

NO_STRING = -1  # the code of None (a missing value in the decoded column)


class StringPool:
    """Distinct strings of one read, numbered in order of first appearance (None is `NO_STRING`)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, value: str | None) -> int:
        """Return the code of one string (adding it on first sight)."""
        if value is None:
            return NO_STRING
        code = self._codes.get(value)
        if code is None:
            code = self._codes[value] = len(self.values)
            self.values.append(value)
        return code

    def find(self, value: str) -> int | None:
        """Return the code of a string if this pool has it (without adding it)."""
        return self._codes.get(value)

    def codes(self, values: Iterable[str | None]) -> np.ndarray:
        """Return the int32 codes of several strings."""
        return np.fromiter(map(self.code, values), dtype=np.int32)

    def decode(self, codes: np.ndarray) -> list[str | None]:
        """Return the strings behind codes as a list (None for `NO_STRING`)."""
        values = [*self.values, None]  # index -1 is None
        return [values[c] for c in codes.tolist()]

    def column(self, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
        """Return codes as a pandas `string` column (missing where the code is `NO_STRING`)."""
        codes = np.asarray(codes, dtype=np.int32)
        indices = pa.array(codes, mask=codes == NO_STRING)
        dictionary = pa.array(self.values, type=pa.large_string())
        return pd.array(pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode(), dtype="string")


def string_column(values: list[str | None]) -> pd.api.extensions.ExtensionArray:
    """Return mostly distinct strings (None for missing) as a pandas `string` column."""
    return pd.array(pa.array(values, type=pa.large_string()), dtype="string")
