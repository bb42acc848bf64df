"""Byte-for-byte deterministic file writers for the sample generator (same seed, same bytes)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

FIXED_TIME = datetime(2024, 1, 1, 0, 0, 0)
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)
_W3CDTF = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def save_workbook(wb: Workbook, path: Path) -> Path:
    """Save an openpyxl workbook with fixed document and zip timestamps, so reruns give identical bytes."""
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.properties.creator = "carbon-panel sample generator"
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "docProps/core.xml":
                # openpyxl stamps "modified" with the wall clock at save time; pin it.
                data = _W3CDTF.sub(rb"\g<1>2024-01-01T00:00:00Z\g<2>", data)
            info = zipfile.ZipInfo(item.filename, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = item.external_attr
            zout.writestr(info, data)
    path.write_bytes(out.getvalue())
    return path


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write a text file with '\\n' line endings in the given encoding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path
