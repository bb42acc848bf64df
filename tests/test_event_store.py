"""The tuned Dagster history (no fsync, one engine per shard) records every event, visibly to other processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

import dagster_project.event_store as event_store

LOGS, CHECKS = 40, 25


@dg.asset(check_specs=[dg.AssetCheckSpec(f"c{i}", asset="history_probe") for i in range(CHECKS)])
def history_probe(context):
    """An asset that logs and reports checks, as the dbt step does."""
    for i in range(LOGS):
        context.log.info(f"line {i}")
    yield dg.Output(1)
    for i in range(CHECKS):
        yield dg.AssetCheckResult(check_name=f"c{i}", passed=i % 2 == 0)


def test_every_event_is_recorded_and_open_engines_stay_bounded(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """More run shards than engines kept: a fresh process reads each run's logs, materialization and check
    results, and the writing process keeps at most MAX_ENGINES shard engines open."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setattr(event_store, "MAX_ENGINES", 3)
    event_store.tune_run_history()
    instance = dg.DagsterInstance.get()
    run_ids = [dg.materialize([history_probe], instance=instance).run_id for _ in range(5)]
    code = ("import json, sys, dagster as dg; i = dg.DagsterInstance.get(); ids = json.loads(sys.argv[1]); "
            "print(json.dumps([[sum(1 for e in i.all_logs(r) if not e.is_dagster_event), "
            "len(i.all_logs(r, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)), "
            "len(i.all_logs(r, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION))] for r in ids]))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(run_ids)], capture_output=True, text=True,
                         check=True, env={**os.environ, "DAGSTER_HOME": str(tmp_path)})
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(c[0] >= LOGS and c[1] == 1 and c[2] == CHECKS for c in counts), counts
    passed = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("history_probe"), "c1")])
    assert passed[dg.AssetCheckKey(dg.AssetKey("history_probe"), "c1")].run_id == run_ids[-1]
    engines = instance.event_log_storage.__dict__.get("_carbonpanel_engines", {})
    assert 0 < len(engines) <= 3
