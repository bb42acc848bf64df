"""A self-contained HTML page: sections, tables and figures (PNG embedded as data URIs or linked relatively)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

STYLE = """
body{font-family:"Helvetica Neue",Arial,"PingFang SC","Noto Sans CJK SC",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{padding:.25em .7em;text-align:right;vertical-align:top}th:first-child,td:first-child{text-align:left}
thead th{border-top:2px solid #222;border-bottom:1px solid #222}tbody tr:last-child td{border-bottom:2px solid #222}
table.journal td.se{color:#555;padding-top:0}table.journal tr.stat td{border-top:1px solid #ddd}
table.data tbody tr:nth-child(even){background:#f6f6f6}
caption{caption-side:top;text-align:left;font-weight:bold;padding-bottom:.3em}
.note{font-size:.85em;color:#444;max-width:60em}.skip{color:#8a5a00;font-style:italic}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85em;color:#444}
code{background:#f3f3f3;padding:0 .2em}
"""


def esc(value: object) -> str:
    """HTML-escape any value; missing values become an empty string."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    return html.escape(str(value))


@dataclass
class Section:
    """One titled part of a report; `body` is HTML."""

    title: str
    body: str
    anchor: str = ""


@dataclass
class Page:
    """A report page; `render` returns one HTML document with every style inline."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def add(self, title: str, body: str) -> None:
        """Append a section."""
        self.sections.append(Section(title, body, anchor=f"s{len(self.sections) + 1}"))

    def render(self) -> str:
        """The whole document, with a table of contents."""
        toc = "".join(f'<li><a href="#{s.anchor}">{esc(s.title)}</a></li>' for s in self.sections)
        body = "".join(f'<h2 id="{s.anchor}">{esc(s.title)}</h2>\n{s.body}\n' for s in self.sections)
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(self.title)}</title>'
                f"<style>{STYLE}</style></head><body>\n<h1>{esc(self.title)}</h1>\n"
                f'<p class="note">{self.subtitle}</p>\n<ol>{toc}</ol>\n{body}</body></html>\n')


def paragraph(text: str, *, css: str = "") -> str:
    """An escaped paragraph."""
    cls = f' class="{css}"' if css else ""
    return f"<p{cls}>{esc(text)}</p>"


def skipped(text: str) -> str:
    """A visible note that a part of the report is absent, and why."""
    return paragraph(text, css="skip")


def data_table(df: pd.DataFrame, *, caption: str = "", note: str = "", float_format: str = "{:,.4g}") -> str:
    """A plain data table (all cells escaped; floats formatted)."""
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return "" if pd.isna(v) else float_format.format(v)
        return esc(v)

    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in r) + "</tr>" for r in df.itertuples(index=False))
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    foot = paragraph(note, css="note") if note else ""
    return f'<table class="data">{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{foot}'


def figure(png: Path, *, caption: str, embed: bool = True, relative_to: Path | None = None) -> str:
    """An <img> of a PNG: embedded as a data URI (self-contained) or linked relative to the page's folder."""
    if embed:
        src = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
    else:
        src = str(png.relative_to(relative_to)) if relative_to else png.name
    return (f'<figure><img src="{src}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption>'
            "</figure>")
