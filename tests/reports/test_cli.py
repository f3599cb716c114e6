"""jixiao score FILE --format xlsx|csv|html: the same reports offline."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from tests.reports.conftest import ROOT, workbook

_JIXIAO = ROOT / ".venv" / "bin" / "jixiao"
CLI = [str(_JIXIAO)] if _JIXIAO.exists() else [sys.executable, "-m", "app.cli"]


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "JIXIAO_RULESETS_DIR"}
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, timeout=120, env=env)


def test_cli_xlsx_needs_an_output_file(tmp_path: Path):
    proc = cli("score", "tests/fixtures/seeds/003.yaml", "-r", "yiyang-ziyang@2023", "--format", "xlsx")
    assert proc.returncode == 2
    assert "-o" in proc.stderr.decode()
    assert proc.stdout == b""
    out = tmp_path / "评分表.xlsx"
    proc = cli("score", "tests/fixtures/seeds/003.yaml", "-r", "yiyang-ziyang@2023", "--format", "xlsx", "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    ws = workbook(out.read_bytes())["评分表"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "被评价单位：益阳市资阳区教育局" in texts
    assert "单位代码：003-ziyang-jyj" in texts
    assert "评价类型：第三方评价" in texts
    assert "评价人：湖南源成会计师事务所" in texts
    total = next(row for row in ws.iter_rows() if row[0].value == "总计得分")
    assert 88.5 in [c.value for c in total]


def test_cli_csv_to_stdout_and_html_to_file(tmp_path: Path):
    proc = cli("score", "tests/fixtures/seeds/001.yaml", "-r", "shenzhen-yantian@2023", "--format", "csv")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(proc.stdout.decode("utf-8-sig"), newline="")))
    assert len(rows) == 1 + 35
    assert rows[1][:3] == ["1", "1", "部门决策"]
    out = tmp_path / "report.html"
    proc = cli("score", "tests/fixtures/seeds/001.yaml", "-r", "shenzhen-yantian@2023", "-f", "html", "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    page = out.read_text(encoding="utf-8")
    assert "深圳市盐港中学" in page
    assert '<div class="total">93.97</div>' in page
