"""Reader of the user-supplied transport energy-intensity table (energy per passenger-km / tonne-km).

No published intensity series is available to the project, so the user supplies one (from the China
Statistical Yearbook / China Transport Statistical Yearbook, as seed 002 §4.1 does) as
`<raw>/transport/*.csv` (UTF-8) with the columns of REQUIRED; docs/energy-co2.md describes the layout.

- `region`: `全国` (national) or a province, as a 6-digit code (`370000`) or a name (`山东`, `山东省`);
  a provincial row overrides the national one for that province, year and mode;
- `mode`: `passenger` / `freight` (or 客运 / 货运);
- `intensity` in `unit`, one of UNIT_FACTORS (converted to kgce per passenger-km or tonne-km);
- `fuel`: the fuel whose factors turn the standard coal into CO2 (a fuel of seeds/energy/energy_fuel_choices);
- `source`: where the number comes from (required, kept in the warehouse).

Bad rows (unknown unit or mode, unit of the other mode, non-numeric or negative intensity, a blank
required field) are rejected with the reason; a missing column fails with the file and the expected header.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dagster_project.sources.common import LoadResult, Rejects, SourceFormatError, require_files

SOURCE = "transport_intensity"
EXPECTED = "<raw>/transport/*.csv with columns year,region,mode,intensity,unit,fuel,source"
REQUIRED = ["year", "region", "mode", "intensity", "unit", "fuel", "source"]
MODES = {"passenger": "passenger", "客运": "passenger", "freight": "freight", "货运": "freight"}
# unit -> (mode, factor to kgce per passenger-km / tonne-km)
UNIT_FACTORS = {
    "kgce/人公里": ("passenger", 1.0), "kgce/百人公里": ("passenger", 0.01), "kgce/万人公里": ("passenger", 1e-4),
    "tce/万人公里": ("passenger", 0.1), "tce/亿人公里": ("passenger", 1e-5),
    "kgce/吨公里": ("freight", 1.0), "kgce/百吨公里": ("freight", 0.01), "kgce/万吨公里": ("freight", 1e-4),
    "tce/万吨公里": ("freight", 0.1), "tce/亿吨公里": ("freight", 1e-5),
}
TIDY_COLUMNS = ["year", "region", "mode", "kgce_per_unit", "intensity", "unit", "fuel", "source", "source_file",
                "row"]


def read_transport_intensity(folder: Path) -> LoadResult:
    """Read the intensity tables in `folder` into kgce per passenger-km / tonne-km, rejecting bad rows."""
    files = require_files(Path(folder), "*.csv", EXPECTED)
    rejects = Rejects(SOURCE)
    out = []
    for path in files:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        missing = [c for c in REQUIRED if c not in df.columns]
        if missing:
            raise SourceFormatError(path, f"missing columns {missing}", row=1, expected=",".join(REQUIRED))
        for i, r in enumerate(df.to_dict("records")):
            row = i + 2  # 1-based, after the header line
            blank = [c for c in REQUIRED if not str(r[c]).strip()]
            if blank:
                rejects.add(path, f"blank required field(s) {blank}", row=row, column=blank[0])
                continue
            mode = MODES.get(r["mode"].strip())
            unit = r["unit"].strip().replace(" ", "")
            try:
                year, value = int(r["year"]), float(r["intensity"])
            except ValueError:
                rejects.add(path, "year or intensity is not a number", row=row, column="intensity",
                            value=f"{r['year']} / {r['intensity']}")
                continue
            if mode is None:
                rejects.add(path, f"unknown mode (expected one of {sorted(MODES)})", row=row, column="mode",
                            value=r["mode"])
            elif unit not in UNIT_FACTORS or UNIT_FACTORS[unit][0] != mode:
                rejects.add(path, f"unit does not fit mode {mode} (expected one of "
                            f"{sorted(u for u, (m, _) in UNIT_FACTORS.items() if m == mode)})",
                            row=row, column="unit", value=r["unit"])
            elif value < 0:
                rejects.add(path, "negative energy intensity (expected >= 0)", row=row, column="intensity",
                            value=r["intensity"])
            else:
                out.append({"year": year, "region": r["region"].strip(), "mode": mode,
                            "kgce_per_unit": value * UNIT_FACTORS[unit][1], "intensity": value, "unit": unit,
                            "fuel": r["fuel"].strip(), "source": r["source"].strip(), "source_file": str(path),
                            "row": row})
    table = pd.DataFrame(out, columns=TIDY_COLUMNS)
    dup = table.duplicated(["year", "region", "mode"], keep=False)
    if dup.any():
        first = table[dup].iloc[0]
        raise SourceFormatError(first["source_file"], f"two intensities for {first['region']} {first['mode']} "
                                f"{first['year']}", row=int(first["row"]), expected="one row per year x region x mode")
    return LoadResult(table=table, rejected=rejects.frame(), files=files)
