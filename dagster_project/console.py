"""What `carbonpanel build` prints: one line per finished asset or check, a progress bar, a summary.

The full Dagster event log goes to a file (and to the console with `--verbose`); the console shows
only what a researcher acts on. The summary names the located error (file, sheet, row, column) of
a failed step instead of Dagster's generic "step failed".
"""

from __future__ import annotations

import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import dagster as dg

_BAR = 28
# dbt's node counter: "12:00:01  5 of 458 OK created sql view model ... [OK in 0.05s]"
_TOOL_PROGRESS = re.compile(r"^\S*\s*(\d+) of (\d+) (START|OK|PASS|WARN|ERROR|FAIL|SKIP)\b(.*)$")


def located_error(error: Any) -> str:
    """The innermost cause of a Dagster error (where readers put file, sheet, row, column)."""
    messages = []
    while error is not None:
        text = (getattr(error, "message", "") or "").strip()
        if text:
            messages.append(text)
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    # Dagster wraps user errors ("Error occurred while executing op ..."); the last cause is the user's.
    # Its text starts with the exception's dotted class path: keep the class name only.
    return re.sub(r"^(?:\w+\.)+(\w+: )", r"\1", messages[-1]) if messages else "unknown error"


@dataclass
class BuildTally:
    """Counts the console summary reports."""

    assets: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    checks: dict[str, int] = field(default_factory=lambda: {"passed": 0, "warned": 0, "failed": 0})
    failed_checks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class ConsoleHandler(logging.Handler):
    """Turns Dagster log records into concise console lines and a full log file."""

    def __init__(self, *, log_file: str, verbose: bool, stream: TextIO | None = None) -> None:
        """Open the event log file (appending) and remember where to print."""
        super().__init__()
        self.stream = stream or sys.stdout
        self.verbose = verbose
        # Line-buffered: the log must be complete even when the build is killed.
        self.file = open(log_file, "a", encoding="utf-8", buffering=1) if log_file else None  # noqa: SIM115
        self.tty = self.stream.isatty()
        self.step_started: dict[str, float] = {}
        self.tally = BuildTally()
        self._bar_open = False

    def _print(self, text: str) -> None:
        """Print a line, clearing an open progress bar first."""
        if self._bar_open:
            self.stream.write("\r" + " " * 100 + "\r")
            self._bar_open = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def _bar(self, i: int, n: int, label: str) -> None:
        """Redraw the progress bar of a long step (terminals only)."""
        if not self.tty or n <= 0:
            return
        done = int(_BAR * i / n)
        self.stream.write(f"\r  [{'#' * done}{'.' * (_BAR - done)}] {i}/{n} {label[:50]:<50}")
        self.stream.flush()
        self._bar_open = True

    def emit(self, record: logging.LogRecord) -> None:
        """Log every record to the file; print the ones a researcher needs."""
        line = self.format(record)
        if self.file:
            self.file.write(f"{time.strftime('%H:%M:%S')} {record.levelname} {line}\n")
        if self.verbose:
            self._print(line)
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is not None:
            self._event(event)

    def tool_line(self, line: str) -> None:
        """A line of a child tool's output (dbt): into the log file, and the progress bar when it counts nodes."""
        if self.file:
            self.file.write(f"{time.strftime('%H:%M:%S')} DEBUG {line}\n")
        if self.verbose:
            self._print(line)
        if m := _TOOL_PROGRESS.match(line.split(" | ", 1)[-1].strip()):
            self._bar(int(m.group(1)), int(m.group(2)), f"dbt {m.group(3)} {m.group(4).strip()}")

    def _event(self, event: dg.DagsterEvent) -> None:
        """Print one line for a finished asset, check, unchanged analysis or failed step."""
        from dagster import DagsterEventType as T

        from dagster_project.versions import INPUTS_UNCHANGED

        kind = event.event_type
        step = event.step_key or ""
        if kind == T.STEP_START:
            self.step_started[step] = time.perf_counter()
        elif kind == T.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            meta = mat.metadata or {}
            rows = meta.get("dagster/row_count")
            rows_text = f"{getattr(rows, 'value', rows):>10,} rows" if rows is not None else " " * 15
            secs = meta.get("dbt/seconds")
            secs = getattr(secs, "value", None) if secs is not None else None
            if secs is None:
                secs = time.perf_counter() - self.step_started.get(step, time.perf_counter())
            name = mat.asset_key.to_user_string()
            self.tally.assets.append(name)
            if not self.verbose:
                self._print(f"  built     {name:<52} {rows_text} {float(secs):6.1f}s")
        elif kind == T.ASSET_OBSERVATION:
            obs = event.event_specific_data.asset_observation
            if INPUTS_UNCHANGED in (obs.metadata or {}):
                name = obs.asset_key.to_user_string()
                self.tally.unchanged.append(name)
                if not self.verbose:
                    self._print(f"  unchanged {name:<52} inputs as in the last build; not recomputed")
        elif kind == T.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            name = f"{ev.asset_key.to_user_string()}:{ev.check_name}"
            if ev.passed:
                self.tally.checks["passed"] += 1
                return   # passing checks are counted, not listed (there are hundreds)
            blocking = ev.severity == dg.AssetCheckSeverity.ERROR
            self.tally.checks["failed" if blocking else "warned"] += 1
            if blocking:
                self.tally.failed_checks.append(name)
            if not self.verbose:
                self._print(f"  check {'FAILED' if blocking else 'warned'}: {name}")
        elif kind in (T.STEP_FAILURE, T.RESOURCE_INIT_FAILURE, T.RUN_FAILURE):
            error = getattr(event.event_specific_data, "error", None)
            if error is None:
                return   # a run failure caused by a failed step: the step's message is already listed
            message = located_error(error)
            where = step or "run"
            if any(message in e for e in self.tally.errors):
                return
            self.tally.errors.append(f"{where}: {message}")
            if not self.verbose:
                self._print(f"  FAILED    {where}: {message.splitlines()[0][:300]}")

    def close(self) -> None:
        """Dagster closes logger handlers between phases of a run; the build's file stays open until finish()."""
        super().close()

    def finish(self) -> None:
        """End of the build: close an open progress bar and the log file."""
        if self._bar_open:
            self._print("")
        if self.file:
            self.file.close()
            self.file = None


