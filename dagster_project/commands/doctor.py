"""`carbonpanel doctor`: check configuration and the raw folder against the documented layout before a build.

Each source is checked by running the ingestion asset's own reader (`assets.ingest.SPECS`) on its folder,
so the doctor and the build can never disagree about what a well-formed file is: a missing folder or
file comes back as `MissingSourceError`, a wrong sheet name, unknown header dialect or undecodable text as
`SourceFormatError` with file, sheet, row and column; rows the reader would quarantine are summarised.
"""

from __future__ import annotations

import difflib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.config import DBT_DIR, RAW_LAYOUT, Settings

OK, WARN, MISSING, MALFORMED = "ok", "warning", "missing", "malformed"
# Optional source folders (read by their own assets, not by SPECS) and the files each holds.
OPTIONAL_FOLDERS = {"cities": "*.csv", "employment": "*.csv", "historical": "*.xlsx"}
LAYOUT_DOC = "README.md, section 'Using real data'"


@dataclass
class Finding:
    """One checked item: what was found, and how to fix it when it is not fine."""

    item: str
    status: str
    detail: str
    fix: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class DoctorReport:
    """Every finding of one doctor run."""

    config: list[Finding]
    sources: list[Finding]

    @property
    def ok(self) -> bool:
        """Whether a build can start: nothing missing or malformed."""
        return all(f.status in (OK, WARN) for f in [*self.config, *self.sources])


def _writable_folder(path: Path) -> bool:
    """Whether `path` (or its nearest existing ancestor, which a build would create it in) is writable."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK)


def check_config(settings: Settings) -> list[Finding]:
    """Check the configured paths: raw folder, warehouse (readable by this DuckDB), reports, dbt manifest."""
    out: list[Finding] = []
    raw = settings.raw_dir
    if raw.is_dir():
        out.append(Finding("CARBONPANEL_RAW_DIR", OK, str(raw)))
    else:
        out.append(Finding("CARBONPANEL_RAW_DIR", MISSING, f"{raw} does not exist",
                           "generate the sample with `carbonpanel sample --out data/sample`, or set "
                           "CARBONPANEL_RAW_DIR to your folder laid out as:\n" + RAW_LAYOUT))
    wh = settings.warehouse
    if wh.exists():
        try:
            duckdb.connect(str(wh), read_only=True).close()
            out.append(Finding("CARBONPANEL_WAREHOUSE", OK, f"{wh} (exists; a build replaces it only if it passes)"))
        except duckdb.Error as exc:
            out.append(Finding("CARBONPANEL_WAREHOUSE", MALFORMED, f"{wh} cannot be opened: {exc}",
                               f"if it was written by another DuckDB version or a crashed writer, move it away "
                               f"(mv {wh} {wh}.old) and rebuild"))
    elif _writable_folder(wh.parent):
        out.append(Finding("CARBONPANEL_WAREHOUSE", OK, f"{wh} (not built yet)"))
    else:
        out.append(Finding("CARBONPANEL_WAREHOUSE", MALFORMED, f"cannot create {wh}: folder not writable",
                           "set CARBONPANEL_WAREHOUSE to a writable location"))
    reports = settings.reports_dir
    out.append(Finding("CARBONPANEL_REPORTS_DIR", OK, str(reports)) if _writable_folder(reports) else
               Finding("CARBONPANEL_REPORTS_DIR", MALFORMED, f"{reports} is not writable",
                       "set CARBONPANEL_REPORTS_DIR to a writable folder"))
    known = ("CARBONPANEL_RAW_DIR", "CARBONPANEL_WAREHOUSE", "CARBONPANEL_REPORTS_DIR")
    for name in sorted(v for v in os.environ if v.startswith("CARBONPANEL_") and v not in known):
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        out.append(Finding(name, WARN, "set but not a carbon-panel setting, so it has no effect",
                           f"did you mean {near[0]}?" if near else f"the settings are {', '.join(known)}"))
    manifest = DBT_DIR / "target" / "manifest.json"
    out.append(Finding("dbt manifest", OK, str(manifest)) if manifest.exists() else
               Finding("dbt manifest", MISSING, f"{manifest} does not exist", "run `make manifest` (dbt parse)"))
    return out


def _unexpected_entries(raw: Path, expected: set[str]) -> list[str]:
    """Top-level entries of the raw folder that no reader looks at, with the folder they were likely meant as."""
    notes = []
    for entry in sorted(raw.iterdir()):
        # Hidden entries, notes and the sample's `_truth/` are not data a reader should see.
        if entry.name.startswith((".", "_")) or entry.name.lower().startswith("readme") or entry.name in expected:
            continue
        near = difflib.get_close_matches(entry.name.lower(), sorted(expected), n=1, cutoff=0.5)
        hint = f"; did you mean {near[0]}/?" if near else ""
        notes.append(f"{entry.name}{'/' if entry.is_dir() else ''} is not part of the layout and is ignored{hint}")
    return notes


def _rejected_summary(rejected: object) -> list[str]:
    """The most frequent reasons a reader quarantines rows, with counts."""
    if rejected is None or len(rejected) == 0:
        return []
    counts = rejected.groupby("reason", dropna=False).size().sort_values(ascending=False)
    lines = [f"{n} × {reason}" for reason, n in counts.head(5).items()]
    if len(counts) > 5:
        lines.append(f"… and {len(counts) - 5} other reasons (all land in raw.rejected_rows)")
    return lines


def _encodings(folder: Path) -> list[str]:
    """The text encoding of each vendor-panel CSV, detected by the yearbook reader's own decoder."""
    from dagster_project.sources.common import SourceFormatError
    from dagster_project.sources.yearbook import decode_text

    notes = []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        try:
            notes.append(f"{path.name}: text encoding {decode_text(path)[1]}")
        except SourceFormatError as exc:
            notes.append(f"{path.name}: {exc}")
    return notes


