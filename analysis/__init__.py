"""Estimators for the city-year panel, all returning one result API (`analysis.results.EstimationResult`).

The names below are loaded on first use (PEP 562), so that importing a light submodule such as
`analysis.designs.spec` (the Dagster definitions do) does not pull in pandas, scipy or pyfixest.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "EstimationResult": "analysis.results", "NotEstimable": "analysis.results", "SampleInfo": "analysis.results",
    "etable": "analysis.results", "RegressionResult": "analysis.fixed_effects", "feols": "analysis.fixed_effects",
    "twfe": "analysis.fixed_effects",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import an exported name from its module when it is first used."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