# The handler of the current CLI build, so the build can read its tally after the run.
CURRENT: dict[str, ConsoleHandler] = {}


def tool_output(line: str) -> None:
    """Route a child tool's output line: the CLI build's log file and progress bar, else the step's stdout.

    Outside a CLI build (UI, schedule, sensor runs) Dagster captures a step's stdout into its compute log,
    which the UI shows beside the step.
    """
    handler = CURRENT.get("handler")
    if handler is not None:
        handler.tool_line(line)
    else:
        print(line)


@dg.logger(config_schema={"log_file": dg.Field(str, default_value=""), "verbose": dg.Field(bool, default_value=False)},
           description="carbonpanel's concise console (one line per asset/check) with the full log in a file.")
def concise_console(init_context: dg.InitLoggerContext) -> logging.Logger:
    """A logger printing finished assets/checks and writing every event to the log file."""
    logger = logging.getLogger("carbonpanel.build")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    # Dagster initializes loggers more than once per run (run and steps): one handler per build.
    config = init_context.logger_config
    handler = CURRENT.get("handler")
    if handler is None:
        handler = ConsoleHandler(log_file=config["log_file"], verbose=config["verbose"])
        handler.setFormatter(logging.Formatter("%(message)s"))
        CURRENT["handler"] = handler
    logger.handlers = [handler]
    return logger


def log_path(home: Path) -> Path:
    """Where this build's full event log goes."""
    folder = home / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"build-{time.strftime('%Y%m%d-%H%M%S')}.log"