def check_sources(raw: Path) -> list[Finding]:
    """Run every ingestion reader on its folder and report present / missing / malformed with the fix."""
    from dagster_project.assets.ingest import SPECS
    from dagster_project.sources.common import MissingSourceError, SourceFormatError

    findings = []
    for spec in SPECS:
        folder = raw / spec.subdir
        item = f"{spec.source}: raw.{spec.table} ({spec.subdir}/)"
        t0 = time.perf_counter()
        try:
            result = spec.read(folder)
        except MissingSourceError as exc:
            findings.append(Finding(item, MISSING, f"missing: {exc.path}",
                                    f"put the publisher's files there. Expected: {exc.expected}"))
            continue
        except SourceFormatError as exc:
            fix = f"expected {exc.expected}" if exc.expected else "replace it with the file as the publisher ships it"
            findings.append(Finding(item, MALFORMED, str(exc),
                                    f"{fix} (layout: {LAYOUT_DOC}; yearbook dialects: "
                                    "../shared/reference/ccsy-formats.md)"))
            continue
        notes = _rejected_summary(result.rejected)
        if spec.source == "yearbook":
            notes = _encodings(folder) + notes
        status = WARN if len(result.rejected) else OK
        detail = (f"{len(result.files)} file(s), {len(result.table):,} rows, {len(result.rejected):,} rows or cells "
                  f"would be quarantined in raw.rejected_rows ({time.perf_counter() - t0:.1f}s)")
        findings.append(Finding(item, status, detail,
                                "see the reasons below; fix the cells or accept the quarantine" if notes else "",
                                notes))
    for name, pattern in OPTIONAL_FOLDERS.items():
        folder = raw / name
        n = len(list(folder.glob(pattern))) if folder.is_dir() else 0
        findings.append(Finding(f"optional: {name}/", OK, f"{n} {pattern} file(s)" if n else "absent (optional)"))
    expected = {s.subdir.split("/")[0] for s in SPECS} | set(OPTIONAL_FOLDERS)
    stray = _unexpected_entries(raw, expected)
    if stray:
        findings.append(Finding("raw folder layout", WARN, f"{len(stray)} unexpected entries",
                                f"move them into the documented layout ({LAYOUT_DOC})", stray))
    return findings


def run_doctor(*, raw_dir: Path, settings: Settings) -> DoctorReport:
    """Check configuration, then every source (skipped when the raw folder itself is missing)."""
    config = check_config(settings)
    sources = check_sources(raw_dir) if raw_dir.is_dir() else []
    return DoctorReport(config=config, sources=sources)


def format_report(report: DoctorReport) -> str:
    """Render the findings as text, one block per item with the fix indented below."""
    marks = {OK: "ok     ", WARN: "WARNING", MISSING: "MISSING", MALFORMED: "BAD    "}
    lines = ["configuration"]
    for section, findings in (("configuration", report.config), ("sources", report.sources)):
        if section == "sources":
            lines.append("\nsources (each checked by its ingestion reader)")
            if not findings:
                lines.append("  (not checked: the raw folder is missing)")
        for f in findings:
            lines.append(f"  [{marks[f.status]}] {f.item}: {f.detail}")
            lines += [f"      - {n}" for n in f.notes]
            if f.fix and f.status != OK:  # a warning's fix is advice; a problem's fix is required
                lines += [f"      fix: {line}" if i == 0 else f"           {line}"
                          for i, line in enumerate(f.fix.splitlines())]
    bad = [f for f in [*report.config, *report.sources] if f.status in (MISSING, MALFORMED)]
    lines.append("\nready to build" if report.ok else f"\n{len(bad)} problem(s) to fix before `carbonpanel build`")
    return "\n".join(lines)
