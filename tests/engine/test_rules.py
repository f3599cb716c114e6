"""Each rule kind on small hand-built rulesets, and the scoring around it
(not-applicable transfers, adjustments, overrides, missing facts)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from app.engine.errors import InvalidInput, RulesetError
from app.engine.ruleset import Ruleset
from app.engine.scoring import Assessment, to_dict

D = Decimal
Make = Callable[..., Ruleset]
Run = Callable[..., Assessment]
Found = Any  # conftest.Found: an IndicatorResult plus ``shown`` (its to_dict node)
ByCode = Callable[[Assessment, str], Found]


def leaf(rule: str, *, code: str = "1", name: str = "指标", points: str = "10", extra: str = "") -> str:
    """A 一级 node "1" holding one leaf "1.1" whose rule is ``rule`` (YAML flow, or a block indented by 10)."""
    return (
        f'  - code: "{code}"\n'
        f"    name: 一级\n"
        f"    points: {points}\n"
        f"    children:\n"
        f'      - code: "{code}.1"\n'
        f"        name: {name}\n"
        f"        points: {points}\n"
        f"        rule: {rule}\n"
        f"{extra}"
    )


def shown(r: Found) -> dict[str, Any]:
    """The indicator as the API/CLI show it (to_dict's shape): no dependence on Outcome internals."""
    return r.shown


def deductions(r: Found) -> list[tuple[Decimal, str, str]]:
    return [(D(x["points"]), x["reason"], x["source"]) for x in shown(r)["deductions"]]


def values(r: Found) -> list[tuple[str, str]]:
    return [(v["name"], v["value"]) for v in shown(r)["values"]]


def messages(r: Found) -> list[str]:
    return list(shown(r)["messages"])


# --------------------------------------------------------------------------- rate

PROCUREMENT_RATE = (
    "{kind: rate, name: 政府采购执行率, formula: procurement_actual / procurement_planned, cap: 1, "
    "zero_if: [{when: procurement_actual > procurement_planned, reason: 实际采购金额大于采购计划金额，本项得0分}]}"
)
SEED_001_PROCUREMENT = {"procurement_planned": "326.61", "procurement_actual": "318.98"}


def test_rate_truncates_under_rounding_down(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(PROCUREMENT_RATE, points="1"), total="1", mode="down")
    a = run(rs, SEED_001_PROCUREMENT)
    r = by_code(a, "1.1")
    assert r.score == D("0.97")
    assert r.status == "scored"
    assert deductions(r) == [(D("0.03"), "政府采购执行率97.66%，扣0.03分", "computed")]
    assert values(r) == [("政府采购执行率", "97.66%")]
    assert shown(r)["inputs"] == {"procurement_actual": "318.98", "procurement_planned": "326.61"}
    assert a.status == "complete"
    assert a.total == D("0.97")


def test_rate_rounds_half_up_when_asked(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(PROCUREMENT_RATE, points="1"), total="1", mode="half_up")
    r = by_code(run(rs, SEED_001_PROCUREMENT), "1.1")
    assert r.score == D("0.98")
    assert deductions(r)[0][1] == "政府采购执行率97.66%，扣0.02分"


def test_rate_full_and_zero_if(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(PROCUREMENT_RATE, points="2"), total="2")
    full = by_code(run(rs, {"procurement_planned": 100, "procurement_actual": 100}), "1.1")
    assert full.score == D(2)
    assert deductions(full) == []
    over = by_code(run(rs, {"procurement_planned": 100, "procurement_actual": "100.01"}), "1.1")
    assert over.score == D(0)
    assert over.status == "scored"
    assert deductions(over) == [(D(2), "实际采购金额大于采购计划金额，本项得0分", "computed")]


def test_rate_cap(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    capped = make_ruleset(leaf("{kind: rate, formula: revenue_final / revenue_adjusted_budget, cap: 80%}"), total="10")
    r = by_code(run(capped, {"revenue_final": 95, "revenue_adjusted_budget": 100}), "1.1")
    assert r.score == D(8)  # 10 × min(0.95, 0.8)
    r = by_code(run(capped, {"revenue_final": 50, "revenue_adjusted_budget": 100}), "1.1")
    assert r.score == D(5)
    # Default cap is 1: over-performance does not score above the points.
    default = make_ruleset(leaf("{kind: rate, formula: revenue_final / revenue_adjusted_budget}"), total="10")
    a = run(default, {"revenue_final": 150, "revenue_adjusted_budget": 100})
    assert by_code(a, "1.1").score == D(10)
    assert not [w for w in a.warnings if w["code"] == "indicator_capped"]


def test_rate_cap_above_one_is_capped_at_points_with_warning(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf("{kind: rate, formula: revenue_final / revenue_adjusted_budget, cap: 1.2}"), total="10")
    a = run(rs, {"revenue_final": 110, "revenue_adjusted_budget": 100})
    assert by_code(a, "1.1").score == D(10)
    assert [w["code"] for w in a.warnings] == ["indicator_capped"]
    assert "11" in a.warnings[0]["message"]


def test_rate_negative_is_zero(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf("{kind: rate, formula: (revenue_final - revenue_adjusted_budget) / revenue_adjusted_budget}"))
    r = by_code(run(rs, {"revenue_final": 50, "revenue_adjusted_budget": 100}), "1.1")
    assert r.score == D(0)
    assert r.status == "scored"


def test_rate_zero_denominator_needs_judgment(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(PROCUREMENT_RATE, points="1"), total="1")
    facts = {"procurement_planned": 0, "procurement_actual": 0}
    a = run(rs, facts)
    r = by_code(a, "1.1")
    assert r.score is None
    assert r.computed is None
    assert r.status == "judgment_pending"
    assert any("分母为0" in m and "无法计算" in m for m in messages(r))
    assert a.missing_answers == ["1.1"]
    assert a.status == "incomplete"
    assert a.grade is None
    # The evaluator answers it like a judgment.
    answered = run(rs, facts, {"1.1": {"score": "0.6", "reason": "无采购计划，按实际情况判定"}})
    r = by_code(answered, "1.1")
    assert r.score == D("0.6")
    assert r.status == "scored"
    assert deductions(r) == [(D("0.4"), "无采购计划，按实际情况判定", "evaluator")]
    assert answered.status == "complete"
    assert answered.grade is not None


def test_rate_display_number(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf("{kind: rate, name: 比值, formula: revenue_final / revenue_adjusted_budget, display: number}"))
    r = by_code(run(rs, {"revenue_final": 1, "revenue_adjusted_budget": 4}), "1.1")
    assert values(r) == [("比值", "0.25")]
    assert r.score == D("2.5")


# --------------------------------------------------------------------------- bands

CONTROL_BANDS = (
    "{kind: bands, name: 满意度, formula: satisfaction_rate, bands: ["
    "{lt: 5%, score: 1}, {gte: 5%, lte: 10%, score: 0.5}, {gt: 10%, score: 0}]}"
)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("0%", "1"),
        ("4.99%", "1"),
        ("5%", "0.5"),  # gte: inclusive
        ("7.5%", "0.5"),
        ("10%", "0.5"),  # lte: inclusive
        ("10.01%", "0"),  # gt: exclusive of 10%
        ("100%", "0"),
    ],
)
def test_bands_boundaries(make_ruleset: Make, run: Run, by_code: ByCode, rate: str, expected: str) -> None:
    rs = make_ruleset(leaf(CONTROL_BANDS, points="1"), total="1")
    r = by_code(run(rs, {"satisfaction_rate": rate}), "1.1")
    assert r.status == "scored"
    assert r.score == D(expected)


