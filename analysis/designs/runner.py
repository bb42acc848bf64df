"""Run a paper's specifications: frame, estimator, result rows with the spec's identity on every row.

A specification the data cannot identify (`NotEstimable`: no treated cohort in the sample, a regressor
absorbed by the fixed effects, no observation left) is recorded with its reason; every other exception
propagates, so a bug fails the asset instead of turning into a quiet "not estimable".
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from analysis.designs.frame import DesignTables, build_frame
from analysis.designs.registry import fit
from analysis.designs.spec import DesignFile, Spec
from analysis.results import EstimationResult, NotEstimable, SampleInfo

SPEC_COLUMNS = ["spec_id", "paper", "table_id", "column_id", "label", "estimator"]


@dataclass(kw_only=True)
class SpecRun:
    """The outcome of one specification: a result, or the reason it is not estimable."""

    spec: Spec
    result: EstimationResult | None = None
    reason: str | None = None
    frame_rows: int = 0


@dataclass(kw_only=True)
class DesignRun:
    """Every specification of a design (or of one of its tables) after running."""

    design: DesignFile
    runs: list[SpecRun] = field(default_factory=list)

    @property
    def results(self) -> list[EstimationResult]:
        """The estimated results, in spec order."""
        return [r.result for r in self.runs if r.result is not None]

    def tidy(self) -> pd.DataFrame:
        """Result rows (one per term) with spec_id, paper, table, column, label and estimator on every row."""
        frames = []
        for r in self.runs:
            if r.result is None:
                continue
            t = r.result.tidy()
            meta = pd.DataFrame({"spec_id": r.spec.id, "paper": r.spec.paper, "table_id": r.spec.table,
                                 "column_id": r.spec.column, "label": r.spec.label,
                                 "estimator": r.spec.estimator}, index=t.index)
            frames.append(pd.concat([meta, t], axis=1))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def not_estimable(self) -> pd.DataFrame:
        """Specifications that could not be estimated, with the reason."""
        return pd.DataFrame([{"spec_id": r.spec.id, "paper": r.spec.paper, "table_id": r.spec.table,
                              "column_id": r.spec.column, "label": r.spec.label, "estimator": r.spec.estimator,
                              "reason": r.reason} for r in self.runs if r.result is None],
                            columns=[*SPEC_COLUMNS, "reason"])


def run_spec(spec: Spec, tables: DesignTables, design: DesignFile) -> SpecRun:
    """Build the spec's frame and estimate it; identification failures become a recorded reason."""
    unit, time = design.panel.get("unit", tables.unit), design.panel.get("time", tables.time)
    try:
        frame, dropped = build_frame(tables, spec, panel=design.panel, derived=design.derived)
        with warnings.catch_warnings():
            # Estimator warnings (e.g. R did's data notes) are kept in the result; don't spam the run log.
            warnings.simplefilter("ignore")
            result = fit(frame, spec, unit=unit, time=time)
    except NotEstimable as exc:
        return SpecRun(spec=spec, reason=str(exc))
    result.model_id = spec.id
    if result.sample is None:
        result.sample = SampleInfo.of_panel(frame, unit=unit, time=time, group="cohort" if "cohort" in frame else None)
    result.sample.dropped = [*dropped, *result.sample.dropped]
    return SpecRun(spec=spec, result=result, frame_rows=len(frame))


def run_design(design: DesignFile, tables: DesignTables, *, specs: Iterable[Spec] | None = None) -> DesignRun:
    """Run the given specifications of a design (default: all of them)."""
    return DesignRun(design=design, runs=[run_spec(s, tables, design) for s in (specs or design.specs)])
