"""Estimators for the city-year panel, all returning one result API (`analysis.results.EstimationResult`)."""

from analysis.fixed_effects import RegressionResult, feols, twfe
from analysis.results import EstimationResult, NotEstimable, SampleInfo, etable

__all__ = ["EstimationResult", "NotEstimable", "RegressionResult", "SampleInfo", "etable", "feols", "twfe"]
