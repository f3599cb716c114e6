"""GET /v1/assessments/{id}/report.html: a printable, self-contained page."""

from __future__ import annotations

import html
import re

from tests.api.factories import assess, create_unit, put_submission, seed
from tests.reports.conftest import walk


def test_html_001_every_indicator_summary_and_print_css(client, assessed):
    body, unit, _data = assessed("001")
    r = client.get(f"/v1/assessments/{body['id']}/report.html")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-disposition"].startswith("inline;")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in page
    # self-contained: no scripts, no external stylesheets, images or fonts
    assert "<script" not in page
    assert "<link" not in page
    assert "src=" not in page
    assert "url(" not in page
    assert "http://" not in page
    assert "https://" not in page
    assert "@page { size: A4 landscape;" in page
    # every indicator: its name, and its code on the row or merged cell that carries it
    codes = set(re.findall(r'data-code="([^"]+)"', page))
    for node in walk(body["indicators"]):
        assert node["code"] in codes, node["code"]
        assert html.escape(node["name"]) in page, node["name"]
    assert len(re.findall(r'<tr data-code="', page)) == 21 + 3  # scored rows + the 一级 summary rows
    # header block and summary
    assert "深圳市盐港中学" in page
    assert unit["code"] in page
    assert "2023年度" in page
    assert "自评" in page
    assert '<div class="total">93.97</div>' in page
    assert "等级：优" in page
    summary = page[page.index('class="by-level1"'):page.index("</table>", page.index('class="by-level1"'))]
    assert "部门管理" in summary
    assert "1.03" in summary
    assert "94.85%" in summary
    assert "部门绩效" in summary
    assert ">5<" in summary
    # the foot
    assert ">总计得分<" in page
    assert ">评价等级<" in page


def test_html_escapes_all_text(client):
    evil = '<script>alert("x")</script>&"\''
    unit = create_unit(client, name=f"单位{evil}")
    data = seed("001")
    data["answers"]["3.3.1"]["reason"] = f"扣分{evil}"
    put_submission(client, unit["id"], 2023, data)
    body = assess(client, unit["id"], 2023, "shenzhen-yantian@2023", evaluator=f"评价人{evil}").json()
    page = client.get(f"/v1/assessments/{body['id']}/report.html").text
    assert "<script" not in page
    assert 'alert("x")' not in page
    escaped = html.escape(evil)
    assert f"单位{escaped}" in page
    assert f"评价人{escaped}" in page
    assert f"扣分{escaped}" in page
