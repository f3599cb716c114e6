"""The assessment as CSV: one row per indicator of every level. UTF-8 with a BOM (Excel opens it as UTF-8)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from app.reports.layout import flat_rows

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: str) -> str:
    """Neutralise text a spreadsheet would run as a formula (CSV injection); numbers stay as they are."""
    if value.startswith(_FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def render_csv(result: Mapping[str, Any], fact_labels: Mapping[str, str] | None = None) -> bytes:
    """RFC 4180 CSV (CRLF line ends), the header row first, encoded as UTF-8 with a BOM."""
    headers, rows = flat_rows(result, fact_labels)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([_safe(v) for v in row] for row in rows)
    return (BOM + buf.getvalue()).encode("utf-8")


__all__ = ["BOM", "CSV_MEDIA_TYPE", "render_csv"]
