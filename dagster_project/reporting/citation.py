"""A paper's citation from its spec notes (../shared/specs/seed_00N.md), stating what the source text lacks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FIELD = re.compile(r"^\s*(?:-\s*)?\*{0,2}(?P<key>Title \(CN\)|Title \(EN[^)]*\)|Authors?|Journal[^:*]*|Report(?=:))"
                    r":?\*{0,2}:?\s*(?P<value>.+)$")
_H1 = re.compile(r"^#\s*Seed spec \d+\s*[:—-]*\s*(?P<title>.+)$")


@dataclass
class Citation:
    """What the spec says about the paper: title, authors, journal, and the source file."""

    title: str
    authors: str
    journal: str
    source_file: str
    spec: Path

    def text(self) -> str:
        """One-line citation; missing parts are named as missing, never guessed."""
        parts = [self.authors or "Authors not stated in the source text", self.title,
                 self.journal or "Journal not stated in the source text"]
        return " ".join(p.rstrip(". ") + "." for p in parts)


def paper_citation(spec: Path) -> Citation:
    """Read title, authors and journal from the spec's header bullets (the H1 is the fallback title)."""
    lines = spec.read_text(encoding="utf-8").splitlines()
    title = authors = journal = source = ""
    m = _H1.match(lines[0]) if lines else None
    h1_title = m.group("title").strip() if m else spec.stem
    for line in lines[:40]:
        f = _FIELD.match(line)
        if f:
            key, value = f.group("key"), f.group("value").strip()
            if key.startswith("Title (CN)") or (key.startswith("Title (EN") and not title):
                title = value
            elif key.startswith("Author"):
                authors = value
            elif key.startswith(("Journal", "Report")):
                journal = value
        if "Source file" in line and not source:
            found = re.search(r"`([^`]+)`", line)
            source = found.group(1) if found else ""
    return Citation(title=title or h1_title, authors=authors, journal=journal, source_file=source, spec=spec)
