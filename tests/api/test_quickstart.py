"""The README's runnable example (docs/quickstart.sh) against a served instance: it prints 93.97 优
and downloads the 评分表; its submission file is seed 001's fixture, nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from tests.api.factories import seed
from tests.conftest import ALL_SCOPES, make_key
from tests.served import ROOT, Server


def test_the_example_submission_is_seed_001():
    shipped = json.loads((ROOT / "docs" / "examples" / "seed-001-submission.json").read_text(encoding="utf-8"))
    data = seed("001")
    assert shipped == {k: data.get(k, {}) for k in ("facts", "answers", "overrides")}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_quickstart_script_scores_93_97(db_engine, database, tmp_path):
    _, key = make_key("quickstart", ALL_SCOPES)
    with Server(database) as server:
        proc = subprocess.run(["bash", str(ROOT / "docs" / "quickstart.sh")], capture_output=True, text=True,
                              timeout=120, env={"PATH": "/usr/bin:/bin", "JIXIAO_URL": server.url, "KEY": key,
                                                "OUT": str(tmp_path / "评分表.xlsx")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert "93.97 优" in lines, proc.stdout
    assert any("扣" in line for line in lines)  # the reasons of lost points
    sheet = load_workbook(tmp_path / "评分表.xlsx").worksheets[0]
    assert any("93.97" in str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
