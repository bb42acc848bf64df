"""Result objects shared by the estimators: coefficients, inference and publication tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats


class CoefficientInference:
    """Standard errors and t statistics from `params` and `cov`, shared by every result object."""

    params: pd.Series
    cov: pd.DataFrame

    @property
    def std_errors(self) -> pd.Series:
        """Standard errors from the covariance diagonal."""
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.params.index, name="std_error")

    @property
    def tstats(self) -> pd.Series:
        """t statistics."""
        return (self.params / self.std_errors).rename("t_stat")


@dataclass
class RegressionResult(CoefficientInference):
    """A fitted linear model: coefficients with clustered inference, and table renderers."""

    model_id: str
    dependent: str
    params: pd.Series
    cov: pd.DataFrame
    nobs: int
    df_resid: int
    n_clusters: int | None
    r2_within: float
    fixed_effects: list[str]
    cluster: str | None
    vcov_type: str
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from t(df_resid), as reghdfe/pyfixest (df = G-1 when clustered)."""
        return pd.Series(2 * stats.t.sf(np.abs(self.tstats), self.df_resid), index=self.params.index,
                         name="p_value")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Confidence intervals on the same t distribution as the p-values."""
        q = stats.t.ppf(0.5 + level / 2, self.df_resid)
        return pd.DataFrame({"lower": self.params - q * self.std_errors, "upper": self.params + q * self.std_errors})

    def tidy(self) -> pd.DataFrame:
        """One row per term: the layout of `analysis.regression_results`."""
        ci = self.conf_int()
        return pd.DataFrame({
            "model_id": self.model_id, "dependent": self.dependent, "term": self.params.index,
            "estimate": self.params.to_numpy(), "std_error": self.std_errors.to_numpy(),
            "t_stat": self.tstats.to_numpy(), "p_value": self.pvalues.to_numpy(),
            "ci_lower": ci["lower"].to_numpy(), "ci_upper": ci["upper"].to_numpy(),
            "nobs": self.nobs, "n_clusters": self.n_clusters, "r2_within": self.r2_within,
            "fixed_effects": "+".join(self.fixed_effects), "vcov": self.vcov_type,
        })

    def _table(self, digits: int = 4) -> pd.DataFrame:
        """Coefficients with stars and standard errors in parentheses, plus the model footer."""
        def stars(p: float) -> str:
            return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.10 else ""

        body = {t: [f"{b:.{digits}f}{stars(p)}", f"({s:.{digits}f})"] for t, b, s, p in
                zip(self.params.index, self.params, self.std_errors, self.pvalues, strict=True)}
        rows = []
        for term, (coef, se) in body.items():
            rows += [(term, coef), ("", se)]
        rows += [("Fixed effects", " + ".join(self.fixed_effects) or "none"),
                 ("Clustered by", self.cluster or "none"), ("N", f"{self.nobs:,}"),
                 ("Clusters", f"{self.n_clusters:,}" if self.n_clusters else ""),
                 ("Within R²", f"{self.r2_within:.3f}")]
        return pd.DataFrame(rows, columns=["", self.dependent]).set_index("")

    def to_markdown(self) -> str:
        """A Markdown table (standard errors in parentheses; * p<0.10, ** p<0.05, *** p<0.01)."""
        return self._table().to_markdown() + "\n\nStandard errors in parentheses; * p<0.10, ** p<0.05, *** p<0.01.\n"

    def to_latex(self) -> str:
        """A LaTeX tabular for papers."""
        return self._table().to_latex(escape=True)

    def to_html(self) -> str:
        """An HTML table for notebooks and the Dagster UI."""
        return self._table().to_html()

    def __str__(self) -> str:
        return self.to_markdown()
