"""A ruleset's own cases (``cases:``, app/engine/cases.py): every built-in ruleset's cases pass, the
seed case is the seed's fixture, every computed indicator has a boundary case, and a failing or
malformed case is reported with a JSON pointer into the file and its line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.engine import builtin_registry
from app.engine.cases import RulesetCase, run_cases
from app.engine.errors import RulesetError
from app.engine.ruleset import Ruleset, load_ruleset_text
from app.engine.yamlio import load_yaml, loads_yaml

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = builtin_registry().refs()
#: the seed document each built-in ruleset was transcribed from (README, "The rulesets")
SEEDS = {"shenzhen-yantian@2023": "001", "huizhou-huidong@2023": "002", "yiyang-ziyang@2023": "003",
         "shenzhen@2021": "004"}


def _cases(rs: Ruleset) -> list[dict[str, Any]]:
    data, _ = loads_yaml(rs.text)
    cases = data.get("cases") or []
    assert isinstance(cases, list)
    return cases


def _with_cases(rs: Ruleset, cases_yaml: str) -> Ruleset:
    """``rs``'s text with its cases replaced by ``cases_yaml``."""
    head = rs.text.split("\ncases:\n", 1)[0]
    return load_ruleset_text(head + "\ncases:\n" + cases_yaml, builtin_registry().vocabulary, source="test")


def test_every_builtin_ruleset_has_its_seed():
    assert sorted(SEEDS) == BUILTIN


@pytest.mark.parametrize("ref", BUILTIN)
def test_the_builtin_ruleset_passes_its_own_cases(ref):
    rs = builtin_registry().get(ref)
    assert rs is not None
    result = run_cases(rs, builtin_registry().vocabulary)
    assert result.failures == [], "\n".join(p.message for p in result.failures)
    assert result.count == len(_cases(rs)) > 20  # the seed case and the boundary cases all ran


@pytest.mark.parametrize("ref", BUILTIN)
def test_case_0_is_the_seed_as_its_document_prints_it(ref):
    """The seed case carries the fixture's facts, answers and overrides unchanged, and expects every
    score tests/cases prints for that seed (one source, kept identical by this test)."""
    rs = builtin_registry().get(ref)
    assert rs is not None
    seed = SEEDS[ref]
    case = RulesetCase.model_validate(_cases(rs)[0])
    fixture, _ = load_yaml(ROOT / "tests" / "fixtures" / "seeds" / f"{seed}.yaml")
    golden, _ = load_yaml(ROOT / "tests" / "cases" / f"{seed}.yaml")
    assert case.name.startswith(f"seed {seed} ")
    assert case.fiscal_year == fixture["fiscal_year"]
    for key in ("facts", "answers", "overrides"):
        assert getattr(case, key) == (fixture.get(key) or {}), key
    expected = golden["expected"]
    assert case.expect.total == Decimal(expected["total"])
    assert case.expect.grade == expected["grade"]
    assert case.expect.status == expected["status"]
    assert case.expect.indicators == {str(k): Decimal(v) for k, v in expected["indicators"].items()}


@pytest.mark.parametrize("ref", BUILTIN)
def test_every_computed_indicator_and_every_grade_has_a_boundary_case(ref):
    """Each indicator scored from facts (bands, rates, step deductions, counted deductions, quarterly,
    cohort, zero_if conditions, not applicable) is checked by some case other than the seed's, and so is each grade."""
    rs = builtin_registry().get(ref)
    assert rs is not None
    cases = [RulesetCase.model_validate(c) for c in _cases(rs)[1:]]
    checked = {code for c in cases for code in c.expect.indicators}
    # A judgment's formula is only shown to the evaluator; only its zero_if conditions score.
    computed = {leaf.code for leaf in rs.leaves
                if leaf.rule is not None and getattr(leaf.rule, "required", leaf.rule.facts)}
    assert computed - checked == set()
    graded = {c.expect.grade for c in cases if c.expect.grade}
    assert graded == {g.grade for g in rs.grades}
    for adj in rs.adjustments:
        assert adj.code in checked


def test_a_wrong_expectation_points_at_the_case_and_its_line():
    rs = builtin_registry().get("shenzhen-yantian@2023")
    assert rs is not None
    text = rs.text.replace('"3.3.1": "22"', '"3.3.1": "21"', 1).replace('total: "93.97"', 'total: "93.96"', 1)
    broken = load_ruleset_text(text, builtin_registry().vocabulary, source="test")
    result = run_cases(broken, builtin_registry().vocabulary)
    assert [p.pointer for p in result.failures] == ["/cases/0/expect/total", "/cases/0/expect/indicators/3.3.1"]
    assert result.failed_cases == [0]
    line = text.splitlines().index('      total: "93.96"') + 1
    assert result.failures[0].message.startswith(f"line {line}, /cases/0/expect/total: case 'seed 001 盐港中学 2023 自评': "
                                                 "expected total 93.96, scored 93.97")
    assert "expected 3.3.1 to score 21, scored 22" in result.failures[1].message


