"""Golden cases: every tests/cases/*.yaml scored end to end, plus the CLI on the seeds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.engine import builtin_registry
from app.engine.ruleset import RulesetRegistry
from app.engine.scoring import prepare, score, to_dict
from app.engine.submission import load_submission_file
from app.engine.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = ROOT / "tests" / "cases"
CASES = sorted(CASES_DIR.glob("*.yaml"))


def load_case(path: Path) -> dict[str, Any]:
    data, _ = load_yaml(path)
    assert isinstance(data, dict), f"{path}: a case is a mapping"
    missing = {"name", "ruleset", "input", "expected"} - set(data)
    assert not missing, f"{path}: missing keys {sorted(missing)}"
    return data


def score_case(case: dict[str, Any], case_path: Path, registry: RulesetRegistry | None = None) -> dict[str, Any]:
    reg = registry or builtin_registry()
    rs = reg.get(case["ruleset"])
    assert rs is not None, f"unknown ruleset {case['ruleset']}"
    sub = load_submission_file((case_path.parent / case["input"]).resolve())
    assert rs.covers(sub.fiscal_year)
    prepared = prepare(rs, reg.vocabulary, sub.facts, sub.answers, sub.overrides)
    return to_dict(score(rs, prepared), reg.vocabulary)


def find(nodes: list[dict[str, Any]], code: str) -> dict[str, Any] | None:
    for node in nodes:
        if node["code"] == code:
            return node
        found = find(node.get("children") or [], code)
        if found is not None:
            return found
    return None


def same_number(actual: str | None, expected: Any) -> bool:
    return actual is not None and Decimal(actual) == Decimal(str(expected))


def test_cases_exist() -> None:
    assert len(CASES) >= 4, f"expected the golden cases in {CASES_DIR}"


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(case_path: Path) -> None:
    case = load_case(case_path)
    expected = case["expected"]
    out = score_case(case, case_path)
    problems: list[str] = []
    if not same_number(out["total"], expected["total"]):
        problems.append(f"total {out['total']} != {expected['total']}")
    if out["grade"] != expected.get("grade"):
        problems.append(f"grade {out['grade']} != {expected.get('grade')}")
    if out["status"] != expected.get("status", "complete"):
        problems.append(f"status {out['status']} != {expected.get('status')}")
    for code, want in (expected.get("indicators") or {}).items():
        node = find(out["indicators"], str(code))
        if node is None:
            problems.append(f"{code}: no such indicator in the output")
        elif not same_number(node["score"], want):
            problems.append(f"{code}: score {node['score']} != {want} ({node['status']}; deductions {node.get('deductions')})")
    assert not problems, f"{case['name']}:\n  " + "\n  ".join(problems)
    # A complete golden case has nothing outstanding.
    if out["status"] == "complete":
        assert out["missing_facts"] == []
        assert out["missing_answers"] == []
        assert out["grade"] is not None


def test_002_total_is_clamped_with_warning() -> None:
    path = CASES_DIR / "002.yaml"
    out = score_case(load_case(path), path)
    assert out["total"] == "100"
    clamped = [w for w in out["warnings"] if w["code"] == "total_clamped"]
    assert len(clamped) == 1, out["warnings"]
    assert "103" in clamped[0]["message"]
    assert out["adjustments_total"] == "3"
    assert out["base_total"] == "100"


def _dumps(case_path: Path, registry: RulesetRegistry | None = None) -> str:
    return json.dumps(score_case(load_case(case_path), case_path, registry), ensure_ascii=False)


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_scoring_is_deterministic(case_path: Path) -> None:
    first = _dumps(case_path)
    second = _dumps(case_path)
    assert first == second
    # A freshly loaded registry (new Ruleset objects, new parsed formulas) gives the same bytes.
    fresh = RulesetRegistry.from_directory(ROOT / "rulesets")
    assert _dumps(case_path, fresh) == first


# --------------------------------------------------------------------------- CLI

_JIXIAO = ROOT / ".venv" / "bin" / "jixiao"
CLI = [str(_JIXIAO)] if _JIXIAO.exists() else [sys.executable, "-m", "app.cli"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "JIXIAO_RULESETS_DIR"}
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


SEED_RUNS = [
    ("001", "shenzhen-yantian@2023", "93.97", "优"),
    ("002", "huizhou-huidong@2023", "100", "优"),
    ("003", "yiyang-ziyang@2023", "88.5", "良"),
    ("004", "shenzhen@2021", "95.32", "优"),
]


@pytest.mark.parametrize(("seed", "ref", "total", "grade"), SEED_RUNS, ids=[s[0] for s in SEED_RUNS])
def test_cli_score_json(seed: str, ref: str, total: str, grade: str) -> None:
    proc = cli("score", f"tests/fixtures/seeds/{seed}.yaml", "--ruleset", ref, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert f'"total": "{total}"' in proc.stdout
    doc = json.loads(proc.stdout)
    assert doc["total"] == total
    assert doc["grade"] == grade
    assert doc["status"] == "complete"
    assert doc["ruleset"]["ref"] == ref
    assert doc["fiscal_year"] == int(ref.split("@")[1])


def test_cli_score_table() -> None:
    proc = cli("score", "tests/fixtures/seeds/001.yaml", "--ruleset", "shenzhen-yantian@2023", "--format", "table")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("2.1.1") and "1.97" in line for line in lines), proc.stdout
    assert "total: 93.97" in proc.stdout
    assert "grade: 优" in proc.stdout


def test_cli_score_table_shows_clamp_warning() -> None:
    proc = cli("score", "tests/fixtures/seeds/002.yaml", "--ruleset", "huizhou-huidong@2023", "--format", "table")
    assert proc.returncode == 0, proc.stderr
    assert "total: 100" in proc.stdout
    assert "warning [total_clamped]" in proc.stdout
    assert "103" in proc.stdout


def test_cli_rulesets_list() -> None:
    proc = cli("rulesets", "list")
    assert proc.returncode == 0, proc.stderr
    for _, ref, _, _ in SEED_RUNS:
        assert ref in proc.stdout


def test_cli_rulesets_show() -> None:
    proc = cli("rulesets", "show", "shenzhen-yantian@2023")
    assert proc.returncode == 0, proc.stderr
    assert "shenzhen-yantian@2023" in proc.stdout
    assert "2.1.1 政府采购执行情况 2 [composite]" in proc.stdout
    assert "3.4.2 公众或服务对象满意度 6 [bands]" in proc.stdout


def test_cli_rulesets_validate() -> None:
    proc = cli("rulesets", "validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok ") == len(builtin_registry().refs()) + len(builtin_registry().projects())
    assert "FAIL" not in proc.stdout


def test_cli_rulesets_validate_broken_file_fails() -> None:
    broken = Path(__file__).parent / "broken" / "children_sum.yaml"
    proc = cli("rulesets", "validate", str(broken))
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout
    assert "add up to" in proc.stdout


def test_cli_unknown_ruleset_exits_nonzero() -> None:
    proc = cli("score", "tests/fixtures/seeds/001.yaml", "--ruleset", "no-such@1999")
    assert proc.returncode != 0
    assert "unknown ruleset" in proc.stderr


# --------------------------------------------------------------------------- compiled vs pure Python

_PURE_SCRIPT = r"""
import json, sys
from pathlib import Path
import app.engine.rules, app.engine.scoring, app.engine.formula
from app.engine import builtin_registry
from app.engine.scoring import prepare, score, to_dict
from app.engine.submission import load_submission_file
from app.engine.yamlio import load_yaml
files = [m.__file__ for m in (app.engine.formula, app.engine.rules, app.engine.scoring)]
reg = builtin_registry()
out = {}
for path in map(Path, sys.argv[1:]):
    case, _ = load_yaml(path)
    rs = reg.get(case["ruleset"])
    sub = load_submission_file((path.parent / case["input"]).resolve())
    a = score(rs, prepare(rs, reg.vocabulary, sub.facts, sub.answers, sub.overrides))
    out[path.stem] = json.dumps(to_dict(a, reg.vocabulary), ensure_ascii=False)
print(json.dumps({"files": files, "cases": out}))
"""


def test_pure_python_engine_gives_the_same_bytes(tmp_path: Path) -> None:
    """The engine may run compiled (mypyc) or as plain Python: both must give identical output."""
    (tmp_path / "app").mkdir()
    shutil.copy(ROOT / "app" / "__init__.py", tmp_path / "app" / "__init__.py")
    shutil.copytree(
        ROOT / "app" / "engine", tmp_path / "app" / "engine",
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"),
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "JIXIAO_RULESETS_DIR": str(ROOT / "rulesets")}
    proc = subprocess.run(
        [sys.executable, "-c", _PURE_SCRIPT, *map(str, CASES)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    pure = json.loads(proc.stdout)
    assert all(f.startswith(str(tmp_path)) and f.endswith(".py") for f in pure["files"]), pure["files"]
    for path in CASES:
        assert pure["cases"][path.stem] == _dumps(path), f"{path.stem}: pure Python and in-process engine differ"
