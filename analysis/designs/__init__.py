"""Paper designs as declared specifications (`seed_00N.yaml`), run on one estimator API.

- `spec`: the design-file format, loading and validation (`load_design`, `validate_design`)
- `frame`: the estimation frame of a specification (treatment timing, rings, derived variables)
- `registry`: the estimators a specification can name, with their options
- `runner`: running specifications, recording the ones the data cannot identify
- `replication`: published numbers beside ours, declared figures, and the per-paper report
"""

from analysis.designs.spec import DesignFile, Spec, SpecError, design_files, load_design, validate_design

__all__ = ["DesignFile", "Spec", "SpecError", "design_files", "load_design", "validate_design"]
