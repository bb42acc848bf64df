"""Estimators for the city-year panel: each returns a result object that renders publication tables."""

from analysis.fixed_effects import twfe
from analysis.results import RegressionResult

__all__ = ["RegressionResult", "twfe"]
