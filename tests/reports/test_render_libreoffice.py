"""The workbook in a real spreadsheet program: LibreOffice converts report.xlsx to PDF.

Skipped, with the reason, when LibreOffice (``soffice`` / ``libreoffice``) is not installed; CI does not
install it. The PDFs (and page images when ``pdftoppm`` exists) are kept under ``test-artifacts/reports/``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice is not installed (soffice/libreoffice not on PATH); not installed in CI")


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]


@pytest.mark.parametrize(("seed", "max_pages"), [("001", 8), ("003", 8)])
def test_xlsx_report_converts_to_a4_landscape_pdf(client, assessed, artifacts: Path, tmp_path: Path, seed: str,
                                                  max_pages: int):
    body, _unit, _data = assessed(seed, kind="third_party" if seed == "003" else "self")
    r = client.get(f"/v1/assessments/{body['id']}/report.xlsx")
    assert r.status_code == 200
    xlsx = tmp_path / f"report-{seed}.xlsx"
    xlsx.write_bytes(r.content)
    assert SOFFICE is not None
    proc = subprocess.run(
        [SOFFICE, f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}", "--headless", "--norestore",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(xlsx)],
        capture_output=True, text=True, timeout=300)
    pdf = tmp_path / f"report-{seed}.pdf"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert pdf.exists(), proc.stdout + proc.stderr
    data = pdf.read_bytes()
    shutil.copy(xlsx, artifacts / f"report-{seed}.xlsx")
    shutil.copy(pdf, artifacts / f"report-{seed}-xlsx.pdf")
    pages = pdf_pages(data)
    assert pages
    for w, h in pages:  # A4 landscape (842 × 595 pt)
        assert abs(w - 841.9) < 2, (w, h)
        assert abs(h - 595.3) < 2, (w, h)
    # Fit to width: every page holds all the columns, so the sheets take a handful of pages; without it
    # the 评分表's columns would spill over twice as many.
    assert len(pages) <= max_pages, len(pages)
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm:
        subprocess.run([pdftoppm, "-r", "80", "-png", "-f", "1", "-l", "1", str(pdf),
                        str(artifacts / f"report-{seed}-xlsx-page")], capture_output=True, timeout=120, check=False)
