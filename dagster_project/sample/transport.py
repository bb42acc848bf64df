"""Writer of the sample's user-supplied transport energy-intensity table (planted, SYNTHETIC numbers).

Output: `<out>/transport/transport_energy_intensity.csv` in the layout docs/energy-co2.md documents (one row
per year x region x mode). The values are the DGP's planted national intensities
(dgp.TRANSPORT_INTENSITY_2003 falling by dgp.TRANSPORT_INTENSITY_DECLINE a year); the `source` column says
they are synthetic so that nobody mistakes them for published figures.
"""

from __future__ import annotations

from pathlib import Path

from dagster_project.sample.dgp import transport_intensities
from dagster_project.sample.files import write_text

SOURCE_NOTE = "SYNTHETIC: carbon-panel sample generator (planted; docs/sample-dgp.md); not a published figure"
UNITS = {"passenger": "kgce/百人公里", "freight": "kgce/百吨公里"}


def write_transport(truth: object, out_dir: Path) -> list[Path]:
    """Write the planted national intensity table for the truth's years."""
    df = transport_intensities(list(truth.years))  # type: ignore[attr-defined]
    lines = ["year,region,mode,intensity,unit,fuel,source"]
    for r in df.itertuples(index=False):
        lines.append(f'{r.year},全国,{r.mode},{r.kgce_per_100_units},{UNITS[r.mode]},柴油,"{SOURCE_NOTE}"')
    return [write_text(Path(out_dir) / "transport" / "transport_energy_intensity.csv", "\n".join(lines) + "\n")]
