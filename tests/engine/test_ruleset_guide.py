"""docs/rulesets.md's worked example, as the guide runs it: `jixiao rulesets test` on the example file
and on a copy with a wrong expectation, and docs/examples/example-district.sh (validate, register,
score) against a served instance."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from app.engine import builtin_registry
from app.engine.cases import RulesetCase
from app.engine.yamlio import load_yaml
from tests.conftest import ALL_SCOPES, make_key
from tests.engine.test_golden import cli
from tests.served import ROOT, Server

EXAMPLE = ROOT / "docs" / "examples" / "example-district-2024.yaml"
GUIDE = ROOT / "docs" / "rulesets.md"


def test_the_builtin_rulesets_pass_their_cases_from_the_command_line():
    out = cli("rulesets", "test")
    assert out.returncode == 0, out.stdout + out.stderr
    assert len([line for line in out.stdout.splitlines() if line.startswith("ok   ")]) == len(builtin_registry().refs())


def test_the_example_passes_its_cases():
    out = cli("rulesets", "test", str(EXAMPLE))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout == f"ok   {EXAMPLE}  (example-district@2024: 7 cases passed)\n"


def test_a_wrong_expectation_fails_with_its_pointer_and_line(tmp_path: Path):
    text = EXAMPLE.read_text(encoding="utf-8")
    wrong = tmp_path / "example-district-2024.yaml"
    wrong.write_text(text.replace("total: 81 ", "total: 82 ", 1), encoding="utf-8")
    out = cli("rulesets", "test", str(wrong))
    assert out.returncode == 1
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.strip().startswith("total: 81 "))
    assert out.stdout.splitlines() == [
        f"FAIL {wrong}  (example-district@2024: 1 of 7 cases failed)",
        f"     line {line}, /cases/0/expect/total: case '一个单位的完整自评': expected total 82, scored 81",
    ]
    # The guide prints this output as it is.
    assert f"line {line}, /cases/0/expect/total: case '一个单位的完整自评': expected total 82, scored 81" in GUIDE.read_text(
        encoding="utf-8")


def test_the_example_submission_is_the_first_case():
    """The script's submission is the first case's facts and answers (the same numbers, as JSON)."""
    data, _ = load_yaml(EXAMPLE)
    case = RulesetCase.model_validate(data["cases"][0])
    shipped = json.loads((ROOT / "docs" / "examples" / "example-district-submission.json").read_text(encoding="utf-8"))
    assert {k: Decimal(str(v)) for k, v in shipped["facts"].items()} == case.facts
    assert {k: {"score": Decimal(v["score"]), "reason": v["reason"]} for k, v in shipped["answers"].items()} == case.answers
    assert shipped["overrides"] == case.overrides == {}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_guide_script_registers_the_example_and_scores_81(db_engine, database):
    _, key = make_key("example-district", ALL_SCOPES)
    with Server(database) as server:
        proc = subprocess.run(["bash", str(ROOT / "docs" / "examples" / "example-district.sh")], capture_output=True,
                              text=True, timeout=180,
                              env={"PATH": "/usr/bin:/bin", "JIXIAO_URL": server.url, "KEY": key})
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert proc.stdout.splitlines() == [
        "ok   docs/examples/example-district-2024.yaml  (example-district@2024: 7 cases passed)",
        "valid: True example-district@2024",
        "registered: HTTP 201",
        "submission: HTTP 201",
        "81 良",
    ]


def test_validate_checks_the_file_as_it_grows(tmp_path: Path):
    """Step 2: an empty file fails validation (exit 1); the finished example passes."""
    empty = tmp_path / "example-district-2024.yaml"
    empty.write_text("", encoding="utf-8")
    assert cli("rulesets", "validate", str(empty)).returncode == 1
    top = EXAMPLE.read_text(encoding="utf-8").split("\nindicators:\n", 1)[0] + "\n"
    empty.write_text(top, encoding="utf-8")
    partial = cli("rulesets", "validate", str(empty))
    assert partial.returncode == 1
    assert "indicators" in partial.stdout
    done = cli("rulesets", "validate", str(EXAMPLE))
    assert done.returncode == 0, done.stdout
