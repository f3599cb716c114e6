"""Property tests of project self-evaluation scoring over random tables (hypothesis).

* a met target always scores its full 分值;
* a 正向 (≥) row's score never decreases when the actual grows, a 反向 (≤) row's never increases;
* the total never exceeds 100 and always equals the rounded rows as the ruleset says: their sum,
  or their sum brought back to 100 (按百分制折算) when rows do not apply.
"""

from __future__ import annotations

import json
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import builtin_registry
from app.engine.project import ProjectRuleset, score_project, spread

D = Decimal
REG = builtin_registry()
PROJECTS = [REG.project("national-project@2020"), REG.project("local-project@2023")]
SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
WHY = {"deviation_reason": "原因", "improvement": "措施"}


def cents(lo: int, hi: int) -> st.SearchStrategy[Decimal]:
    return st.integers(lo * 100, hi * 100).map(lambda n: D(n).scaleb(-2))


@st.composite
def quantitative(draw: st.DrawFn, level1: str, level2: str) -> dict[str, Any]:
    nature = draw(st.sampled_from(["≥", "≤", "="]))
    unit = draw(st.sampled_from(["人次", "%", "万元", "天", "个"]))
    target = draw(cents(1, 5000))
    actual = draw(st.one_of(st.just(target), cents(0, 10000)))
    return {"level1": level1, "level2": level2, "name": "指标", "nature": nature, "target": str(target),
            "unit": unit, "actual": str(actual), **WHY}


@st.composite
def qualitative(draw: st.DrawFn, level1: str, level2: str, points: Decimal, rs: ProjectRuleset) -> dict[str, Any]:
    band = rs.bands[draw(st.sampled_from(["met", "partial", "missed"]))]
    lo_c, hi_c = points * band.min * 100, points * band.max * 100  # the band's bounds in cents
    lo = int(lo_c.to_integral_value(ROUND_CEILING)) + (0 if band.min_inclusive or lo_c % 1 else 1)
    hi = int(hi_c.to_integral_value(ROUND_FLOOR)) - (0 if band.max_inclusive or hi_c % 1 else 1)
    score = D(draw(st.integers(lo, max(lo, hi)))).scaleb(-2)
    return {"level1": level1, "level2": level2, "name": "定性", "nature": "定性", "band": band.band,
            "band_score": str(score), "band_reason": "理由", **WHY}


@st.composite
def tables(draw: st.DrawFn, rs: ProjectRuleset) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for l1 in rs.levels:
        n = draw(st.integers(1, 4))
        own_points = draw(st.booleans())  # the unit's 分值 on every row of the 一级, or on none
        weights = [D(draw(st.integers(1, 5))) if own_points else D(1) for _ in range(n)]
        for share in spread(l1.points, weights, rs.quantum):  # without 分值 the engine spreads the same way
            l2 = draw(st.sampled_from(l1.children))
            if draw(st.integers(0, 4)) == 0:
                r = draw(qualitative(l1.name, l2.name, share, rs))
            else:
                r = draw(quantitative(l1.name, l2.name))
            if own_points:
                r["points"] = str(share)
            rows.append(r)
    for r in rows:
        if draw(st.integers(0, 9)) == 0:
            r.update(not_applicable=True, not_applicable_reason="本年度不适用")
    budget = draw(cents(0, 1000))
    executed = draw(cents(0, 1200))
    return {"funds": {"full_year_budget": str(budget), "executed": str(executed)}, "rows": rows}


@pytest.mark.parametrize("rs", PROJECTS, ids=lambda r: r.ref)
def test_total_is_bounded_and_equals_the_rounded_rows(rs):
    @SETTINGS
    @given(tables(rs))
    def check(sub: dict[str, Any]) -> None:
        a = score_project(rs, sub)
        assert a.total <= rs.total_points
        assert a.total >= 0
        rows = a.rows()
        execution = a.node(rs.execution.code)
        for r in [*rows, execution]:
            if r.score is not None:
                assert r.score == r.score.quantize(rs.quantum), (r.code, r.score)
                assert 0 <= r.score <= r.available
        added = sum((r.score for r in [*rows, execution] if r.score is not None), D(0))
        assert a.base_total == added
        excluded = sum((r.points for r in rows if r.status == "not_applicable"), D(0))
        if excluded:
            counted = rs.total_points - excluded
            assert a.total == min(rs.total_points, rs.round(added * rs.total_points / counted))
        else:
            assert a.total == added
        json.dumps(a.to_dict(), ensure_ascii=False)  # the breakdown is plain JSON

    check()


@pytest.mark.parametrize("rs", PROJECTS, ids=lambda r: r.ref)
def test_a_met_target_always_scores_full_marks(rs):
    @SETTINGS
    @given(tables(rs))
    def check(sub: dict[str, Any]) -> None:
        a = score_project(rs, sub)
        for r in a.rows():
            if r.met is True and r.rule != "qualitative_band":
                assert r.score == r.points, (r.code, r.source)

    check()


def one_row(rs: ProjectRuleset, nature: str, target: Decimal, actual: Decimal) -> Decimal:
    rows = [{"level1": l1.name, "level2": l1.children[0].name, "name": "指标", "nature": "≥", "target": "1",
             "actual": "1"} for l1 in rs.levels]
    rows[0] = {**rows[0], "nature": nature, "target": str(target), "actual": str(actual), **WHY}
    a = score_project(rs, {"funds": {"full_year_budget": "1", "executed": "1"}, "rows": rows})
    score = a.rows()[0].score
    assert score is not None
    return score


@pytest.mark.parametrize("rs", PROJECTS, ids=lambda r: r.ref)
def test_positive_rows_never_lose_and_negative_rows_never_gain_when_the_actual_grows(rs):
    @SETTINGS
    @given(cents(1, 5000), cents(0, 10000), cents(0, 10000))
    def check(target: Decimal, x: Decimal, y: Decimal) -> None:
        lo, hi = min(x, y), max(x, y)
        assert one_row(rs, "≥", target, lo) <= one_row(rs, "≥", target, hi)
        assert one_row(rs, "≤", target, lo) >= one_row(rs, "≤", target, hi)

    check()
