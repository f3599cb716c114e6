"""Property tests over the four built-in rulesets with random valid facts and answers."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import builtin_registry
from app.engine.facts import FactDef
from app.engine.ruleset import Indicator, Ruleset
from app.engine.scoring import COMPLETE, Assessment, flatten, prepare, score, to_dict

D = Decimal
REGISTRY = builtin_registry()
VOCABULARY = REGISTRY.vocabulary
REFS = REGISTRY.refs()
YANTIAN = "shenzhen-yantian@2023"

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --------------------------------------------------------------------------- strategies


def cents(lo: int, hi: int) -> st.SearchStrategy[Decimal]:
    """Decimals with two places in [lo, hi]."""
    return st.integers(lo * 100, hi * 100).map(lambda n: D(n).scaleb(-2))


def fact_value(fact: FactDef) -> st.SearchStrategy[Any]:
    if fact.unit == "boolean":
        return st.booleans()
    if fact.unit == "count":
        return st.integers(0, int(fact.max) if fact.max is not None else 400)
    if fact.unit == "percent":
        hi = int(fact.max) if fact.max is not None else 300
        return cents(int(fact.min), hi).map(lambda d: f"{d}%")
    # wan_yuan: small and large amounts, zero included (zero denominators must be handled).
    return st.one_of(cents(0, 50), cents(0, 200_000)).map(str)


def facts_strategy(rs: Ruleset, *, optional: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    return _facts_strategy(rs.ref, optional)


@cache
def _facts_strategy(ref: str, optional: bool) -> st.SearchStrategy[dict[str, Any]]:
    # Built once per ruleset: hypothesis validates a strategy the first time it is drawn from.
    rs = ruleset(ref)
    keys = sorted(rs.facts_used())
    fields = {k: fact_value(VOCABULARY[k]) for k in keys}
    if optional:
        return st.fixed_dictionaries({}, optional=fields)
    return st.fixed_dictionaries(fields)


def answer_value(shape: str, points: Decimal) -> st.SearchStrategy[Any] | None:
    shapes = set(shape.split("+"))
    if "judgment" in shapes:
        return st.integers(0, int(points * 100)).map(lambda n: {"score": str(D(n).scaleb(-2)), "reason": "r"})
    if "item" in shapes:
        return st.booleans()
    if "findings" in shapes:
        return st.lists(st.sampled_from(["问题甲", "问题乙", "问题丙"]), max_size=8).map(lambda f: {"findings": f})
    if "events" in shapes:
        return st.integers(0, 5).map(lambda n: {"count": n})
    assert shapes == {"na"}, shape
    return None  # the evaluator does not declare anything not applicable here


def answers_strategy(rs: Ruleset) -> st.SearchStrategy[dict[str, Any]]:
    return _answers_strategy(rs.ref)


@cache
def _answers_strategy(ref: str) -> st.SearchStrategy[dict[str, Any]]:
    rs = ruleset(ref)
    fields = {}
    for addr, (shape, points) in sorted(rs.answer_shapes.items()):
        s = answer_value(shape, points)
        if s is not None:
            fields[addr] = s
    return st.fixed_dictionaries(fields)


# --------------------------------------------------------------------------- invariants


def check_invariants(rs: Ruleset, a: Assessment) -> None:
    results = flatten(a)
    assert len(results) == sum(1 for top in rs.indicators for _ in top.walk())
    for r in results:
        assert D(0) <= r.points
        if r.score is not None:
            assert D(0) <= r.score <= r.points, f"{r.indicator.code}: {r.score} not in [0, {r.points}]"
            assert r.score == r.score.quantize(rs.quantum) or r.indicator.children, r.score
        if r.children:
            assert r.points == sum((c.points for c in r.children), D(0))
            if all(c.score is not None for c in r.children):
                assert r.score == sum((c.score for c in r.children if c.score is not None), D(0))
        if r.indicator.is_leaf and r.status in {"missing_facts", "judgment_pending"}:
            assert r.score is None, f"{r.indicator.code} is {r.status} but scores {r.score} (a silent score)"
    # Points are only moved, never created.
    assert sum((t.points for t in a.indicators), D(0)) <= rs.total_points
    lo, hi = rs.bounds
    assert lo <= a.total <= hi
    expected_total = min(max(a.base_total + a.adjustments_total, lo), hi).quantize(rs.quantum, rs.rounding)
    assert a.total == expected_total
    assert a.base_total == sum((t.score for t in a.indicators if t.score is not None), D(0))
    if a.status == COMPLETE:
        assert a.grade is not None
        assert a.grade == rs.grade_for(a.total)
        assert a.missing_facts == []
        assert a.missing_answers == []
        assert all(r.score is not None for r in results)
    else:
        assert a.grade is None
        assert any(r.status in {"missing_facts", "judgment_pending"} for r in results)
    json.dumps(to_dict(a, VOCABULARY), ensure_ascii=False)


def ruleset(ref: str) -> Ruleset:
    rs = REGISTRY.get(ref)
    assert rs is not None
    return rs


@pytest.mark.parametrize("ref", REFS)
@SETTINGS
@given(data=st.data())
def test_random_valid_facts_and_full_answers(ref: str, data: st.DataObject) -> None:
    rs = ruleset(ref)
    facts = data.draw(facts_strategy(rs), label="facts")
    answers = data.draw(answers_strategy(rs), label="answers")
    a = score(rs, prepare(rs, VOCABULARY, facts, answers, {}))
    check_invariants(rs, a)
    assert a.missing_facts == []  # every fact a rule reads was sent


@pytest.mark.parametrize("ref", REFS)
@SETTINGS
@given(data=st.data())
def test_random_partial_facts_never_score_silently(ref: str, data: st.DataObject) -> None:
    rs = ruleset(ref)
    facts = data.draw(facts_strategy(rs, optional=True), label="facts")
    answers = data.draw(answers_strategy(rs), label="answers")
    a = score(rs, prepare(rs, VOCABULARY, facts, answers, {}))
    check_invariants(rs, a)
    absent = rs.facts_used() - set(facts)
    assert set(a.missing_facts) <= absent
    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            if "missing_facts" in node:  # a leaf
                assert set(node["missing_facts"]) <= absent
                if node["missing_facts"]:
                    assert node["score"] is None, f"{node['code']} lacks {node['missing_facts']} but scores {node['score']}"
            walk(node.get("children") or [])

    walk(to_dict(a, VOCABULARY)["indicators"])
    if a.missing_facts:
        assert a.status != COMPLETE
        assert a.grade is None


# --------------------------------------------------------------------------- monotonicity (shenzhen-yantian@2023)


def leaf_score(a: Assessment, code: str) -> Decimal:
    for r in flatten(a):
        if r.indicator.code == code:
            assert r.score is not None, f"{code} is {r.status}"
            return r.score
    raise KeyError(code)


def satisfaction_leaf(rs: Ruleset) -> Indicator:
    found = [
        leaf for leaf in rs.leaves
        if leaf.rule is not None and leaf.rule.kind == "bands" and leaf.rule.facts == frozenset({"satisfaction_rate"})
    ]
    assert len(found) == 1, [leaf.code for leaf in found]
    return found[0]


def score_with(rs: Ruleset, facts: dict[str, Any], answers: dict[str, Any]) -> Assessment:
    return score(rs, prepare(rs, VOCABULARY, facts, answers, {}))


@SETTINGS
@given(data=st.data())
def test_procurement_rate_is_monotonic(data: st.DataObject) -> None:
    rs = ruleset(YANTIAN)
    facts = data.draw(facts_strategy(rs), label="facts")
    answers = data.draw(answers_strategy(rs), label="answers")
    planned = data.draw(cents(1, 100_000).map(lambda d: max(d, D("0.01"))), label="planned")
    a1 = data.draw(st.integers(0, int(planned * 100)).map(lambda n: D(n).scaleb(-2)), label="actual")
    a2 = data.draw(st.integers(int(a1 * 100), int(planned * 100)).map(lambda n: D(n).scaleb(-2)), label="actual2")
    base = {**facts, "procurement_planned": str(planned)}
    s1 = leaf_score(score_with(rs, {**base, "procurement_actual": str(a1)}, answers), "2.1.1")
    s2 = leaf_score(score_with(rs, {**base, "procurement_actual": str(a2)}, answers), "2.1.1")
    assert s1 <= s2, f"procurement_actual {a1} → {a2} of {planned}: 2.1.1 {s1} → {s2}"


@SETTINGS
@given(data=st.data())
def test_budget_progress_is_monotonic(data: st.DataObject) -> None:
    rs = ruleset(YANTIAN)
    facts = data.draw(facts_strategy(rs), label="facts")
    answers = data.draw(answers_strategy(rs), label="answers")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for q in ("budget_progress_q1", "budget_progress_q2", "budget_progress_q3", "budget_progress_q4"):
        lo = data.draw(cents(0, 200), label=q)
        hi = data.draw(st.integers(int(lo * 100), 200 * 100).map(lambda n: D(n).scaleb(-2)), label=q + "'")
        before[q], after[q] = f"{lo}%", f"{hi}%"
    s1 = leaf_score(score_with(rs, {**facts, **before}, answers), "3.2.1")
    s2 = leaf_score(score_with(rs, {**facts, **after}, answers), "3.2.1")
    assert s1 <= s2, f"{before} → {after}: 3.2.1 {s1} → {s2}"


@SETTINGS
@given(data=st.data())
def test_satisfaction_is_monotonic(data: st.DataObject) -> None:
    rs = ruleset(YANTIAN)
    code = satisfaction_leaf(rs).code
    facts = data.draw(facts_strategy(rs), label="facts")
    answers = data.draw(answers_strategy(rs), label="answers")
    lo = data.draw(cents(0, 100), label="satisfaction")
    hi = data.draw(st.integers(int(lo * 100), 100 * 100).map(lambda n: D(n).scaleb(-2)), label="satisfaction'")
    s1 = leaf_score(score_with(rs, {**facts, "satisfaction_rate": f"{lo}%"}, answers), code)
    s2 = leaf_score(score_with(rs, {**facts, "satisfaction_rate": f"{hi}%"}, answers), code)
    assert s1 <= s2, f"satisfaction {lo}% → {hi}%: {code} {s1} → {s2}"


def test_satisfaction_leaf_is_found() -> None:
    assert satisfaction_leaf(ruleset(YANTIAN)).code == "3.4.2"


def test_monotonic_rules_declare_their_inputs() -> None:
    """The rules the monotonicity tests lean on read exactly the facts varied above."""
    rs = ruleset(YANTIAN)
    assert rs.by_code["3.2.1"].rule is not None
    assert rs.by_code["3.2.1"].rule.facts == frozenset(
        {"budget_progress_q1", "budget_progress_q2", "budget_progress_q3", "budget_progress_q4"}
    )
    rule_211 = rs.by_code["2.1.1"].rule
    assert rule_211 is not None
    assert {"procurement_actual", "procurement_planned"} <= rule_211.facts
