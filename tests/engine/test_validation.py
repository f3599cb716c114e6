"""Validation of submissions: every problem names its field as a JSON pointer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.engine.errors import InvalidInput
from app.engine.ruleset import Ruleset, RulesetRegistry
from app.engine.scoring import prepare

D = Decimal
REF = "shenzhen-yantian@2023"


@pytest.fixture(scope="module")
def rs(registry: RulesetRegistry) -> Ruleset:
    ruleset = registry.get(REF)
    assert ruleset is not None
    return ruleset


def problems_of(registry: RulesetRegistry, rs: Ruleset, facts: Any = None, answers: Any = None, overrides: Any = None) -> dict[str, str]:
    with pytest.raises(InvalidInput) as exc:
        prepare(rs, registry.vocabulary, facts, answers, overrides)
    found = {p.pointer: p.message for p in exc.value.problems}
    assert len(found) == len(exc.value.problems), "one problem per pointer expected"
    # The exception text names every pointer too.
    for pointer in found:
        assert pointer in str(exc.value)
    return found


@pytest.mark.parametrize(
    ("key", "value", "pointer", "fragment"),
    [
        ("procurement_planned", -1, "/facts/procurement_planned", "must be at least 0"),
        ("procurement_planned", "-0.01", "/facts/procurement_planned", "must be at least 0"),
        ("staff_authorized", D("3.5"), "/facts/staff_authorized", "whole number"),
        ("staff_authorized", 3.5, "/facts/staff_authorized", "whole number"),
        ("staff_authorized", "3.5", "/facts/staff_authorized", "whole number"),
        ("staff_authorized", -2, "/facts/staff_authorized", "at least 0"),
        ("satisfaction_rate", "97.67", "/facts/satisfaction_rate", "%"),
        ("satisfaction_rate", D("97.67"), "/facts/satisfaction_rate", "97.67%"),
        ("satisfaction_rate", 0.9767, "/facts/satisfaction_rate", "with its unit"),
        ("satisfaction_rate", "101%", "/facts/satisfaction_rate", "at most 100%"),
        ("satisfaction_rate", "-1%", "/facts/satisfaction_rate", "at least 0%"),
        ("satisfaction_rate", "abc%", "/facts/satisfaction_rate", "not a number"),
        ("budget_progress_q1", "1000.01%", "/facts/budget_progress_q1", "at most 1000%"),
        ("procurement_planned", True, "/facts/procurement_planned", "not true/false"),
        ("staff_authorized", False, "/facts/staff_authorized", "not true/false"),
        ("satisfaction_rate", True, "/facts/satisfaction_rate", "not true/false"),
        ("procurement_planned", "abc", "/facts/procurement_planned", "not a number"),
        ("procurement_planned", "NaN", "/facts/procurement_planned", "finite"),
        ("procurement_planned", "Infinity", "/facts/procurement_planned", "finite"),
        ("procurement_planned", [1], "/facts/procurement_planned", "expected a number"),
        ("financial_violation", 1, "/facts/financial_violation", "true or false"),
        ("financial_violation", "yes", "/facts/financial_violation", "true or false"),
        ("no_such_fact", 1, "/facts/no_such_fact", "unknown fact"),
        ("a/b~c", 1, "/facts/a~1b~0c", "unknown fact"),
    ],
)
def test_fact_problems(registry: RulesetRegistry, rs: Ruleset, key: str, value: Any, pointer: str, fragment: str) -> None:
    found = problems_of(registry, rs, {key: value})
    assert list(found) == [pointer]
    assert fragment in found[pointer]


def test_fact_message_names_the_fact(registry: RulesetRegistry, rs: Ruleset) -> None:
    found = problems_of(registry, rs, {"staff_authorized": D("3.5")})
    assert found["/facts/staff_authorized"].startswith("核定编制数（含工勤人员）（staff_authorized）")


def test_every_problem_is_reported_at_once(registry: RulesetRegistry, rs: Ruleset) -> None:
    found = problems_of(
        registry,
        rs,
        {"procurement_planned": -1, "staff_authorized": D("3.5"), "satisfaction_rate": "97.67", "budget_initial": True},
        {"3.3.1": {"score": 26, "reason": "r"}},
        {"3.4.2": {"score": 6}},
    )
    assert set(found) == {
        "/facts/procurement_planned",
        "/facts/staff_authorized",
        "/facts/satisfaction_rate",
        "/facts/budget_initial",
        "/answers/3.3.1/score",
        "/overrides/3.4.2/reason",
    }


@pytest.mark.parametrize(
    ("answers", "pointer", "fragment"),
    [
        ({"3.3.1": {"score": 26, "reason": "r"}}, "/answers/3.3.1/score", "outside [0, 25]"),
        ({"3.3.1": 25.01}, "/answers/3.3.1/score", "outside [0, 25]"),
        ({"3.3.1": {"score": -1, "reason": "r"}}, "/answers/3.3.1/score", "outside [0, 25]"),
        ({"3.3.1": {"score": 22}}, "/answers/3.3.1/reason", "needs a reason"),
        ({"3.3.1": {"score": 22, "reason": "   "}}, "/answers/3.3.1/reason", "needs a reason"),
        ({"3.3.1": {"score": "abc"}}, "/answers/3.3.1/score", "not a number"),
        ({"3.3.1": {"score": True}}, "/answers/3.3.1/score", "must be a number"),
        ({"3.3.1": {"score": "NaN", "reason": "r"}}, "/answers/3.3.1/score", "finite"),
        ({"3.3.1": True}, "/answers/3.3.1", "checklist items"),
        ({"3.3.1": {"score": 25, "findings": []}}, "/answers/3.3.1", "do not apply"),
        ({"1.1.1/1": {"score": 2}}, "/answers/1.1.1~11/score", "outside [0, 1]"),
        ({"1.1.1/1": {"met": "yes"}}, "/answers/1.1.1~11/met", "true or false"),
        ({"2.1.1/policy": {"score": "1.5", "reason": "r"}}, "/answers/2.1.1~1policy/score", "outside [0, 1]"),
        ({"1.1.2": {"findings": ["ok", ""]}}, "/answers/1.1.2/findings", "list of reasons"),
        ({"1.1.2": {"findings": "one"}}, "/answers/1.1.2/findings", "list of reasons"),
        ({"1.1.2": ["a"]}, "/answers/1.1.2", "an answer is"),
    ],
)
def test_answer_problems(registry: RulesetRegistry, rs: Ruleset, answers: dict[str, Any], pointer: str, fragment: str) -> None:
    found = problems_of(registry, rs, {}, answers)
    assert list(found) == [pointer]
    assert fragment in found[pointer]


@pytest.mark.parametrize(
    ("overrides", "pointer", "fragment"),
    [
        ({"3.4.2": {"score": 6}}, "/overrides/3.4.2/reason", "needs a reason"),
        ({"3.4.2": {"score": 6, "reason": ""}}, "/overrides/3.4.2/reason", "needs a reason"),
        ({"3.4.2": {"score": 7, "reason": "r"}}, "/overrides/3.4.2/score", "outside [0, 6]"),
        ({"3.4.2": {"score": -0.5, "reason": "r"}}, "/overrides/3.4.2/score", "outside [0, 6]"),
        ({"3.4.2": {"reason": "r"}}, "/overrides/3.4.2/score", "must be a number"),
        ({"3.4": {"score": 6, "reason": "r"}}, "/overrides/3.4", "not a scored (leaf) indicator"),
        ({"9.9.9": {"score": 6, "reason": "r"}}, "/overrides/9.9.9", "not a scored (leaf) indicator"),
        ({"3.4.2": 6}, "/overrides/3.4.2", "an override is {score, reason}"),
    ],
)
def test_override_problems(registry: RulesetRegistry, rs: Ruleset, overrides: dict[str, Any], pointer: str, fragment: str) -> None:
    found = problems_of(registry, rs, {}, {}, overrides)
    assert pointer in found
    assert fragment in found[pointer]


def test_override_unknown_keys(registry: RulesetRegistry, rs: Ruleset) -> None:
    with pytest.raises(InvalidInput) as exc:
        prepare(rs, registry.vocabulary, {}, {}, {"3.4.2": {"score": 6, "reason": "r", "by": "me"}})
    assert [(p.pointer, "unknown keys" in p.message) for p in exc.value.problems] == [("/overrides/3.4.2", True)]


@pytest.mark.parametrize(
    ("key", "value", "engine_value"),
    [
        ("procurement_planned", "326.61", D("326.61")),
        ("procurement_planned", D("326.61"), D("326.61")),
        ("procurement_planned", 0.1, D("0.1")),  # a float's shortest repr, not its binary expansion
        ("procurement_planned", "12,128.9", D("12128.9")),
        ("procurement_planned", 0, D(0)),
        ("staff_authorized", 226, D(226)),
        ("staff_authorized", "3.0", D(3)),
        ("satisfaction_rate", "97.67%", D("0.9767")),
        ("satisfaction_rate", " 96 % ", D("0.96")),
        ("budget_progress_q1", "118.44%", D("1.1844")),
        ("financial_violation", False, False),
    ],
)
def test_valid_facts_become_engine_values(registry: RulesetRegistry, rs: Ruleset, key: str, value: Any, engine_value: Any) -> None:
    prepared = prepare(rs, registry.vocabulary, {key: value}, {}, {})
    assert prepared.facts == {key: engine_value}
    assert type(prepared.facts[key]) is type(engine_value)


def test_null_fact_is_left_out(registry: RulesetRegistry, rs: Ruleset) -> None:
    prepared = prepare(rs, registry.vocabulary, {"procurement_planned": None}, {}, {})
    assert prepared.facts == {}
