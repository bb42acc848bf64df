"""Run a GX suite on a pandas DataFrame and summarise the outcome for a Dagster check."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx


@dataclass
class ValidationSummary:
    """The outcome of one suite: success, statistics and the failed expectations."""

    success: bool
    evaluated: int
    successful: int
    failures: list[dict]


COLUMN_ARGUMENTS = ("column", "column_A", "column_B", "column_list")


def columns_needed(suite: gx.ExpectationSuite) -> list[str] | None:
    """The columns a suite's expectations read, or None when one of them looks at the whole table.

    Loading only these (the provincial inventory has 600,000 rows of text columns) keeps a check cheap.
    """
    needed: dict[str, None] = {}
    for expectation in suite.expectations:
        kwargs = expectation.configuration.kwargs
        named = [kwargs[k] for k in COLUMN_ARGUMENTS if k in kwargs]
        if not named:
            return None     # a table-level expectation (column set, row count, ...)
        for value in named:
            needed.update(dict.fromkeys(value if isinstance(value, list) else [value]))
    return list(needed)


def validate(df: pd.DataFrame, suite: gx.ExpectationSuite) -> ValidationSummary:
    """Validate `df` against `suite` in an ephemeral GX context."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    # No tqdm bars: they would interleave with the build's one-line-per-check console output.
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_def = (ctx.data_sources.add_pandas("pandas").add_dataframe_asset(suite.name)
                 .add_batch_definition_whole_dataframe("all"))
    res = batch_def.get_batch(batch_parameters={"dataframe": df}).validate(suite)
    failures = []
    for r in res.results:
        if not r.success:
            cfg = r.expectation_config
            # Value sets can be long (every city code); keep the message readable.
            kwargs = {k: (str(v) if len(str(v)) < 200 else f"<{len(v)} values>") for k, v in cfg.kwargs.items()}
            failures.append({"expectation": cfg.type, "kwargs": kwargs,
                             "unexpected_count": r.result.get("unexpected_count"),
                             "partial_unexpected_list": [str(v) for v in
                                                         (r.result.get("partial_unexpected_list") or [])[:10]]})
    stats = res.statistics
    return ValidationSummary(success=bool(res.success), evaluated=int(stats["evaluated_expectations"]),
                             successful=int(stats["successful_expectations"]), failures=failures)
