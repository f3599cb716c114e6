"""/docs and /redoc work without the internet: their assets are served by the service itself, and
headless Chromium, with every request outside 127.0.0.1 refused, renders the operations."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.served import ROOT, Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_the_pages_name_no_external_url(anonymous):
    for page in ("/docs", "/redoc"):
        html = anonymous.get(page).text
        urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)
        assert urls, page
        assert all(u.startswith("/") for u in urls), (page, urls)
        for url in urls:
            assert anonymous.get(url).status_code == 200, url


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); .ci/run installs it")
def test_swagger_ui_renders_the_operations_with_the_internet_cut_off(tmp_path, database):
    with Server(database) as server:
        assert CHROMIUM is not None
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}",
             # every host but the service's resolves to nothing, and no proxy is tried
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9",
             "--proxy-bypass-list=127.0.0.1",
             "--virtual-time-budget=15000", "--dump-dom", server.url + "/docs"],
            capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-2000:]
        dom = proc.stdout
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        (ROOT / "test-artifacts" / "docs-offline.html").write_text(dom, encoding="utf-8")
        assert "opblock" in dom, "Swagger UI rendered no operation"
        for operation in ("/v1/assessments", "/v1/units", "/v1/rulesets"):
            assert operation in dom