def test_each_kind_of_failure_names_its_place():
    rs = builtin_registry().get("shenzhen@2021")
    assert rs is not None
    broken = _with_cases(rs, """\
  - name: 满意度 95%
    facts: {satisfaction_rate: "95%"}
    expect: {indicators: {"3.4.2": 4, "9.9": 1}, grade: 优, status: complete, warnings: []}
  - name: 非法的事实
    facts: {satisfaction_rate: 95}
    answers: {"7.7": {score: 1}}
    expect: {indicators: {"3.4.2": 6}}
  - name: 缺少事实
    expect: {indicators: {"3.4.2": 6}}
  - name: 年度不适用
    fiscal_year: 2023
    expect: {total: 0}
""")
    result = run_cases(broken, builtin_registry().vocabulary)
    by_pointer = {p.pointer: p.message for p in result.failures}
    assert result.count == 4
    assert result.failed_cases == [0, 1, 2, 3]
    assert "expected 3.4.2 to score 4, scored 6" in by_pointer["/cases/0/expect/indicators/3.4.2"]
    assert "has no indicator or adjustment '9.9'" in by_pointer["/cases/0/expect/indicators/9.9"]
    assert "expected grade 优, scored —" in by_pointer["/cases/0/expect/grade"]
    assert "expected complete, scored incomplete (missing: " in by_pointer["/cases/0/expect/status"]
    assert "incomplete" in by_pointer["/cases/0/expect/warnings"]
    assert "/cases/1/facts/satisfaction_rate" in by_pointer  # the vocabulary's own message
    assert "has no answer address '7.7'" in by_pointer["/cases/1/answers/7.7"]
    assert "it is not scored: missing_facts (missing: satisfaction_rate)" in by_pointer["/cases/2/expect/indicators/3.4.2"]
    assert "covers fiscal years [2021], not 2023" in by_pointer["/cases/3/fiscal_year"]
    for pointer, message in by_pointer.items():
        assert message.startswith("line "), (pointer, message)


def test_a_case_of_the_wrong_shape_is_refused_by_the_loader_at_its_place():
    """A case's shape is part of the file format (app.engine.fileformat): the loader refuses it
    with the pointer and line, before any case runs."""
    rs = builtin_registry().get("shenzhen@2021")
    assert rs is not None
    with pytest.raises(RulesetError) as refused:
        _with_cases(rs, """\
  - name: 形状不对
    expected: {total: 1}
  - name: 什么都不检查
    expect: {}
""")
    by_pointer = {p.pointer: p.message for p in refused.value.problems}
    assert "missing required key 'expect'" in by_pointer["/cases/0"]
    assert "unknown key 'expected'" in by_pointer["/cases/0/expected"]
    assert "expect checks nothing" in by_pointer["/cases/1/expect"]
    assert all("line " in m for m in by_pointer.values()), by_pointer


def test_a_ruleset_without_cases_has_nothing_to_fail():
    rs = builtin_registry().get("shenzhen@2021")
    assert rs is not None
    bare = load_ruleset_text(rs.text.split("\ncases:\n", 1)[0] + "\n", builtin_registry().vocabulary, source="test")
    result = run_cases(bare, builtin_registry().vocabulary)
    assert (result.count, result.failures) == (0, [])


def test_cases_must_be_a_list():
    rs = builtin_registry().get("shenzhen@2021")
    assert rs is not None
    text = rs.text.split("\ncases:\n", 1)[0] + "\ncases: {name: x}\n"
    with pytest.raises(RulesetError) as refused:
        load_ruleset_text(text, builtin_registry().vocabulary, source="test")
    assert [p.pointer for p in refused.value.problems] == ["/cases"]


def test_the_published_schema_describes_cases_as_the_model_does():
    """rulesets/ruleset.schema.json is generated from the file-format models (its drift test is in
    tests/test_ruleset_schema.py); a case there has exactly the model's fields."""
    import json

    from app.engine.cases import CaseExpect

    schema = json.loads((ROOT / "rulesets" / "ruleset.schema.json").read_text(encoding="utf-8"))
    assert schema["properties"]["cases"]["items"] == {"$ref": "#/$defs/RulesetCase"}
    assert set(schema["$defs"]["RulesetCase"]["properties"]) == set(RulesetCase.model_fields)
    assert set(schema["$defs"]["CaseExpect"]["properties"]) == set(CaseExpect.model_fields)
