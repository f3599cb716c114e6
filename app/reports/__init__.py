"""Reports: the official 评分表 of an assessment as XLSX, CSV and a printable HTML page.

The renderers are pure (assessment dict + ruleset + header metadata in, bytes or text out);
the HTTP routes live in :mod:`app.reports.endpoints`.
"""

from app.reports.csvfile import CSV_MEDIA_TYPE, render_csv
from app.reports.htmlpage import HTML_MEDIA_TYPE, render_html
from app.reports.layout import KIND_LABELS, ReportHeader, build_sheet, flat_rows, header_from_result
from app.reports.xlsx import XLSX_MEDIA_TYPE, render_comparison_xlsx, render_xlsx

__all__ = [
    "CSV_MEDIA_TYPE", "HTML_MEDIA_TYPE", "KIND_LABELS", "XLSX_MEDIA_TYPE", "ReportHeader", "build_sheet",
    "flat_rows", "header_from_result", "render_comparison_xlsx", "render_csv", "render_html", "render_xlsx",
]
