"""Blocking data-quality checks: each Great Expectations suite runs as a Dagster asset check."""

import importlib
import sys
import threading

import dagster as dg

from dagster_project.resources import Warehouse
from expectations.suites import SUITES


def make_gx_check(schema: str, table: str) -> dg.AssetChecksDefinition:
    """Build the blocking check that validates `<schema>.<table>` with its GX suite."""
    suite_fn = SUITES[(schema, table)]

    # Priority: a check runs as soon as its table is written, before the run's other pending steps. It
    # gates the downstream, and during ingestion it validates one source while the reader pool still
    # parses the others (instead of all checks waiting until every source is read).
    @dg.asset_check(asset=dg.AssetKey([schema, table]), name=f"gx_{table}", blocking=True,
                    description=f"Great Expectations suite {schema}.{table}", op_tags={"dagster/priority": "1"})
    def _check(warehouse: Warehouse) -> dg.AssetCheckResult:
        # GX is imported here, when a check runs, not when the definitions load.
        from expectations.validate import columns_needed, validate

        with warehouse.connection(read_only=True) as conn:
            suite = suite_fn(conn)
            columns = columns_needed(suite)
            select = "*"
            if columns:
                present = {d[0] for d in conn.execute(f"select * from {schema}.{table} limit 0").description}
                # A column the suite names but the table lacks is left out: GX reports it as a failed expectation.
                select = ", ".join(f'"{c}"' for c in columns if c in present) or "*"
            df = conn.execute(f"select {select} from {schema}.{table}").df()
        summary = validate(df, suite)
        return dg.AssetCheckResult(
            passed=summary.success,
            metadata={"evaluated": summary.evaluated, "successful": summary.successful,
                      "rows": len(df), "failures": dg.MetadataValue.json(summary.failures)},
        )

    return _check


gx_checks = [make_gx_check(schema, table) for schema, table in SUITES]
# The assets a GX suite validates (a run that builds one of them will import GX).
CHECKED_KEYS = frozenset(dg.AssetKey([schema, table]) for schema, table in SUITES)


def import_gx_in_background() -> None:
    """Start importing Great Expectations (1.7 s of one core) on a daemon thread, ahead of the first check.

    A check that starts earlier waits on Python's import lock for this import; nothing is imported twice.
    """
    if "expectations.validate" in sys.modules:   # imported, or being imported by an earlier call
        return
    threading.Thread(target=importlib.import_module, args=("expectations.validate",), daemon=True).start()
