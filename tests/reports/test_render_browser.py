"""The printable page in a real browser: headless Chromium lays it out, screenshots and prints it.

Skipped, with the reason, when Chromium is not installed (``.ci/run`` installs Debian's ``chromium``).
Artifacts (the page, a screenshot, the printed PDF) are kept under ``test-artifacts/reports/``.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.reports.conftest import leaves, walk

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); .ci/run installs it")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars"]
A4_LANDSCAPE = (841.9, 595.3)  # points

# Appended to a copy of the page (the served page has no scripts): measures the layout and writes it into the DOM.
PROBE = """<script>
(function () {
  function list(sel, f) { return Array.prototype.map.call(document.querySelectorAll(sel), f); }
  var main = document.querySelector('table.scores');
  var out = {
    innerWidth: window.innerWidth,
    docScrollWidth: document.documentElement.scrollWidth,
    mainScrollWidth: main.scrollWidth,
    tables: list('table', function (t) { return {cls: t.className, scrollWidth: t.scrollWidth,
                                                 right: t.getBoundingClientRect().right}; }),
    overflowing: list('th, td', function (c) { return c.scrollWidth > c.clientWidth + 1 ? c.textContent : null; })
                   .filter(function (x) { return x !== null; }),
    rows: list('table.scores tbody tr[data-code]', function (r) { return r.getAttribute('data-code'); }),
    codes: list('[data-code]', function (e) { return e.getAttribute('data-code'); }),
    text: document.body.innerText
  };
  var pre = document.createElement('pre');
  pre.id = 'layout-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def probe(page: str, tmp: Path, width: int, height: int = 794) -> dict[str, Any]:
    probed = tmp / f"probe-{width}.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = chromium(tmp / "profile", f"--window-size={width},{height}", "--virtual-time-budget=5000", "--dump-dom",
                    probed.as_uri())
    m = re.search(r'<pre id="layout-probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, proc.stdout[-2000:]
    return json.loads(html.unescape(m.group(1)))


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]


@pytest.mark.parametrize("seed", ["001", "003"])
def test_html_report_fits_the_page_in_chromium(client, assessed, artifacts: Path, tmp_path: Path, seed: str):
    body, _unit, _data = assessed(seed, kind="third_party" if seed == "003" else "self")
    r = client.get(f"/v1/assessments/{body['id']}/report.html")
    assert r.status_code == 200
    page = r.text
    saved = artifacts / f"report-{seed}.html"
    saved.write_text(page, encoding="utf-8")

    expected_rows = [n["code"] for n in leaves(body["indicators"])]
    all_codes = {n["code"] for n in walk(body["indicators"])}
    # 1123 px: A4 landscape at 96 dpi (the brief's window); 1040 px: about the printable width inside the margins.
    for width in (1123, 1040):
        m = probe(page, tmp_path, width)
        assert m["mainScrollWidth"] <= m["innerWidth"], m
        assert m["docScrollWidth"] <= m["innerWidth"], m  # no horizontal scrolling anywhere
        assert all(t["scrollWidth"] <= m["innerWidth"] and t["right"] <= m["innerWidth"] + 0.5 for t in m["tables"]), m
        assert m["overflowing"] == [], m["overflowing"]  # no cell's text sticks out of its cell
        assert m["rows"] == expected_rows  # every scored indicator has its row, in order
        assert all_codes <= set(m["codes"])  # and every indicator of every level is on the page
        assert body["total"] in m["text"]
        assert "总计得分" in m["text"]

    shot = artifacts / f"report-{seed}.png"
    shot.unlink(missing_ok=True)
    chromium(tmp_path / "profile", "--window-size=1123,794", f"--screenshot={shot}", saved.as_uri())
    assert shot.exists()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    pdf = artifacts / f"report-{seed}.pdf"
    pdf.unlink(missing_ok=True)
    chromium(tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", saved.as_uri())
    pages = pdf_pages(pdf.read_bytes())
    assert pages, "the printed PDF has no pages"
    for w, h in pages:  # @page { size: A4 landscape } is honoured
        assert abs(w - A4_LANDSCAPE[0]) < 2, (w, h)
        assert abs(h - A4_LANDSCAPE[1]) < 2, (w, h)
