"""The built-in rulesets against the words of their sources (issue 15: the seeds re-read).

Every case quotes the source text it is taken from. Band edges are checked for every band rule of
every built-in ruleset; the numbered points of the issue follow, one section each.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.engine import builtin_registry
from app.engine.errors import InvalidInput
from app.engine.rules import MISSING_FACTS, PENDING, Bands, Composite, Ctx, Outcome, Rule
from app.engine.scoring import Assessment, flatten, prepare, score, to_dict
from tests.engine.test_golden import CASES_DIR, find, load_case, score_case

D = Decimal
REGISTRY = builtin_registry()
VOCABULARY = REGISTRY.vocabulary
YANTIAN, SHENZHEN, HUIDONG, ZIYANG = "shenzhen-yantian@2023", "shenzhen@2021", "huizhou-huidong@2023", "yiyang-ziyang@2023"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "rulesets.md"


def rule_of(ref: str, code: str, part: str | None = None) -> Rule:
    rs = REGISTRY.get(ref)
    assert rs is not None
    rule = rs.by_code[code].rule
    assert rule is not None
    if part is not None:
        assert isinstance(rule, Composite)
        rule = next(p.rule for p in rule.parts if p.key == part)
    return rule


def evaluate(ref: str, code: str, facts: dict[str, Any], part: str | None = None,
             answers: dict[str, Any] | None = None) -> Outcome:
    """One rule (or one part of a composite) on facts, as the scoring evaluates it."""
    rs = REGISTRY.get(ref)
    assert rs is not None
    parsed, problems = VOCABULARY.parse(facts)
    assert problems == []
    prepared = prepare(rs, VOCABULARY, {}, answers or {}, {})
    ctx = Ctx(parsed, prepared.answers, rs.quantum, rs.rounding)
    addr = code if part is None else f"{code}/{part}"
    return rule_of(ref, code, part).evaluate(ctx, addr)


def run(ref: str, facts: dict[str, Any], answers: dict[str, Any] | None = None) -> Assessment:
    rs = REGISTRY.get(ref)
    assert rs is not None
    return score(rs, prepare(rs, VOCABULARY, facts, answers or {}, {}))


def node(a: Assessment, code: str) -> dict[str, Any]:
    def find(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
        for n in nodes:
            if n["code"] == code:
                return n
            hit = find(n.get("children") or [])
            if hit is not None:
                return hit
        return None

    found = find(to_dict(a, VOCABULARY)["indicators"])
    assert found is not None, code
    return found


def leaf_score(a: Assessment, code: str) -> Decimal | None:
    return next(r.score for r in flatten(a) if r.indicator.code == code)


def warnings_of(a: Assessment, code: str = "nothing_to_count") -> list[str]:
    return [w["message"] for w in a.warnings if w["code"] == code]


# --------------------------------------------------------------------------- 1. band edges

# (ruleset, code, part, facts, expected score or "judgment", the source's words)
FIXED_ASSETS = "1. 固定资产利用率 ≥ 90% 的,得1分; 2. 90% > 固定资产利用率 ≥ 75% 的,得0.7分; 3. 75% > 固定资产利用率 ≥ 60% 的,得0.4分; 4. 固定资产利用率 < 60% 的,得0分。"
ON_ESTABLISHMENT = "1. 财政供养人员控制率 ≤ 100% 的,得1分; 2. 财政供养人员控制率 > 100% 的,得0分。"
OUTSIDE = "1. 比率<5%的，得1分； 2. 5%≤比率≤10%的，得0.5分； 3. 比率>10%的，得0分。"
THREE_PUBLIC = "(1) “三公”经费控制率<90%的，得3分； (2) 90%≤“三公”经费控制率≤100%的，得2分； (3) “三公”经费控制率>100%的，得0分。"
DAILY = "(1) 日常公用经费控制率<90%的, 得3分; (2) 90%≤日常公用经费控制率≤100%的, 得2分; (3) 日常公用经费控制率>100%的, 得0分。"
SATISFACTION_SZ = "1. 满意度≥95%的, 得 6 分; 2. 90%≤满意度<95%的, 得 4 分; 3. 80%≤满意度<90%的, 得 2 分; 4. 满意度<80%的, 得 1 分。"
ADJUSTMENT_SZ = "调整、调剂资金累计在本单位部门预算总规模10%以内的，得1分；超出10%的，超出一个百分点扣0.1分"

SHENZHEN_EDGES: list[tuple[str, str | None, dict[str, Any], str, str]] = [
    ("2.3.2", None, {"fixed_assets_in_use": 90, "fixed_assets_total": 100}, "1", FIXED_ASSETS),
    ("2.3.2", None, {"fixed_assets_in_use": "89.99", "fixed_assets_total": 100}, "0.7", FIXED_ASSETS),
    ("2.3.2", None, {"fixed_assets_in_use": 75, "fixed_assets_total": 100}, "0.7", FIXED_ASSETS),
    ("2.3.2", None, {"fixed_assets_in_use": "74.99", "fixed_assets_total": 100}, "0.4", FIXED_ASSETS),
    ("2.3.2", None, {"fixed_assets_in_use": 60, "fixed_assets_total": 100}, "0.4", FIXED_ASSETS),
    ("2.3.2", None, {"fixed_assets_in_use": "59.99", "fixed_assets_total": 100}, "0", FIXED_ASSETS),
    ("2.4.1", None, {"staff_on_establishment": 226, "staff_authorized": 226}, "1", ON_ESTABLISHMENT),
    ("2.4.1", None, {"staff_on_establishment": 227, "staff_authorized": 226}, "0", ON_ESTABLISHMENT),
    ("2.4.2", None, {"staff_on_establishment": 9501, "staff_outside_establishment": 499}, "1", OUTSIDE),
    ("2.4.2", None, {"staff_on_establishment": 95, "staff_outside_establishment": 5}, "0.5", OUTSIDE),
    ("2.4.2", None, {"staff_on_establishment": 90, "staff_outside_establishment": 10}, "0.5", OUTSIDE),
    ("2.4.2", None, {"staff_on_establishment": 8999, "staff_outside_establishment": 1001}, "0", OUTSIDE),
    ("3.1.1", "three_public", {"three_public_actual": "89.99", "three_public_budget": 100}, "3", THREE_PUBLIC),
    ("3.1.1", "three_public", {"three_public_actual": 90, "three_public_budget": 100}, "2", THREE_PUBLIC),
    ("3.1.1", "three_public", {"three_public_actual": 100, "three_public_budget": 100}, "2", THREE_PUBLIC),
    ("3.1.1", "three_public", {"three_public_actual": "100.01", "three_public_budget": 100}, "0", THREE_PUBLIC),
    ("3.1.1", "daily", {"public_expense_actual": "89.99", "public_expense_budget": 100}, "3", DAILY),
    ("3.1.1", "daily", {"public_expense_actual": 90, "public_expense_budget": 100}, "2", DAILY),
    ("3.1.1", "daily", {"public_expense_actual": 100, "public_expense_budget": 100}, "2", DAILY),
    ("3.1.1", "daily", {"public_expense_actual": "100.01", "public_expense_budget": 100}, "0", DAILY),
    ("3.4.2", None, {"satisfaction_rate": "95%"}, "6", SATISFACTION_SZ),
    ("3.4.2", None, {"satisfaction_rate": "94.99%"}, "4", SATISFACTION_SZ),
    ("3.4.2", None, {"satisfaction_rate": "90%"}, "4", SATISFACTION_SZ),
    ("3.4.2", None, {"satisfaction_rate": "89.99%"}, "2", SATISFACTION_SZ),
    ("3.4.2", None, {"satisfaction_rate": "80%"}, "2", SATISFACTION_SZ),
    ("3.4.2", None, {"satisfaction_rate": "79.99%"}, "1", SATISFACTION_SZ),
]

SATISFACTION_ZY = "95%及以上计5分，90—95%（不含)4分，80%-85%（含）—80%以下不计分"
KEY_PROJECTS = "80%及以上计满分，60%及以上计3分，40%及以上计2分，40%以下的计1分"
CHANGE_3PUB = "大于0的计0分，等于0的计3分，小于0的计4分"
IN_SERVICE = "在职人员控制率=（在职人员数/编制数）×100%。大于1的视情况扣分。"
ADJUSTMENT_ZY = "无调整的计满分，有调整的视情扣分"
PAYMENT = "支付进度同步的计满分，不同步的视情扣分"
ADVANCE = "提前下达率=100%,得1分;提前下达率=90%-100%,得0.5分;提前下达率<90%,不得分"
CARRYOVER = "1.结余结转率≤10%,得3分;2.10%<结余结转率≤20%,得2分;3.20%<结余结转率≤30%,得1分;4.结余结转率>30%,得0分"
STOCK = "1.部门财政存量资金变动率≤15%,得3分;2.…≤10%但大于15%,得2分;3.…>0但大于10%,得1分;4.…>0,不得分"
DIFFERENCE = "差异率=0,本项指标得分;每增加5%(含)扣减0.5分,直至扣完为止"
CONTROL_HD = "“三公”经费实际支出数≤预算安排的三公经费数,得2分,否则不得分"
DAILY_HD = "日常公用经费决算数≤日常公用经费预算调整数,得2分,否则不得分"

OTHER_EDGES: list[tuple[str, str, str | None, dict[str, Any], str, str]] = [
    # 资阳 — 4.1.4 is issue 15 point 1: 85% falls in the 80–85 band ("80%-85%（含）").
    (ZIYANG, "4.1.4", None, {"satisfaction_rate": "95%"}, "5", SATISFACTION_ZY),
    (ZIYANG, "4.1.4", None, {"satisfaction_rate": "94.99%"}, "4", SATISFACTION_ZY),
    (ZIYANG, "4.1.4", None, {"satisfaction_rate": "90%"}, "4", SATISFACTION_ZY),
    (ZIYANG, "4.1.4", None, {"satisfaction_rate": "89.99%"}, "3", SATISFACTION_ZY),
    (ZIYANG, "4.1.4", None, {"satisfaction_rate": "85.01%"}, "3", SATISFACTION_ZY),
    (ZIYANG, "4.1.4", None, {"satisfaction_rate": "85%"}, "2", SATISFACTION_ZY),
    (ZIYANG, "4.1.4", None, {"satisfaction_rate": "80%"}, "2", SATISFACTION_ZY),
    (ZIYANG, "4.1.4", None, {"satisfaction_rate": "79.99%"}, "0", SATISFACTION_ZY),
    (ZIYANG, "1.2.3", None, {"key_project_budget": 80, "project_budget_total": 100}, "4", KEY_PROJECTS),
    (ZIYANG, "1.2.3", None, {"key_project_budget": "79.99", "project_budget_total": 100}, "3", KEY_PROJECTS),
    (ZIYANG, "1.2.3", None, {"key_project_budget": 60, "project_budget_total": 100}, "3", KEY_PROJECTS),
    (ZIYANG, "1.2.3", None, {"key_project_budget": "59.99", "project_budget_total": 100}, "2", KEY_PROJECTS),
    (ZIYANG, "1.2.3", None, {"key_project_budget": 40, "project_budget_total": 100}, "2", KEY_PROJECTS),
    (ZIYANG, "1.2.3", None, {"key_project_budget": "39.99", "project_budget_total": 100}, "1", KEY_PROJECTS),
    (ZIYANG, "1.2.2", None, {"three_public_actual": "0.69", "three_public_actual_prev": "0.68"}, "0", CHANGE_3PUB),
    (ZIYANG, "1.2.2", None, {"three_public_actual": "0.68", "three_public_actual_prev": "0.68"}, "3", CHANGE_3PUB),
    (ZIYANG, "1.2.2", None, {"three_public_actual": "0.67", "three_public_actual_prev": "0.68"}, "3", CHANGE_3PUB),
    (ZIYANG, "1.2.1", None, {"staff_in_service": 2666, "staff_authorized": 2666}, "3", IN_SERVICE),
    (ZIYANG, "1.2.1", None, {"staff_in_service": 2667, "staff_authorized": 2666}, "judgment", IN_SERVICE),
    (ZIYANG, "2.1.2", None, {"budget_adjustment_amount": 0, "budget_adjustment_exempt_amount": 0,
                             "budget_initial": 100}, "4", ADJUSTMENT_ZY),
    (ZIYANG, "2.1.2", None, {"budget_adjustment_amount": "0.01", "budget_adjustment_exempt_amount": 0,
                             "budget_initial": 100}, "judgment", ADJUSTMENT_ZY),
    (ZIYANG, "2.1.3", None, {"payment_progress_actual": "100%", "payment_progress_planned": "100%"}, "2", PAYMENT),
    (ZIYANG, "2.1.3", None, {"payment_progress_actual": "99.99%", "payment_progress_planned": "100%"}, "judgment", PAYMENT),
    # 惠东
    (HUIDONG, "1.1.3", None, {"special_funds_advanced": 100, "special_funds_total": 100}, "4", ADVANCE),
    (HUIDONG, "1.1.3", None, {"special_funds_advanced": "99.99", "special_funds_total": 100}, "2", ADVANCE),
    (HUIDONG, "1.1.3", None, {"special_funds_advanced": 90, "special_funds_total": 100}, "2", ADVANCE),
    (HUIDONG, "1.1.3", None, {"special_funds_advanced": "89.99", "special_funds_total": 100}, "0", ADVANCE),
    (HUIDONG, "2.1.2", None, {"carryover_closing": 10, "carryover_opening": 0, "appropriation_general": 100,
                              "appropriation_fund": 0}, "3", CARRYOVER),
    (HUIDONG, "2.1.2", None, {"carryover_closing": "10.01", "carryover_opening": 0, "appropriation_general": 100,
                              "appropriation_fund": 0}, "2", CARRYOVER),
    (HUIDONG, "2.1.2", None, {"carryover_closing": 20, "carryover_opening": 0, "appropriation_general": 100,
                              "appropriation_fund": 0}, "2", CARRYOVER),
    (HUIDONG, "2.1.2", None, {"carryover_closing": "20.01", "carryover_opening": 0, "appropriation_general": 100,
                              "appropriation_fund": 0}, "1", CARRYOVER),
    (HUIDONG, "2.1.2", None, {"carryover_closing": 30, "carryover_opening": 0, "appropriation_general": 100,
                              "appropriation_fund": 0}, "1", CARRYOVER),
    (HUIDONG, "2.1.2", None, {"carryover_closing": "30.01", "carryover_opening": 0, "appropriation_general": 100,
                              "appropriation_fund": 0}, "0", CARRYOVER),
    # 存量资金: the minus signs lost by the OCR restored (see the ruleset's comment).
    (HUIDONG, "2.1.3", None, {"stock_funds_current": 85, "stock_funds_prev": 100}, "3", STOCK),
    (HUIDONG, "2.1.3", None, {"stock_funds_current": "85.01", "stock_funds_prev": 100}, "2", STOCK),
    (HUIDONG, "2.1.3", None, {"stock_funds_current": 90, "stock_funds_prev": 100}, "2", STOCK),
    (HUIDONG, "2.1.3", None, {"stock_funds_current": "90.01", "stock_funds_prev": 100}, "1", STOCK),
    (HUIDONG, "2.1.3", None, {"stock_funds_current": 100, "stock_funds_prev": 100}, "1", STOCK),
    (HUIDONG, "2.1.3", None, {"stock_funds_current": "100.01", "stock_funds_prev": 100}, "0", STOCK),
    (HUIDONG, "1.1.2", None, {"revenue_final": 100, "revenue_adjusted_budget": 100}, "4", DIFFERENCE),
    (HUIDONG, "1.1.2", None, {"revenue_final": "100.01", "revenue_adjusted_budget": 100}, "3.5", DIFFERENCE),
    (HUIDONG, "1.1.2", None, {"revenue_final": 95, "revenue_adjusted_budget": 100}, "3.5", DIFFERENCE),
    (HUIDONG, "1.1.2", None, {"revenue_final": "94.99", "revenue_adjusted_budget": 100}, "3", DIFFERENCE),
    (HUIDONG, "1.1.2", None, {"revenue_final": 110, "revenue_adjusted_budget": 100}, "3", DIFFERENCE),
    (HUIDONG, "3.1.1", "three_public", {"three_public_actual": 100, "three_public_budget": 100}, "2", CONTROL_HD),
    (HUIDONG, "3.1.1", "three_public", {"three_public_actual": "100.01", "three_public_budget": 100}, "0", CONTROL_HD),
    (HUIDONG, "3.1.1", "public_expense", {"public_expense_actual": 100, "public_expense_budget": 100}, "2", DAILY_HD),
    (HUIDONG, "3.1.1", "public_expense", {"public_expense_actual": "100.01", "public_expense_budget": 100}, "0", DAILY_HD),
]


def _check_edge(ref: str, code: str, part: str | None, facts: dict[str, Any], expected: str) -> None:
    out = evaluate(ref, code, facts, part)
    if expected == "judgment":
        assert out.status == PENDING, (out.status, out.score)
        assert out.score is None
        assert any("评价人" in m for m in out.messages or []), out.messages
    else:
        assert out.score is not None, (out.status, out.messages)
        assert out.score == D(expected), f"{ref} {code} {facts}: {out.score} != {expected}"


@pytest.mark.parametrize("ref", [YANTIAN, SHENZHEN])
@pytest.mark.parametrize(("code", "part", "facts", "expected", "source"), SHENZHEN_EDGES,
                         ids=[f"{c[0]}{'/' + c[1] if c[1] else ''}-{c[3]}-{i}" for i, c in enumerate(SHENZHEN_EDGES)])
def test_shenzhen_band_edges_follow_the_text(ref: str, code: str, part: str | None, facts: dict[str, Any],
                                             expected: str, source: str) -> None:
    _check_edge(ref, code, part, facts, expected)


@pytest.mark.parametrize(("ref", "base"), [(YANTIAN, "budget_initial"), (SHENZHEN, "budget_adjusted")])
@pytest.mark.parametrize(("amount", "expected"), [("10", "1"), ("11", "0.9"), ("20", "0")])
def test_shenzhen_adjustment_threshold_follows_the_text(ref: str, base: str, amount: str, expected: str) -> None:
    # ADJUSTMENT_SZ: "10%以内的，得1分" — exactly 10% is within; 11% is one point over.
    facts = {"budget_adjustment_amount": amount, "budget_adjustment_exempt_amount": 0, base: 100}
    _check_edge(ref, "2.1.2", "adjustment", facts, expected)


@pytest.mark.parametrize(("ref", "code", "part", "facts", "expected", "source"), OTHER_EDGES,
                         ids=[f"{c[0].split('@')[0]}-{c[1]}{'/' + c[2] if c[2] else ''}-{c[4]}-{i}"
                              for i, c in enumerate(OTHER_EDGES)])
def test_band_edges_follow_the_text(ref: str, code: str, part: str | None, facts: dict[str, Any],
                                    expected: str, source: str) -> None:
    _check_edge(ref, code, part, facts, expected)


def _band_rules() -> list[tuple[str, str]]:
    found = []
    for ref in REGISTRY.refs():
        rs = REGISTRY.get(ref)
        assert rs is not None
        for leaf in rs.leaves:
            rules = [("", leaf.rule)]
            if isinstance(leaf.rule, Composite):
                rules = [(p.key, p.rule) for p in leaf.rule.parts]
            for key, rule in rules:
                if isinstance(rule, Bands):
                    found.append((ref, leaf.code + (f"/{key}" if key else "")))
    return found


def test_every_band_rule_has_its_edges_checked() -> None:
    """A band rule added to a ruleset needs its edges in the tables above."""
    checked = {(YANTIAN, c + (f"/{p}" if p else "")) for c, p, *_ in SHENZHEN_EDGES}
    checked |= {(SHENZHEN, c + (f"/{p}" if p else "")) for c, p, *_ in SHENZHEN_EDGES}
    checked |= {(r, c + (f"/{p}" if p else "")) for r, c, p, *_ in OTHER_EDGES}
    assert sorted(set(_band_rules()) - checked) == []


# --------------------------------------------------------------------------- 2. 惠东 报送及时性

# "行政事业性国有资产年报和月报均按时报送的,得2分;资产年报未能按时报送的扣0.2分;资产月报未能按时报送的,
#  一次扣0.1分,扣完为止。"
@pytest.mark.parametrize("annual_late", [False, True])
@pytest.mark.parametrize("monthly_late", range(13))
def test_huidong_report_punctuality_is_one_deduction_pool(annual_late: bool, monthly_late: int) -> None:
    out = evaluate(HUIDONG, "2.3.1", {"asset_report_annual_late": annual_late,
                                      "asset_report_monthly_late_count": monthly_late})
    expected = max(D(0), D(2) - D("0.2") * annual_late - D("0.1") * monthly_late)
    assert out.score == expected


def test_huidong_report_punctuality_reasons() -> None:
    out = evaluate(HUIDONG, "2.3.1", {"asset_report_annual_late": True, "asset_report_monthly_late_count": 3})
    assert out.score == D("1.5")
    assert [(p, str(r)) for p, r, _ in out.deductions or []] == [
        (D("0.2"), "资产年报未能按时报送1项，每项扣0.2分，扣0.2分"),
        (D("0.3"), "资产月报未能按时报送3项，每项扣0.1分，扣0.3分"),
    ]


@pytest.mark.parametrize("monthly_late", [13, 25])
def test_huidong_monthly_reports_are_at_most_twelve(monthly_late: int) -> None:
    """A year has 12 monthly reports: 25 late ones (where the old 0.2 + 1.8 split gave 0.2) is refused."""
    fact = VOCABULARY["asset_report_monthly_late_count"]
    assert (fact.unit, fact.max) == ("count", D(12))
    rs = REGISTRY.get(HUIDONG)
    assert rs is not None
    with pytest.raises(InvalidInput) as exc:
        prepare(rs, VOCABULARY, {"asset_report_monthly_late_count": monthly_late}, {}, {})
    assert [p.pointer for p in exc.value.problems] == ["/facts/asset_report_monthly_late_count"]


# --------------------------------------------------------------------------- 3. parts are not rounded

def test_huidong_petitions_parts_are_added_before_rounding() -> None:
    """"2.当年度所有群众信访意见均有回复,得1分;否则按比例扣分。3.回复意见均在规定时限内的,得1分,否则按比例扣分。"
    40 of 46 answered, 5 of 40 on time: 1 + 40/46 + 5/40 = 1.9946 → 1.99 (not 1 + 0.87 + 0.13 = 2.00)."""
    a = run(HUIDONG, {"petitions_total": 46, "petitions_answered": 40, "petitions_answered_on_time": 5},
            {"3.4.1/channel": {"score": 1}})
    assert leaf_score(a, "3.4.1") == D("1.99")
    shown = node(a, "3.4.1")
    assert shown["points_lost"] == "1.01"
    assert [d["points"] for d in shown["deductions"]] == ["0.13", "0.87"]


def test_docs_say_parts_are_added_unrounded() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert "parts: true" in text
    assert "added unrounded" in text


# --------------------------------------------------------------------------- 4. 资阳 预算调整率

# "预算调整率=（部门在本年度内涉及预算的追加、追减或结构调整的资金总和/预算数）×100%。无调整的计满分，有调整的视情扣分。"
def test_ziyang_no_adjustment_scores_full_marks_by_itself() -> None:
    a = run(ZIYANG, {"budget_adjustment_amount": 0, "budget_adjustment_exempt_amount": 0, "budget_initial": "33525.49"})
    assert leaf_score(a, "2.1.2") == D(4)
    assert "2.1.2" not in a.missing_answers


def test_ziyang_exempt_adjustment_is_no_adjustment() -> None:
    """"（因落实国家政政策、发生不可抗力、上级部门或区委区政府临时交办而产生的调整除外）"."""
    a = run(ZIYANG, {"budget_adjustment_amount": 500, "budget_adjustment_exempt_amount": 500, "budget_initial": 1000})
    assert leaf_score(a, "2.1.2") == D(4)


def test_ziyang_adjustment_waits_for_the_evaluator_who_sees_the_rate() -> None:
    facts = {"budget_adjustment_amount": "21424.24", "budget_adjustment_exempt_amount": 0, "budget_initial": "33525.49"}
    a = run(ZIYANG, facts)
    shown = node(a, "2.1.2")
    assert shown["status"] == PENDING
    assert "2.1.2" in a.missing_answers
    assert shown["values"] == [{"name": "预算调整率", "value": "63.90%"}]
    a = run(ZIYANG, facts, {"2.1.2": {"score": 3, "reason": "预算调整金额比例较大"}})
    assert leaf_score(a, "2.1.2") == D(3)
    assert node(a, "2.1.2")["values"] == [{"name": "预算调整率", "value": "63.90%"}]


def test_ziyang_adjustment_without_its_facts_is_missing_never_zero() -> None:
    a = run(ZIYANG, {"budget_initial": 100}, {"2.1.2": {"score": 4}})
    assert node(a, "2.1.2")["status"] == MISSING_FACTS
    assert {"budget_adjustment_amount", "budget_adjustment_exempt_amount"} <= set(a.missing_facts)


# --------------------------------------------------------------------------- 5. 资阳 支付进度率

# "支付进度率=（实际支付进度/既定支付进度）×100%。支付进度同步的计满分，不同步的视情扣分。"
def test_ziyang_payment_facts_are_named_in_the_vocabulary() -> None:
    assert (VOCABULARY["payment_progress_actual"].name, VOCABULARY["payment_progress_actual"].unit) == ("实际支付进度", "percent")
    assert (VOCABULARY["payment_progress_planned"].name, VOCABULARY["payment_progress_planned"].unit) == ("既定支付进度", "percent")


def test_ziyang_payment_in_step_scores_full_marks() -> None:
    a = run(ZIYANG, {"payment_progress_actual": "100%", "payment_progress_planned": "100%"})
    assert leaf_score(a, "2.1.3") == D(2)
    assert node(a, "2.1.3")["inputs"] == {"payment_progress_actual": "100%", "payment_progress_planned": "100%"}


def test_ziyang_payment_out_of_step_asks_the_evaluator_with_the_rate() -> None:
    facts = {"payment_progress_actual": "72%", "payment_progress_planned": "75%"}
    a = run(ZIYANG, facts)
    shown = node(a, "2.1.3")
    assert shown["status"] == PENDING
    assert shown["values"] == [{"name": "支付进度率", "value": "96.00%"}]
    a = run(ZIYANG, facts, {"2.1.3": {"score": "1.5", "reason": "支付进度滞后于既定进度"}})
    assert leaf_score(a, "2.1.3") == D("1.5")


def test_seed_003_scores_payment_progress_from_its_figures() -> None:
    path = CASES_DIR / "003.yaml"
    out = score_case(load_case(path), path)
    assert out["total"] == "88.5"
    assert out["grade"] == "良"
    n = find(out["indicators"], "2.1.3")
    assert n is not None
    assert (n["score"], n["status"], n["deductions"]) == ("2", "scored", [])


# --------------------------------------------------------------------------- 6. 惠东 项目监管

# "得3分(需提供检查或证明材料证明,否则不得分);如被评价年度部门主管的市属专项资金绩效评价等级有低或差的,本项不得分;
#  评价时发现项目不符合上述条件的,酌情扣分。"
SUPERVISION_OK = {"special_funds_supervision_evidence": True, "special_funds_rated_low": False}


@pytest.mark.parametrize(("facts", "reason"), [
    ({"special_funds_supervision_evidence": False, "special_funds_rated_low": False}, "未提供检查或证明材料证明，本项不得分"),
    ({"special_funds_supervision_evidence": True, "special_funds_rated_low": True},
     "被评价年度部门主管的市属专项资金绩效评价等级有低或差，本项不得分"),
])
def test_huidong_supervision_zeros_are_facts(facts: dict[str, bool], reason: str) -> None:
    a = run(HUIDONG, facts, {"2.2.2": {"score": 3, "reason": "自评满分"}})
    assert leaf_score(a, "2.2.2") == D(0)
    assert node(a, "2.2.2")["deductions"] == [{"points": "3", "reason": reason, "source": "computed"}]


def test_huidong_supervision_otherwise_judged() -> None:
    a = run(HUIDONG, SUPERVISION_OK)
    assert node(a, "2.2.2")["status"] == PENDING
    assert "2.2.2" in a.missing_answers
    a = run(HUIDONG, SUPERVISION_OK, {"2.2.2": {"score": 2, "reason": "部分项目未督促整改"}})
    assert leaf_score(a, "2.2.2") == D(2)


def test_huidong_supervision_without_the_facts_is_missing_never_three() -> None:
    a = run(HUIDONG, {}, {"2.2.2": {"score": 3, "reason": "自评满分"}})
    assert node(a, "2.2.2")["status"] == MISSING_FACTS
    assert leaf_score(a, "2.2.2") is None


# --------------------------------------------------------------------------- 7. 惠东 信息公开

# "(4)涉密部门经批准不需要公开相关信息的,计1分。"
def test_huidong_classified_unit_meets_budget_publication() -> None:
    a = run(HUIDONG, {"classified_unit": True, "has_transfer_payments": True}, {"2.1.7/final": True})
    assert leaf_score(a, "2.1.7") == D(2)
    assert "2.1.7/budget" not in a.missing_answers
    assert any("涉密部门经批准不需要公开相关信息的，计1分" in m for m in node(a, "2.1.7")["messages"])


@pytest.mark.parametrize("facts", [{"classified_unit": False}, {}], ids=["not classified", "not said"])
def test_huidong_unclassified_unit_answers_budget_publication(facts: dict[str, bool]) -> None:
    a = run(HUIDONG, {**facts, "has_transfer_payments": True}, {"2.1.7/final": True})
    assert "2.1.7/budget" in a.missing_answers
    a = run(HUIDONG, {**facts, "has_transfer_payments": True},
            {"2.1.7/final": True, "2.1.7/budget": {"score": "0.5", "reason": "未达到时限要求"}})
    assert leaf_score(a, "2.1.7") == D("1.5")


# --------------------------------------------------------------------------- 8. rates the evaluator scores

JUDGED_RATES = [
    # 资阳 "结转结余率=结转结余总额/支出预算数×100%。结转结余率过大的视情扣分。"
    (ZIYANG, "2.1.4", {"carryover_closing": 50, "budget_adjusted": 1000}, "结转结余率", "5.00%"),
    # "公用经费控制率=（实际支出公用经费总额/预算安排公用经费总额）×100%。控制较好的计满分，控制不好的视情扣分。"
    (ZIYANG, "2.1.5", {"public_expense_actual": "7678.57", "public_expense_budget": 8000}, "公用经费控制率", "95.98%"),
    # "“三公经费”控制率=（“三公经费”实际支出数/“三公经费”预算安排数）×100%。控制较好的计满分，控制不好的视情扣分。"
    (ZIYANG, "2.1.6", {"three_public_actual": "0.4", "three_public_budget": "0.5"}, "“三公经费”控制率", "80.00%"),
    # "政府采购执行率=（实际政府采购金额/政府采购预算数）×100%；执行较好的计满分，执行不好的视情扣分。"
    (ZIYANG, "2.1.7", {"procurement_actual": 90, "procurement_planned": 100}, "政府采购执行率", "90.00%"),
    # "固定资产利用率=（实际在用固定资产总额/所有固定资产总额）×100%。利用较好的计满分，利用不好的视情扣分。"
    (ZIYANG, "2.3.3", {"fixed_assets_in_use": 95, "fixed_assets_total": 100}, "固定资产利用率", "95.00%"),
    # 惠东 "…或者参考群众信访回复的普遍性问题、本部门或授权第三方机构开展的满意度调查等进行合理的评分。"
    (HUIDONG, "3.4.2", {"satisfaction_rate": "96.5%"}, "公众或服务对象满意度", "96.50%"),
]


@pytest.mark.parametrize(("ref", "code", "facts", "label", "value"), JUDGED_RATES,
                         ids=[f"{r.split('@')[0]}-{c}" for r, c, *_ in JUDGED_RATES])
def test_judged_rates_show_the_rate_and_inputs(ref: str, code: str, facts: dict[str, Any], label: str, value: str) -> None:
    a = run(ref, facts)
    shown = node(a, code)
    assert shown["status"] == PENDING  # still the evaluator's to score
    assert shown["values"] == [{"name": label, "value": value}]
    assert set(shown["inputs"]) == set(facts)
    a = run(ref, facts, {code: {"score": "0.5", "reason": "视情扣分"}})
    assert leaf_score(a, code) == D("0.5")
    assert node(a, code)["values"] == [{"name": label, "value": value}]


@pytest.mark.parametrize(("ref", "code"), [(r, c) for r, c, *_ in JUDGED_RATES])
def test_judged_rates_do_not_need_their_facts(ref: str, code: str) -> None:
    a = run(ref, {}, {code: {"score": "0.5", "reason": "视情扣分"}})
    assert leaf_score(a, code) == D("0.5")
    assert node(a, code)["values"] == []


def test_judged_rate_with_zero_denominator_says_so() -> None:
    """003: "三公"经费 0.4 spent against a 年初预算 of 0."""
    a = run(ZIYANG, {"three_public_actual": "0.4", "three_public_budget": 0}, {"2.1.6": {"score": 1, "reason": "超年初预算支出"}})
    shown = node(a, "2.1.6")
    assert shown["score"] == "1"
    assert shown["inputs"] == {"three_public_actual": "0.4", "three_public_budget": "0"}
    assert "“三公经费”控制率的分母为0，无法计算" in shown["messages"]


# --------------------------------------------------------------------------- 9. nothing to count

NOTHING_TO_COUNT = [
    # 惠东 "所有部门预算安排的项目均按计划时间完成的,得3分"
    (HUIDONG, "3.2.3", {"projects_planned": 0, "projects_completed_on_time": 0}, {}, "3", 1),
    # 惠东 "2.当年度所有群众信访意见均有回复,得1分 … 3.回复意见均在规定时限内的,得1分"
    (HUIDONG, "3.4.1", {"petitions_total": 0, "petitions_answered": 0, "petitions_answered_on_time": 0},
     {"3.4.1/channel": {"score": 1}}, "3", 2),
    # 盐田/深圳 "1. 所有部门预算安排的项目均按计划时间完成（6分）"
    (YANTIAN, "3.2.3", {"projects_planned": 0, "projects_completed_on_time": 0}, {}, "6", 1),
    (SHENZHEN, "3.2.3", {"projects_planned": 0, "projects_completed_on_time": 0}, {}, "6", 1),
    # 盐田/深圳 "全部按期保质保量完成得8分；一项重点工作没有完成扣4分"
    (YANTIAN, "3.2.2", {"key_tasks_total": 0, "key_tasks_completed": 0}, {}, "8", 1),
    (SHENZHEN, "3.2.2", {"key_tasks_total": 0, "key_tasks_completed": 0}, {}, "8", 1),
    # 盐田/深圳 "2. 当年度群众信访办理回复率达100%（1分）；3. 当年度群众信访及时办理回复率达100%，未发生超期（1分）"
    (YANTIAN, "3.4.1", {"petitions_total": 0}, {"3.4.1/1": True}, "3", 2),
    (SHENZHEN, "3.4.1", {"petitions_total": 0}, {"3.4.1/1": True}, "3", 2),
]


@pytest.mark.parametrize(("ref", "code", "facts", "answers", "expected", "n_warnings"), NOTHING_TO_COUNT,
                         ids=[f"{r.split('@')[0]}-{c}" for r, c, *_ in NOTHING_TO_COUNT])
def test_nothing_to_count_scores_full_marks_with_a_warning(ref: str, code: str, facts: dict[str, Any],
                                                           answers: dict[str, Any], expected: str, n_warnings: int) -> None:
    a = run(ref, facts, answers)
    assert leaf_score(a, code) == D(expected)
    found = [m for m in warnings_of(a) if m.startswith(f"{code} ")]
    assert len(found) == n_warnings, a.warnings
    assert all("无可计数，视为成立" in m and "按满分" in m for m in found)
    assert code not in a.missing_answers


def test_nothing_to_count_needs_the_fact() -> None:
    """Without petitions_total the 盐田 items are answered as before (the evaluator is asked)."""
    a = run(YANTIAN, {}, {"3.4.1/1": True})
    assert {"3.4.1/2", "3.4.1/3"} <= set(a.missing_answers)
    assert warnings_of(a) == []


def test_something_to_count_is_scored_as_usual() -> None:
    a = run(YANTIAN, {"projects_planned": 20, "projects_completed_on_time": 15, "petitions_total": 3},
            {"3.4.1/1": True})
    assert leaf_score(a, "3.2.3") == D("4.5")
    assert {"3.4.1/2", "3.4.1/3"} <= set(a.missing_answers)
    assert warnings_of(a) == []


def test_a_bare_ratio_with_nothing_to_count_still_asks_the_evaluator() -> None:
    """资阳 "重点工作办结率=（重点工作实际完成数/交办或下达数）×100%。按比例计分。" has no clause about all of them:
    with nothing handed down the ratio has no value and the evaluator decides (docs/rulesets.md)."""
    a = run(ZIYANG, {"key_tasks_total": 0, "key_tasks_completed": 0})
    assert node(a, "3.1.4")["status"] == PENDING
    assert warnings_of(a) == []


def test_seed_004_petitions_need_no_answer() -> None:
    """004: "2021 年全年我中心无信访事项发生"."""
    path = CASES_DIR / "004.yaml"
    out = score_case(load_case(path), path)
    assert out["total"] == "95.32"
    assert [w["code"] for w in out["warnings"]] == ["nothing_to_count", "nothing_to_count"]


def test_docs_record_the_nothing_to_count_decision() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert "### Nothing to count" in text
    assert "nothing_to_count" in text