def test_bands_exclusive_bounds(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rule = "{kind: bands, formula: satisfaction_rate, bands: [{gt: 90%, score: 3}, {gt: 80%, lte: 90%, score: 2}, {lte: 80%, score: 0}]}"
    rs = make_ruleset(leaf(rule, points="3"), total="3")
    assert by_code(run(rs, {"satisfaction_rate": "90%"}), "1.1").score == D(2)
    assert by_code(run(rs, {"satisfaction_rate": "90.0001%"}), "1.1").score == D(3)
    assert by_code(run(rs, {"satisfaction_rate": "80%"}), "1.1").score == D(0)


def test_bands_deduction_text(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(CONTROL_BANDS, points="1"), total="1")
    r = by_code(run(rs, {"satisfaction_rate": "7.5%"}), "1.1")
    assert deductions(r) == [(D("0.5"), "满意度7.50%（≥5.00%且≤10.00%），得0.5分，扣0.5分", "computed")]


# Below 60% no band holds the value: the file says so (allow_gaps) and the evaluator judges it.
JUDGMENT_BANDS = (
    "{kind: bands, name: 满意度, formula: satisfaction_rate, allow_gaps: true, bands: ["
    "{gte: 90%, score: 5}, {gte: 60%, lt: 90%, score: 3, judgment: true}]}"
)


def test_bands_judgment_band(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(JUDGMENT_BANDS, points="5"), total="5")
    facts = {"satisfaction_rate": "75%"}
    pending = run(rs, facts)
    r = by_code(pending, "1.1")
    assert r.status == "judgment_pending"
    assert r.score is None
    assert pending.missing_answers == ["1.1"]
    assert any("评价人视情评分" in m for m in messages(r))
    # Within the band's upper bound: adopted.
    r = by_code(run(rs, facts, {"1.1": {"score": 2.5, "reason": "部分群众不满意"}}), "1.1")
    assert r.status == "scored"
    assert r.score == D("2.5")
    # Above the band's bound (3) though within the points (5): still pending, with a message.
    over = by_code(run(rs, facts, {"1.1": {"score": 4, "reason": "r"}}), "1.1")
    assert over.status == "judgment_pending"
    assert over.score is None
    assert any("超过该档上限3分" in m for m in messages(over))
    # Outside the judgment band the answer is not needed.
    assert by_code(run(rs, {"satisfaction_rate": "95%"}), "1.1").score == D(5)


def test_bands_value_in_no_band_needs_judgment(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(JUDGMENT_BANDS, points="5"), total="5")
    r = by_code(run(rs, {"satisfaction_rate": "50%"}), "1.1")
    assert r.status == "judgment_pending"
    assert any("不在任何评分档内" in m for m in messages(r))


@pytest.mark.parametrize(("bands", "gap"), [
    ("{gte: 90%, score: 5}, {gte: 60%, lt: 90%, score: 3}", "values below 60.00%"),
    ("{gt: 90%, score: 5}, {lt: 90%, score: 3}", "values ≥90.00% and ≤90.00%"),
    ("{gte: 90%, score: 5}, {lt: 80%, score: 3}", "values ≥80.00% and <90.00%"),
    ("{lte: 90%, score: 5}", "values above 90.00%"),
    ("{lt: 90%, score: 5}", "values from 90.00% up"),
])
def test_bands_leaving_a_gap_are_refused_unless_the_file_allows_it(make_ruleset: Make, bands: str, gap: str) -> None:
    rule = f"{{kind: bands, formula: satisfaction_rate, bands: [{bands}]}}"
    with pytest.raises(RulesetError) as exc:
        make_ruleset(leaf(rule, points="5"), total="5")
    [problem] = exc.value.problems
    assert problem.pointer == "/indicators/0/children/0/rule/bands"
    assert f"indicator 1.1: the bands leave {gap} without a band" in problem.message
    assert problem.message.startswith("line 21, ")
    allowed = make_ruleset(leaf(rule.replace("bands: [", "allow_gaps: true, bands: ["), points="5"), total="5")
    assert allowed.by_code["1.1"].rule is not None


def test_bands_zero_denominator_needs_judgment(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rule = "{kind: bands, formula: fixed_assets_in_use / fixed_assets_total, bands: [{gte: 90%, score: 1}, {lt: 90%, score: 0}]}"
    rs = make_ruleset(leaf(rule, points="1"), total="1")
    r = by_code(run(rs, {"fixed_assets_in_use": 0, "fixed_assets_total": 0}), "1.1")
    assert r.status == "judgment_pending"


# --------------------------------------------------------------------------- deduction

TASKS = "{kind: deduction, per: 4, count: key_tasks_total - key_tasks_completed, finding: 重点工作未完成}"


@pytest.mark.parametrize(
    ("total", "done", "expected"),
    [(3, 3, "8"), (3, 2, "4"), (3, 1, "0"), (5, 0, "0"), (1, 2, "8")],
)
def test_deduction_count_formula(make_ruleset: Make, run: Run, by_code: ByCode, total: int, done: int, expected: str) -> None:
    rs = make_ruleset(leaf(TASKS, points="8"), total="8")
    r = by_code(run(rs, {"key_tasks_total": total, "key_tasks_completed": done}), "1.1")
    assert r.status == "scored"
    assert r.score == D(expected)
    lost = sum((d[0] for d in deductions(r)), D(0))
    assert lost == D(8) - D(expected)


def test_deduction_reason_text(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(TASKS, points="8"), total="8")
    r = by_code(run(rs, {"key_tasks_total": 3, "key_tasks_completed": 2}), "1.1")
    assert deductions(r) == [(D(4), "重点工作未完成1项，每项扣4分，扣4分", "computed")]


FINDINGS = "{kind: deduction, per: 1, finding: 预算编制不符合要求}"


def test_deduction_findings_answer(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(FINDINGS, points="5"), total="5")
    none = by_code(run(rs, {}, {"1.1": {"findings": []}}), "1.1")
    assert none.score == D(5)
    assert none.status == "scored"
    assert deductions(none) == []
    two = by_code(run(rs, {}, {"1.1": {"findings": ["未做事前评估", "项目库未更新"]}}), "1.1")
    assert two.score == D(3)
    assert deductions(two) == [
        (D(1), "未做事前评估，扣1分", "evaluator"),
        (D(1), "项目库未更新，扣1分", "evaluator"),
    ]
    many = by_code(run(rs, {}, {"1.1": {"findings": [f"问题{i}" for i in range(7)]}}), "1.1")
    assert many.score == D(0)  # until zero, never below
    assert sum((d[0] for d in deductions(many)), D(0)) == D(5)


def test_deduction_findings_missing_is_pending(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(FINDINGS, points="5"), total="5")
    a = run(rs)
    r = by_code(a, "1.1")
    assert r.status == "judgment_pending"
    assert r.score is None
    assert a.missing_answers == ["1.1"]
    assert a.status == "incomplete"
    assert a.grade is None


def test_deduction_findings_must_be_a_list_of_text(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset(leaf(FINDINGS, points="5"), total="5")
    with pytest.raises(InvalidInput) as exc:
        run(rs, {}, {"1.1": {"findings": "问题"}})
    assert [p.pointer for p in exc.value.problems] == ["/answers/1.1/findings"]


# --------------------------------------------------------------------------- step_deduction


def step_rule(steps: str) -> str:
    return (
        "{kind: step_deduction, name: 预算调整率, formula: budget_adjustment_amount / budget_initial, "
        f"threshold: 10%, step: 1%, per: 0.1, steps: {steps}}}"
    )


@pytest.mark.parametrize(
    ("steps", "amount", "expected"),
    [
        ("exact", "12.5", "0.75"),
        ("floor", "12.5", "0.8"),
        ("ceil", "12.5", "0.7"),
        ("exact", "10", "1"),  # at the threshold: nothing off
        ("floor", "10.99", "1"),  # less than one whole step
        ("ceil", "10.01", "0.9"),  # one started step
        ("exact", "2.88", "1"),
        ("exact", "25", "0"),  # 15 steps would be 1.5 off: capped at the points
        ("floor", "40", "0"),
        ("ceil", "19.5", "0"),
    ],
)
def test_step_deduction(make_ruleset: Make, run: Run, by_code: ByCode, steps: str, amount: str, expected: str) -> None:
    rs = make_ruleset(leaf(step_rule(steps), points="1"), total="1")
    r = by_code(run(rs, {"budget_adjustment_amount": amount, "budget_initial": 100}), "1.1")
    assert r.status == "scored"
    assert r.score == D(expected)


def test_step_deduction_reason(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(step_rule("exact"), points="1"), total="1")
    r = by_code(run(rs, {"budget_adjustment_amount": "12.5", "budget_initial": 100}), "1.1")
    assert deductions(r) == [(D("0.25"), "预算调整率12.50%，超过10.00%，每1.00%扣0.1分，扣0.25分", "computed")]


def test_step_deduction_score_is_truncated_under_rounding_down(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(step_rule("exact"), points="1"), total="1", mode="down")
    r = by_code(run(rs, {"budget_adjustment_amount": "12.555", "budget_initial": 100}), "1.1")
    assert r.score == D("0.74")


def test_step_deduction_zero_denominator_needs_judgment(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(step_rule("exact"), points="1"), total="1")
    r = by_code(run(rs, {"budget_adjustment_amount": 5, "budget_initial": 0}), "1.1")
    assert r.status == "judgment_pending"


def test_step_deduction_rejects_bad_spec(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="'steps' must be exact, floor or ceil"):
        make_ruleset(leaf(step_rule("round"), points="1"), total="1")
    with pytest.raises(RulesetError, match="'step' must be positive"):
        make_ruleset(leaf(step_rule("exact").replace("step: 1%", "step: 0"), points="1"), total="1")


# --------------------------------------------------------------------------- quarterly

QUARTERLY = (
    "{kind: quarterly, progress: [budget_progress_q1, budget_progress_q2, budget_progress_q3, budget_progress_q4], "
    "targets: [25%, 50%, 75%, 100%], quarter_points: [1, 1, 1, 1], average_points: 2, cap: 1}"
)
SEED_004_PROGRESS = {
    "budget_progress_q1": "15.09%",
    "budget_progress_q2": "31.75%",
    "budget_progress_q3": "50.92%",
    "budget_progress_q4": "97.71%",
}


def test_quarterly_004_numbers(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(QUARTERLY, points="6"), total="6", mode="down")
    r = by_code(run(rs, SEED_004_PROGRESS), "1.1")
    # 1×(0.6036 + 0.635 + 0.678933 + 0.9771) + 2×0.723658 = 4.3419 → 4.34
    assert r.score == D("4.34")
    assert values(r) == [
        ("一季度预算执行率", "60.36%"),
        ("二季度预算执行率", "63.50%"),
        ("三季度预算执行率", "67.89%"),
        ("四季度预算执行率", "97.71%"),
        ("全年平均执行率", "72.37%"),
    ]
    assert deductions(r)[0][0] == D("1.66")


def test_quarterly_caps_each_quarter(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    # 001's quarters run 118.44% / 107.81% / 106.31% / 99.31% of 序时进度: with cap 1 on every
    # quarter, 1 + 1 + 1 + 0.9931 + 2 × 1 = 5.9931 → 5.99 (not 6).
    rs = make_ruleset(leaf(QUARTERLY, points="6"), total="6", mode="down")
    facts = {
        "budget_progress_q1": "29.61%",
        "budget_progress_q2": "53.91%",
        "budget_progress_q3": "79.74%",
        "budget_progress_q4": "99.31%",
    }
    assert by_code(run(rs, facts), "1.1").score == D("5.99")


def test_quarterly_average_only(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rule = QUARTERLY.replace("quarter_points: [1, 1, 1, 1], average_points: 2", "quarter_points: [0, 0, 0, 0], average_points: 6")
    rs = make_ruleset(leaf(rule, points="6"), total="6", mode="down")
    # 6 × 0.72365833 = 4.34195 → 4.34
    assert by_code(run(rs, SEED_004_PROGRESS), "1.1").score == D("4.34")


def test_quarterly_missing_quarter(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(QUARTERLY, points="6"), total="6")
    facts = dict(SEED_004_PROGRESS)
    del facts["budget_progress_q3"]
    a = run(rs, facts)
    r = by_code(a, "1.1")
    assert r.status == "missing_facts"
    assert r.score is None
    assert a.missing_facts == ["budget_progress_q3"]


def test_quarterly_points_must_add_up(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="quarter_points and average_points add up to 6"):
        make_ruleset(leaf(QUARTERLY, points="5"), total="5")


# --------------------------------------------------------------------------- cohort_relative

COHORT = (
    "{kind: cohort_relative, name: 固定资产利用率, formula: fixed_assets_in_use / fixed_assets_total, "
    "mean: fixed_asset_utilization_cohort_mean, at_or_above: 2, below: 0.5}"
)


@pytest.mark.parametrize(("in_use", "mean", "expected"), [(90, "85%", "2"), (85, "85%", "2"), (84, "85%", "0.5")])
def test_cohort_relative(make_ruleset: Make, run: Run, by_code: ByCode, in_use: int, mean: str, expected: str) -> None:
    rs = make_ruleset(leaf(COHORT, points="2"), total="2")
    facts = {"fixed_assets_in_use": in_use, "fixed_assets_total": 100, "fixed_asset_utilization_cohort_mean": mean}
    r = by_code(run(rs, facts), "1.1")
    assert r.status == "scored"
    assert r.score == D(expected)
    if expected != "2":
        assert deductions(r) == [(D("1.5"), "固定资产利用率84.00%，低于同类单位均值85.00%，扣1.5分", "computed")]


def test_cohort_relative_missing_mean(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(COHORT, points="2"), total="2")
    a = run(rs, {"fixed_assets_in_use": 90, "fixed_assets_total": 100})
    assert by_code(a, "1.1").status == "missing_facts"
    assert a.missing_facts == ["fixed_asset_utilization_cohort_mean"]


def test_cohort_relative_scores_within_points(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="at_or_above 3 is outside"):
        make_ruleset(leaf(COHORT.replace("at_or_above: 2", "at_or_above: 3"), points="2"), total="2")


# --------------------------------------------------------------------------- composite

COMPOSITE = """
          kind: composite
          parts:
            - key: rate
              name: 政府采购执行率
              points: 1
              rule: {kind: rate, name: 政府采购执行率, formula: procurement_actual / procurement_planned}
            - key: policy
              name: 政策功能
              points: 1
              rule: {kind: judgment}
          zero_if:
            - when: financial_violation
              reason: 发生违规支出，本项指标得0分"""


def test_composite_sums_parts(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(COMPOSITE, points="2"), total="2")
    facts = {**SEED_001_PROCUREMENT, "financial_violation": False}
    a = run(rs, facts, {"1.1/policy": {"score": "0.5", "reason": "落实不到位"}})
    r = by_code(a, "1.1")
    assert r.status == "scored"
    # 1 × 97.6638% + 0.5 = 1.476638 → 1.47: the part is added unrounded, the sum is rounded once;
    # the part's deduction is shown as the ruleset rounds (0.976638 → 0.97: 0.03 off).
    assert r.score == D("1.47")
    assert deductions(r) == [
        (D("0.03"), "政府采购执行率：政府采购执行率97.66%，扣0.03分", "computed"),
        (D("0.5"), "政策功能：落实不到位", "evaluator"),
    ]


def test_composite_zero_if_zeroes_whole_indicator(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(COMPOSITE, points="2"), total="2")
    facts = {**SEED_001_PROCUREMENT, "financial_violation": True}
    a = run(rs, facts, {"1.1/policy": {"score": 1}})
    r = by_code(a, "1.1")
    assert r.status == "scored"
    assert r.score == D(0)
    assert deductions(r) == [(D(2), "发生违规支出，本项指标得0分", "computed")]
    assert a.status == "complete"


def test_composite_pending_part(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(COMPOSITE, points="2"), total="2")
    a = run(rs, {**SEED_001_PROCUREMENT, "financial_violation": False})
    r = by_code(a, "1.1")
    assert r.status == "judgment_pending"
    assert r.score is None
    assert a.missing_answers == ["1.1/policy"]


def test_composite_missing_zero_if_fact(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(COMPOSITE, points="2"), total="2")
    a = run(rs, SEED_001_PROCUREMENT, {"1.1/policy": {"score": 1}})
    r = by_code(a, "1.1")
    assert r.status == "missing_facts"
    assert r.score is None
    assert a.missing_facts == ["financial_violation"]


def test_composite_parts_must_add_up(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="parts add up to 2 points, the rule has 3"):
        make_ruleset(leaf(COMPOSITE, points="3"), total="3")


# --------------------------------------------------------------------------- checklist

CHECKLIST = """
          kind: checklist
          items:
            - {key: "1", text: 制度健全, points: 1}
            - {key: "2", text: 执行有效, points: 1.5}
            - {key: "3", text: 涉密单位按规定不公开, points: 0.5, fact: classified_unit}"""


def test_checklist_true_false_partial(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(CHECKLIST, points="3"), total="3")
    all_met = by_code(run(rs, {"classified_unit": True}, {"1.1/1": True, "1.1/2": True}), "1.1")
    assert all_met.score == D(3)
    assert all_met.status == "scored"
    a = run(rs, {"classified_unit": False}, {"1.1/1": False, "1.1/2": {"score": "0.5", "reason": "部分制度未执行"}})
    r = by_code(a, "1.1")
    assert r.score == D("0.5")
    assert deductions(r) == [
        (D(1), "制度健全：未达到", "evaluator"),
        (D(1), "执行有效：部分制度未执行", "evaluator"),
        (D("0.5"), "涉密单位按规定不公开：未达到", "computed"),
    ]
    assert shown(r)["inputs"] == {"classified_unit": False}
    # {met: false, reason} carries the reason into the deduction.
    r = by_code(run(rs, {"classified_unit": True}, {"1.1/1": {"met": False, "reason": "缺内控制度"}, "1.1/2": True}), "1.1")
    assert r.score == D(2)
    assert deductions(r) == [(D(1), "制度健全：缺内控制度", "evaluator")]


def test_checklist_missing_items_pending(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(CHECKLIST, points="3"), total="3")
    a = run(rs, {"classified_unit": True}, {"1.1/1": True})
    r = by_code(a, "1.1")
    assert r.status == "judgment_pending"
    assert r.score is None
    assert a.missing_answers == ["1.1/2"]


def test_checklist_missing_fact(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(CHECKLIST, points="3"), total="3")
    a = run(rs, {}, {"1.1/1": True, "1.1/2": True})
    assert by_code(a, "1.1").status == "missing_facts"
    assert a.missing_facts == ["classified_unit"]


def test_checklist_partial_score_above_item_points_is_refused(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset(leaf(CHECKLIST, points="3"), total="3")
    with pytest.raises(InvalidInput) as exc:
        run(rs, {"classified_unit": True}, {"1.1/1": {"score": 1.5, "reason": "r"}, "1.1/2": True})
    assert [p.pointer for p in exc.value.problems] == ["/answers/1.1~11/score"]


def test_checklist_answer_shapes(make_ruleset: Make) -> None:
    rs = make_ruleset(leaf(CHECKLIST, points="3"), total="3")
    assert rs.answer_shapes == {"1.1/1": ("item", D(1)), "1.1/2": ("item", D("1.5"))}


def test_checklist_items_must_add_up(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="items add up to 3 points, the rule has 4"):
        make_ruleset(leaf(CHECKLIST, points="4"), total="4")


# --------------------------------------------------------------------------- judgment


def test_judgment(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf("{kind: judgment}", points="25"), total="25")
    a = run(rs, {}, {"1.1": {"score": 22, "reason": "仍有提升空间"}})
    r = by_code(a, "1.1")
    assert r.score == D(22)
    assert deductions(r) == [(D(3), "仍有提升空间", "evaluator")]
    full = by_code(run(rs, {}, {"1.1": 25}), "1.1")  # a bare number is a score
    assert full.score == D(25)
    assert deductions(full) == []
    pending = run(rs)
    assert by_code(pending, "1.1").status == "judgment_pending"
    assert pending.missing_answers == ["1.1"]


# --------------------------------------------------------------------------- not applicable

NA_TREE = """\
  - code: "1"
    name: 一级
    points: 10
    children:
      - code: "1.1"
        name: 预决算信息公开
        points: 4
        rule: {kind: judgment}
      - code: "1.2"
        name: 资金下达合法性
        points: 6
        rule: {kind: judgment}
        not_applicable:
          when: "not has_transfer_payments"
          transfer_to: "1.1"
"""


def test_not_applicable_transfers_points(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(NA_TREE)
    a = run(rs, {"has_transfer_payments": False}, {"1.1": {"score": 3, "reason": "公开不及时"}})
    na = by_code(a, "1.2")
    assert na.status == "not_applicable"
    assert na.points == D(0)
    assert na.score == D(0)
    assert na.note is not None
    assert "6分调整至1.1" in na.note
    target = by_code(a, "1.1")
    assert target.points == D(10)  # 4 + 6 transferred
    assert target.score == D("7.5")  # 3 of 4, scaled to 10
    assert target.note is not None
    assert "承接不适用指标1.2的6分" in target.note
    assert a.status == "complete"
    assert a.total == D("7.5")
    assert a.grade == "差"
    d = to_dict(a)
    assert d["indicators"][0]["points_available"] == "10"
    assert d["indicators"][0]["children"][0]["points_available"] == "10"


def test_not_applicable_condition_false_scores_normally(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(NA_TREE)
    a = run(rs, {"has_transfer_payments": True}, {"1.1": {"score": 3, "reason": "r"}, "1.2": 6})
    assert by_code(a, "1.1").points == D(4)
    assert by_code(a, "1.1").score == D(3)
    assert by_code(a, "1.2").status == "scored"
    assert by_code(a, "1.2").score == D(6)
    assert a.total == D(9)


def test_not_applicable_condition_fact_missing(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(NA_TREE)
    a = run(rs, {}, {"1.1": 4})
    r = by_code(a, "1.2")
    assert r.status == "missing_facts"
    assert r.score is None
    assert a.missing_facts == ["has_transfer_payments"]
    assert a.status == "incomplete"
    assert a.grade is None
    # The evaluator may settle it: not_applicable: false means "applicable, score it".
    b = run(rs, {}, {"1.1": 4, "1.2": {"score": 6, "not_applicable": False}})
    assert by_code(b, "1.2").status == "scored"
    assert b.status == "complete"
    # Or declare it not applicable.
    c = run(rs, {}, {"1.1": 4, "1.2": {"not_applicable": True, "reason": "本部门无转移支付"}})
    assert by_code(c, "1.2").status == "not_applicable"
    assert by_code(c, "1.1").points == D(10)
    assert by_code(c, "1.1").score == D(10)
    assert c.total == D(10)
    assert c.status == "complete"


def test_not_applicable_condition_fact_missing_plain_answer(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(NA_TREE)
    a = run(rs, {}, {"1.1": 4, "1.2": 6})
    assert by_code(a, "1.2").status == "missing_facts"
    assert a.missing_facts == ["has_transfer_payments"]


def test_not_applicable_transfer_to_unknown_code_is_refused(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="transfer_to '9.9' is not a leaf indicator"):
        make_ruleset(NA_TREE.replace('transfer_to: "1.1"', 'transfer_to: "9.9"'))


# --------------------------------------------------------------------------- adjustments

ADJUSTMENTS = """\
adjustments:
  - {code: "+1", name: 工作表现加分, kind: bonus, per: 1, max: 3}
  - {code: "-1", name: 工作表现减分, kind: penalty, per: 2, max: 6}
"""
ONE_JUDGMENT = leaf("{kind: judgment}", points="10")


def test_adjustments_bonus_cap_and_total_clamp(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset(ONE_JUDGMENT, extra=ADJUSTMENTS)
    a = run(rs, {}, {"1.1": {"score": 9, "reason": "r"}, "+1": {"events": ["表彰一", "表彰二", "表彰三", "表彰四"]}})
    codes = [w["code"] for w in a.warnings]
    assert "adjustment_capped" in codes
    assert a.adjustments_total == D(3)
    assert a.base_total == D(9)
    assert a.total == D(10)  # 12 clamped to the bounds' max
    clamped = [w for w in a.warnings if w["code"] == "total_clamped"]
    assert len(clamped) == 1
    assert "12" in clamped[0]["message"]
    assert "上限" in clamped[0]["message"]
    bonus = a.adjustments[0]
    assert (bonus.count, bonus.points, bonus.reasons) == (4, D(3), ["表彰一", "表彰二", "表彰三", "表彰四"])


def test_adjustments_no_clamp_when_within_bounds(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset(ONE_JUDGMENT, extra=ADJUSTMENTS)
    a = run(rs, {}, {"1.1": {"score": 5, "reason": "r"}, "+1": {"count": 2, "reason": "两次表彰"}, "-1": {"events": ["被问责"]}})
    assert a.total == D(5)  # 5 + 2 - 2
    assert a.adjustments_total == D(0)
    assert [x.points for x in a.adjustments] == [D(2), D(-2)]
    assert not [w for w in a.warnings if w["code"] in {"total_clamped", "adjustment_capped"}]


def test_adjustments_penalty_clamped_at_min(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset(ONE_JUDGMENT, extra=ADJUSTMENTS)
    a = run(rs, {}, {"1.1": {"score": 2, "reason": "r"}, "-1": {"count": 3}})
    assert a.total == D(0)
    clamped = [w for w in a.warnings if w["code"] == "total_clamped"]
    assert len(clamped) == 1
    assert "-4" in clamped[0]["message"]
    assert "下限" in clamped[0]["message"]


def test_adjustment_count_must_be_whole(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset(ONE_JUDGMENT, extra=ADJUSTMENTS)
    with pytest.raises(InvalidInput) as exc:
        run(rs, {}, {"1.1": 10, "+1": {"count": D("1.5")}})
    assert [p.pointer for p in exc.value.problems] == ["/answers/+1/count"]


# --------------------------------------------------------------------------- overrides


def test_override_keeps_computed_and_adopted(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(PROCUREMENT_RATE, points="1"), total="1")
    a = run(rs, SEED_001_PROCUREMENT, overrides={"1.1": {"score": 1, "reason": "采购计划中途调减，按实际计划计"}})
    r = by_code(a, "1.1")
    assert r.status == "overridden"
    assert r.score == D(1)
    assert r.computed == D("0.97")
    assert a.total == D(1)
    assert a.status == "complete"
    d = to_dict(a)["indicators"][0]["children"][0]
    assert d["status"] == "overridden"
    assert d["score"] == "1"
    assert d["computed_score"] == "0.97"
    assert d["override"] == {"score": "1", "reason": "采购计划中途调减，按实际计划计"}
    assert d["deductions"] == []
    assert d["computed_deductions"] == [{"points": "0.03", "reason": "政府采购执行率97.66%，扣0.03分", "source": "computed"}]


def test_override_below_points_is_a_deduction(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset(leaf(PROCUREMENT_RATE, points="1"), total="1")
    a = run(rs, SEED_001_PROCUREMENT, overrides={"1.1": {"score": "0.5", "reason": "采购程序不规范"}})
    d = to_dict(a)["indicators"][0]["children"][0]
    assert d["deductions"] == [{"points": "0.5", "reason": "采购程序不规范", "source": "override"}]


def test_override_completes_missing_facts(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(PROCUREMENT_RATE, points="1"), total="1")
    a = run(rs, {}, overrides={"1.1": {"score": "0.9", "reason": "报告未给出采购金额，采用评分表得分"}})
    r = by_code(a, "1.1")
    assert r.status == "overridden"
    assert r.score == D("0.9")
    assert r.computed is None
    assert a.status == "complete"
    assert a.missing_facts == []
    assert to_dict(a)["indicators"][0]["children"][0]["computed_score"] is None


def test_override_of_non_leaf_is_refused(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset(leaf(PROCUREMENT_RATE, points="1"), total="1")
    with pytest.raises(InvalidInput) as exc:
        run(rs, SEED_001_PROCUREMENT, overrides={"1": {"score": 1, "reason": "r"}, "9": {"score": 1, "reason": "r"}})
    assert [p.pointer for p in exc.value.problems] == ["/overrides/1", "/overrides/9"]


def test_override_cannot_exceed_points_available(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(NA_TREE)
    # 1.2 applies: nothing moves to 1.1, whose 4 points are all an override may give.
    with pytest.raises(InvalidInput) as exc:
        run(rs, {"has_transfer_payments": True}, {"1.2": 6}, {"1.1": {"score": 10, "reason": "r"}})
    assert [p.pointer for p in exc.value.problems] == ["/overrides/1.1/score"]
    assert "outside [0, 4]" in exc.value.problems[0].message
    # 1.2 is not applicable: its 6 points moved to 1.1, so 10 is within reach.
    a = run(rs, {"has_transfer_payments": False}, {}, {"1.1": {"score": 10, "reason": "r"}})
    r = by_code(a, "1.1")
    assert r.status == "overridden"
    assert r.score == D(10)
    assert r.points == D(10)
    assert a.status == "complete"


def test_override_of_not_applicable_leaf_is_refused(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset(NA_TREE)
    with pytest.raises(InvalidInput) as exc:
        run(rs, {"has_transfer_payments": False}, {"1.1": 4}, {"1.2": {"score": 5, "reason": "r"}})
    assert [p.pointer for p in exc.value.problems] == ["/overrides/1.2"]
    assert "cannot be overridden" in exc.value.problems[0].message


def test_top_level_leaf_override_is_complete(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset('  - {code: "1", name: 唯一指标, points: 10, rule: {kind: judgment}}\n')
    answered = run(rs, {}, {"1": 10})
    assert answered.status == "complete"
    assert answered.grade == "优"
    a = run(rs, {}, overrides={"1": {"score": 9, "reason": "r"}})
    assert a.status == "complete"
    assert a.grade == "优"


# --------------------------------------------------------------------------- missing facts, never a silent 0


def test_missing_facts_are_listed_never_zero(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    tree = """\
  - code: "1"
    name: 一级
    points: 10
    children:
      - code: "1.1"
        name: 采购
        points: 2
        rule: {kind: rate, formula: procurement_actual / procurement_planned}
      - code: "1.2"
        name: 满意度
        points: 4
        rule: {kind: bands, formula: satisfaction_rate, bands: [{gte: 90%, score: 4}, {lt: 90%, score: 0}]}
      - code: "1.3"
        name: 效益
        points: 4
        rule: {kind: judgment}
"""
    rs = make_ruleset(tree)
    a = run(rs, {"procurement_planned": 100}, {"1.3": 4})
    r11, r12 = by_code(a, "1.1"), by_code(a, "1.2")
    assert r11.status == "missing_facts"
    assert r11.score is None
    assert r11.computed is None
    assert shown(r11)["missing_facts"] == ["procurement_actual"]
    assert r12.status == "missing_facts"
    assert r12.score is None
    assert a.missing_facts == ["procurement_actual", "satisfaction_rate"]
    assert a.status == "incomplete"
    assert a.grade is None
    assert a.total == D(4)  # the sum of what could be scored
    assert by_code(a, "1").status == "missing_facts"
    d = to_dict(a)
    assert d["status"] == "incomplete"
    assert d["grade"] is None
    assert d["indicators"][0]["children"][0]["score"] is None
    assert d["indicators"][0]["children"][0]["points_lost"] is None
    assert [w["code"] for w in d["warnings"]] == ["incomplete"]
    # An explicit null is "not known", the same as leaving the fact out.
    b = run(rs, {"procurement_planned": 100, "procurement_actual": None, "satisfaction_rate": None}, {"1.3": 4})
    assert b.missing_facts == a.missing_facts


# --------------------------------------------------------------------------- evaluation never raises


def test_zero_division_in_zero_if_does_not_raise(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rule = (
        "{kind: rate, formula: procurement_actual / procurement_planned, "
        "zero_if: [{when: procurement_actual / procurement_planned > 1, reason: 超计划}]}"
    )
    rs = make_ruleset(leaf(rule, points="1"), total="1")
    a = run(rs, {"procurement_actual": 0, "procurement_planned": 0})
    assert by_code(a, "1.1").status == "judgment_pending"
    assert by_code(a, "1.1").score is None
    assert a.status == "incomplete"
    # Inside a composite's zero_if too.
    composite = (
        "{kind: composite, parts: [{key: j, name: 判定, points: 1, rule: {kind: judgment}}], "
        "zero_if: [{when: procurement_actual / procurement_planned > 1, reason: 超计划}]}"
    )
    rs2 = make_ruleset(leaf(composite, points="1"), total="1")
    b = run(rs2, {"procurement_actual": 0, "procurement_planned": 0}, {"1.1/j": 1})
    assert by_code(b, "1.1").status == "judgment_pending"
    assert by_code(b, "1.1").score is None


def test_zero_division_in_deduction_count_does_not_raise(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rule = "{kind: deduction, per: 1, count: (key_tasks_total - key_tasks_completed) / key_tasks_total * 10}"
    rs = make_ruleset(leaf(rule, points="5"), total="5")
    a = run(rs, {"key_tasks_total": 0, "key_tasks_completed": 0})
    r = by_code(a, "1.1")
    assert r.status == "judgment_pending"
    assert r.score is None
    assert a.status == "incomplete"
    assert a.grade is None


def test_answer_for_unknown_address_is_a_warning(make_ruleset: Make, run: Run) -> None:
    rs = make_ruleset(ONE_JUDGMENT)
    a = run(rs, {}, {"1.1": 10, "9.9.9": {"score": 1}})
    assert a.status == "complete"
    ignored = [w for w in a.warnings if w["code"] == "answer_ignored"]
    assert len(ignored) == 1
    assert "9.9.9" in ignored[0]["message"]


def test_rule_points_must_match_indicator(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="rule points 5 differ from the indicator's 10"):
        make_ruleset(leaf("{kind: judgment, points: 5}"))


def test_unknown_rule_kind(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="unknown rule kind 'magic'"):
        make_ruleset(leaf("{kind: magic}"))


# --------------------------------------------------------------------------- composite rounding

PETITIONS = """
          kind: composite
          parts:
            - key: channel
              name: 渠道
              points: 1
              rule: {kind: judgment}
            - key: answered
              name: 回复率
              points: 1
              rule: {kind: rate, name: 回复率, formula: petitions_answered / petitions_total}
            - key: on_time
              name: 按时回复率
              points: 1
              rule: {kind: rate, name: 按时回复率, formula: petitions_answered_on_time / petitions_answered}"""
PETITION_FACTS = {"petitions_total": 46, "petitions_answered": 40, "petitions_answered_on_time": 5}


def test_composite_parts_are_added_unrounded(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    # 1 + 40/46 + 5/40 = 1.9946 → 1.99 (rounding each part first: 1 + 0.87 + 0.13 = 2.00)
    rs = make_ruleset(leaf(PETITIONS, points="3"), total="3", mode="half_up")
    r = by_code(run(rs, PETITION_FACTS, {"1.1/channel": 1}), "1.1")
    assert r.score == D("1.99")
    # Each part's deduction is shown as the ruleset rounds; the exact parts add up to 1.9946.
    assert [p for p, _, _ in deductions(r)] == [D("0.13"), D("0.87")]


def test_composite_parts_rounded_when_the_ruleset_says_so(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(PETITIONS, points="3"), total="3", mode="half_up, parts: true")
    assert rs.round_parts is True
    r = by_code(run(rs, PETITION_FACTS, {"1.1/channel": 1}), "1.1")
    assert r.score == D("2.00")
    assert [p for p, _, _ in deductions(r)] == [D("0.13"), D("0.87")]


def test_rounding_parts_must_be_yes_or_no(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="parts must be true or false"):
        make_ruleset(leaf("{kind: judgment}"), mode="half_up, parts: 2")


# --------------------------------------------------------------------------- deduction counts

REPORTS = """
          kind: deduction
          counts:
            - {count: asset_report_annual_late == true, per: 0.2, finding: 年报迟报}
            - {count: asset_report_monthly_late_count, per: 0.5, finding: 月报迟报}"""


@pytest.mark.parametrize(("annual", "monthly", "expected"), [
    (False, 0, "1"), (True, 0, "0.8"), (False, 1, "0.5"), (True, 1, "0.3"),
    (True, 2, "0"),  # 0.2 + 1.0 > 1: "扣完为止"
    (False, 12, "0"),
])
def test_deduction_counts_share_one_pool(make_ruleset: Make, run: Run, by_code: ByCode,
                                         annual: bool, monthly: int, expected: str) -> None:
    rs = make_ruleset(leaf(REPORTS, points="1"), total="1")
    r = by_code(run(rs, {"asset_report_annual_late": annual, "asset_report_monthly_late_count": monthly}), "1.1")
    assert r.score == D(expected)
    assert sum((p for p, _, _ in deductions(r)), D(0)) == 1 - D(expected)


def test_deduction_counts_reasons_in_order(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(REPORTS, points="1"), total="1")
    r = by_code(run(rs, {"asset_report_annual_late": True, "asset_report_monthly_late_count": 2}), "1.1")
    assert deductions(r) == [
        (D("0.2"), "年报迟报1项，每项扣0.2分，扣0.2分", "computed"),
        (D("0.8"), "月报迟报2项，每项扣0.5分，扣0.8分", "computed"),
    ]
    assert values(r) == [("年报迟报数", "1"), ("月报迟报数", "2")]


def test_deduction_counts_need_their_facts(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(REPORTS, points="1"), total="1")
    a = run(rs, {"asset_report_monthly_late_count": 0})
    assert by_code(a, "1.1").status == "missing_facts"
    assert a.missing_facts == ["asset_report_annual_late"]


def test_deduction_counts_or_count_not_both(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="either 'count' and 'per', or 'counts'"):
        make_ruleset(leaf("{kind: deduction, per: 1, counts: [{count: key_tasks_total, per: 1, finding: x}]}"))


# --------------------------------------------------------------------------- judgment with zero_if / formula

JUDGED = """
          kind: judgment
          name: 结转结余率
          formula: carryover_closing / budget_adjusted
          zero_if:
            - when: financial_violation == true
              reason: 违规，本项不得分"""


def test_judgment_zero_if_wins_over_the_answer(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(JUDGED, points="2"), total="2")
    r = by_code(run(rs, {"financial_violation": True}, {"1.1": 2}), "1.1")
    assert r.score == D(0)
    assert deductions(r) == [(D(2), "违规，本项不得分", "computed")]


def test_judgment_zero_if_facts_are_required(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(JUDGED, points="2"), total="2")
    a = run(rs, {}, {"1.1": 2})
    assert by_code(a, "1.1").status == "missing_facts"
    assert a.missing_facts == ["financial_violation"]


def test_judgment_formula_is_shown_not_scored(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(JUDGED, points="2"), total="2")
    facts = {"financial_violation": False, "carryover_closing": 30, "budget_adjusted": 200}
    pending = by_code(run(rs, facts), "1.1")
    assert pending.status == "judgment_pending"
    assert values(pending) == [("结转结余率", "15.00%")]
    assert shown(pending)["formula"] == "carryover_closing / budget_adjusted"
    r = by_code(run(rs, facts, {"1.1": {"score": "1.5", "reason": "结转结余偏大"}}), "1.1")
    assert r.score == D("1.5")
    assert values(r) == [("结转结余率", "15.00%")]
    assert shown(r)["inputs"] == {"budget_adjusted": "200", "carryover_closing": "30", "financial_violation": False}
    # Without the formula's facts the judgment is answered all the same.
    bare = by_code(run(rs, {"financial_violation": False}, {"1.1": 2}), "1.1")
    assert (bare.score, values(bare)) == (D(2), [])


# --------------------------------------------------------------------------- met_if / nothing_to_count

ITEMS = """
          kind: checklist
          items:
            - key: "1"
              text: 预算公开
              points: 1
              met_if: {when: classified_unit == true, reason: 涉密部门，计1分}
            - key: "2"
              text: 信访均有回复
              points: 1
              nothing_to_count: {when: petitions_total == 0, reason: 无信访，无可计数}"""


def test_checklist_conditions_meet_items(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rs = make_ruleset(leaf(ITEMS, points="2"), total="2")
    a = run(rs, {"classified_unit": True, "petitions_total": 0})
    r = by_code(a, "1.1")
    assert (r.status, r.score) == ("scored", D(2))
    assert messages(r) == ["预算公开：涉密部门，计1分", "信访均有回复：无信访，无可计数"]
    # met_if is a rule of the source (no warning); nothing_to_count warns.
    assert [w for w in a.warnings if w["code"] == "nothing_to_count"] == [
        {"code": "nothing_to_count", "message": "1.1 指标：无信访，无可计数，按满分1分计"}]


@pytest.mark.parametrize("facts", [{}, {"classified_unit": False, "petitions_total": 2}], ids=["absent", "false"])
def test_checklist_conditions_otherwise_answered(make_ruleset: Make, run: Run, by_code: ByCode,
                                                 facts: dict[str, Any]) -> None:
    rs = make_ruleset(leaf(ITEMS, points="2"), total="2")
    a = run(rs, facts)
    assert a.missing_answers == ["1.1/1", "1.1/2"]
    r = by_code(run(rs, facts, {"1.1/1": True, "1.1/2": {"score": "0.5", "reason": "1件未回复"}}), "1.1")
    assert r.score == D("1.5")


def test_rate_nothing_to_count_warns_and_an_override_replaces_it(make_ruleset: Make, run: Run, by_code: ByCode) -> None:
    rule = ("{kind: rate, name: 项目按时完成率, formula: projects_completed_on_time / projects_planned, "
            "nothing_to_count: {when: projects_planned == 0, reason: 无项目，无可计数}}")
    rs = make_ruleset(leaf(rule, points="3"), total="3")
    facts = {"projects_planned": 0, "projects_completed_on_time": 0}
    a = run(rs, facts)
    assert by_code(a, "1.1").score == D(3)
    assert a.warnings == [{"code": "nothing_to_count", "message": "1.1 指标：无项目，无可计数，按满分3分计"}]
    overridden = run(rs, facts, overrides={"1.1": {"score": 2, "reason": "评价人认定"}})
    assert by_code(overridden, "1.1").score == D(2)
    assert overridden.warnings == []
    assert by_code(run(rs, {"projects_planned": 4, "projects_completed_on_time": 3}), "1.1").score == D("2.25")


def test_nothing_to_count_needs_reason(make_ruleset: Make) -> None:
    with pytest.raises(RulesetError, match="'reason' is required text"):
        make_ruleset(leaf("{kind: rate, formula: projects_completed_on_time / projects_planned, "
                          "nothing_to_count: {when: projects_planned == 0, reason: ''}}"))
