"""Worked examples of project self-evaluation tables (项目支出绩效自评表) under 财预〔2020〕10号,
every row's points worked out by hand in the test (national-project@2020 and the local variant).

The rules, as the ruleset files cite them: a met target scores its full 分值; a missed ≥ (正向) row
实际/指标值 × 分值, a missed ≤ (反向) row 指标值/实际 × 分值, an "=" row (1 − |实际 − 指标值| / 指标值)
× 分值; a qualitative row the points picked inside its band (80–100% 含80, 60–80% 含60, 0–60%); the
execution rate 全年执行数/全年预算数 × 10, at most 10; rows that do not apply are left out and the
total brought back to 100; every row rounded as the ruleset says, the total their sum.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.engine import builtin_registry
from app.engine.errors import InvalidInput
from app.engine.project import ProjectAssessment, score_project, spread
from app.engine.rules import fmt

D = Decimal
NATIONAL = builtin_registry().project("national-project@2020")
LOCAL = builtin_registry().project("local-project@2023")
FULL_FUNDS = {"initial_budget": "100", "full_year_budget": "100", "executed": "100"}
WHY = {"deviation_reason": "受疫情影响，部分培训延期", "improvement": "提前制定应急预案"}


def row(level1: str, level2: str, name: str, nature: str, points: str | None = None, **kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"level1": level1, "level2": level2, "name": name, "nature": nature, **kw}
    if points is not None:
        r["points"] = points
    return r


def base_rows(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    """A table with every target met: 产出 20/10/10/10, 效益 15 (定性) / 15, 满意度 10."""
    rows = {
        "qty": row("产出指标", "数量指标", "培训人次", "≥", "20", target="2000", unit="人次", actual="2000"),
        "quality": row("产出指标", "质量指标", "培训合格率", "≥", "10", target="95", unit="%", actual="98"),
        "time": row("产出指标", "时效指标", "完成时限", "≤", "10", target="30", unit="天", actual="28"),
        "cost": row("产出指标", "成本指标", "培训成本", "=", "10", target="100", unit="万元", actual="100"),
        "social": row("效益指标", "社会效益指标", "从业人员技能提升", "定性", "15", target_text="明显提升",
                      band="met", band_score="15"),
        "lasting": row("效益指标", "可持续影响指标", "培训体系覆盖率", "≥", "15", target="80", unit="%", actual="85"),
        "satisfied": row("满意度指标", "服务对象满意度指标", "学员满意度", "≥", "10", target="90", unit="%", actual="93"),
    }
    for key, change in changes.items():
        rows[key] = {**rows[key], **change}
    return list(rows.values())


def table(rows: list[dict[str, Any]], funds: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    return {"funds": funds or FULL_FUNDS, "goals": {"expected": "培训2000人次", "actual": "见各行"}, "rows": rows, **kw}


def points(a: ProjectAssessment) -> dict[str, str | None]:
    """Every scored node's points: the execution rate, each 一级, 二级 and row."""
    out: dict[str, str | None] = {}

    def walk(nodes: list[dict[str, Any]]) -> None:
        for n in nodes:
            out[n["code"]] = n["score"]
            walk(n["children"])

    walk(a.to_dict()["indicators"])
    return out


ALL_MET = {
    "0": "10",
    "1": "50", "1.1": "20", "1.1.1": "20", "1.2": "10", "1.2.1": "10", "1.3": "10", "1.3.1": "10",
    "1.4": "10", "1.4.1": "10",
    "2": "30", "2.2": "15", "2.2.1": "15", "2.4": "15", "2.4.1": "15",
    "3": "10", "3.1": "10", "3.1.1": "10",
}


def test_every_target_met_scores_full_marks():
    a = score_project(NATIONAL, table(base_rows()))
    assert points(a) == ALL_MET
    assert (a.total, a.grade, a.status) == (D(100), "优", "complete")
    assert a.warnings == []


def test_missed_positive_target_scores_in_proportion():
    # ≥2000人次, 1850 done: 1850/2000 × 20 = 18.5
    a = score_project(NATIONAL, table(base_rows(qty={"actual": "1850", **WHY})))
    assert points(a) == {**ALL_MET, "1.1.1": "18.5", "1.1": "18.5", "1": "48.5"}
    assert a.total == D("98.5")
    d = a.node("1.1.1")
    assert d.deductions == [{"points": "1.5", "source": "computed",
                             "reason": "实际完成值1850人次，未达年度指标值≥2000人次，扣1.5分"}]
    assert a.to_dict()["indicators"][1]["children"][0]["children"][0]["row"]["met"] is False


def test_missed_negative_target_scores_target_over_actual():
    # ≤30天, 32 days taken: 30/32 × 10 = 9.375 → 9.38 (two places, half up)
    a = score_project(NATIONAL, table(base_rows(time={"actual": "32", **WHY})))
    assert points(a) == {**ALL_MET, "1.3.1": "9.38", "1.3": "9.38", "1": "49.38"}
    assert a.total == D("99.38")


@pytest.mark.parametrize(("actual", "unit", "expected"), [
    ("100", "万元", "10"),          # on the value: full marks
    ("96", "万元", "9.6"),          # 4% below: (1 − 4/100) × 10
    ("104", "万元", "9.6"),         # 4% above: the same deviation
    ("1,040,000", "元", "9.6"),     # 104 万元 written in 元: converted exactly, then the same
    ("250", "万元", "0"),           # 150% off: at least 0
])
def test_equal_row_scores_by_its_deviation(actual, unit, expected):
    change = {"actual": actual, "actual_unit": unit} | ({} if expected == "10" else WHY)
    a = score_project(NATIONAL, table(base_rows(cost=change)))
    lost = D(10) - D(expected)
    assert points(a) == {**ALL_MET, "1.4.1": expected, "1.4": expected, "1": fmt(D(50) - lost)}
    assert a.total == D(100) - lost


@pytest.mark.parametrize(("band", "score", "expected_total"), [
    ("met", "12", "97"),       # 达成: 80% (含) – 100% of 15 → 12 to 15
    ("partial", "10.5", "95.5"),  # 部分达成: 60% (含) – 80% → 9 to < 12
    ("missed", "4", "89"),     # 未达成: 0 – < 60% → 0 to < 9
])
def test_qualitative_row_in_each_band(band, score, expected_total):
    change = {"band": band, "band_score": score, "band_reason": "培训后抽查技能考核通过率偏低"}
    if band != "met":
        change |= WHY
    a = score_project(NATIONAL, table(base_rows(social=change)))
    assert points(a) == {**ALL_MET, "2.2.1": score, "2.2": score, "2": fmt(D(15) + D(score))}
    assert a.total == D(expected_total)
    assert a.node("2.2.1").deductions[0]["points"] == str(D(15) - D(score))


@pytest.mark.parametrize(("band", "score"), [
    ("partial", "12"),   # 80% of 15 belongs to 达成 (100-80%（含）), not to 部分达成
    ("missed", "9"),     # 60% belongs to 部分达成 (80-60%（含）)
    ("met", "11.99"),
    ("met", "15.01"),
])
def test_band_score_outside_its_band_is_refused(band, score):
    change = {"band": band, "band_score": score, "band_reason": "r", **WHY}
    with pytest.raises(InvalidInput) as exc:
        score_project(NATIONAL, table(base_rows(social=change)))
    assert [p.pointer for p in exc.value.problems] == ["/rows/4/band_score"]


def test_row_not_applicable_is_left_out_and_the_total_rescaled():
    # 可持续影响 (15) does not apply: 85 points counted. 数量 misses: 18.5 of 20.
    # rows 18.5 + 10 + 10 + 10 + 15 + 10 + execution 10 = 83.5; 83.5 / 85 × 100 = 98.235… → 98.24
    na = {"not_applicable": True, "not_applicable_reason": "本年度体系建设任务已调整至下年度", "actual": None}
    a = score_project(NATIONAL, table(base_rows(lasting=na, qty={"actual": "1850", **WHY})))
    assert points(a) == {**ALL_MET, "1.1.1": "18.5", "1.1": "18.5", "1": "48.5", "2.4.1": "0", "2.4": "0", "2": "15"}
    assert a.base_total == D("83.5")
    assert a.total == D("98.24")
    assert a.grade == "优"
    assert a.rescaled == {"points_counted": "85", "points_excluded": "15", "score": "83.5", "formula": "83.5/85×100"}
    assert a.node("2.4.1").status == "not_applicable"
    assert a.node("2.4").available == 0


def test_execution_below_one_hundred_percent():
    # 112.3 / 118.5 = 94.7679…% × 10 = 9.4768 → 9.48
    funds = {"initial_budget": "120", "full_year_budget": "118.5", "executed": "112.3"}
    a = score_project(NATIONAL, table(base_rows(), funds))
    assert points(a) == {**ALL_MET, "0": "9.48"}
    assert a.total == D("99.48")
    d = a.to_dict()
    assert d["funds"]["execution_rate"] == "94.77%"
    assert d["indicators"][0]["deductions"][0]["reason"] == "预算执行率94.77%，扣0.52分"


def test_execution_above_the_budget_is_capped_at_its_points():
    a = score_project(NATIONAL, table(base_rows(), {"full_year_budget": "100", "executed": "103"}))
    assert points(a)["0"] == "10"


EVEN_ROWS = [  # no 分值: each 一级's points spread evenly over its rows
    row("产出", "数量", "培训人次", "≥", target="2000", unit="人次", actual="1850", **WHY),
    row("产出", "质量", "培训合格率", "≥", target="95", unit="%", actual="96"),
    row("效益", "社会效益", "办结时限", "≤", target="25", unit="天", actual="29", **WHY),
    row("效益", "经济效益", "带动就业", "≥", target="300", unit="人", actual="320"),
    row("满意度", "服务对象满意度", "学员满意度", "≥", target="90", unit="%", actual="85", **WHY),
]
EVEN_FUNDS = {"initial_budget": "50", "full_year_budget": "50", "executed": "49"}


def test_the_same_table_under_the_national_rules_two_places():
    # 产出 50 → 25 / 25, 效益 30 → 15 / 15, 满意度 10, execution 49/50 = 98% → 9.8
    # 1850/2000 × 25 = 23.125 → 23.13; 25/29 × 15 = 12.931… → 12.93; 85/90 × 10 = 9.444… → 9.44
    a = score_project(NATIONAL, table(EVEN_ROWS, EVEN_FUNDS))
    assert points(a) == {
        "0": "9.8",
        "1": "48.13", "1.1": "23.13", "1.1.1": "23.13", "1.2": "25", "1.2.1": "25",
        "2": "27.93", "2.2": "12.93", "2.2.1": "12.93", "2.1": "15", "2.1.1": "15",
        "3": "9.44", "3.1": "9.44", "3.1.1": "9.44",
    }
    assert a.total == D("95.3")
    assert a.grade == "优"


def test_the_same_table_under_the_local_variant_whole_points():
    # 产出 40 → 20 / 20, 效益 30 → 15 / 15, 满意度 20, execution 10; every row rounded to whole points
    # 1850/2000 × 20 = 18.5 → 19; 25/29 × 15 = 12.93 → 13; 85/90 × 20 = 18.89 → 19; 98% × 10 = 9.8 → 10
    a = score_project(LOCAL, table(EVEN_ROWS, EVEN_FUNDS))
    assert points(a) == {
        "0": "10",
        "1": "39", "1.1": "19", "1.1.1": "19", "1.2": "20", "1.2.1": "20",
        "2": "28", "2.2": "13", "2.2.1": "13", "2.1": "15", "2.1.1": "15",
        "3": "19", "3.1": "19", "3.1.1": "19",
    }
    assert a.total == D(96)


def test_whole_point_rounding_of_a_row_of_ten():
    # the local variant with the unit's own 分值: ≤25天 done in 29: 25/29 × 10 = 8.62 → 9
    rows = [
        row("产出", "数量", "培训人次", "≥", "40", target="2000", unit="人次", actual="2000"),
        row("效益", "社会效益", "办结时限", "≤", "10", target="25", unit="天", actual="29", **WHY),
        row("效益", "经济效益", "带动就业", "≥", "20", target="300", unit="人", actual="300"),
        row("满意度", "服务对象满意度", "学员满意度", "≥", "20", target="90", unit="%", actual="95"),
    ]
    a = score_project(LOCAL, table(rows))
    assert points(a) == {"0": "10", "1": "40", "1.1": "40", "1.1.1": "40", "2": "29", "2.2": "9", "2.2.1": "9",
                         "2.1": "20", "2.1.1": "20", "3": "20", "3.1": "20", "3.1.1": "20"}
    assert a.total == D(99)
    assert score_project(NATIONAL, table([{**r, "points": p} for r, p in zip(rows, ["50", "10", "20", "10"],
                                                                                   strict=True)])).node("2.2.1").score == D("8.62")


def test_national_table_without_satisfaction_moves_its_points_to_output_and_benefit():
    # "如未设置满意度指标，则其权重相应可调增到产出指标和效益指标中": 10 → 6.25 + 3.75 (50:30)
    rows = [r for r in EVEN_ROWS if not r["level1"].startswith("满意度")]
    a = score_project(NATIONAL, table(rows, EVEN_FUNDS))
    # 产出 56.25 → 28.13 / 28.12; 效益 33.75 → 16.88 / 16.87
    # 1850/2000 × 28.13 = 26.02025 → 26.02; 25/29 × 16.88 = 14.5517… → 14.55
    assert points(a) == {
        "0": "9.8",
        "1": "54.14", "1.1": "26.02", "1.1.1": "26.02", "1.2": "28.12", "1.2.1": "28.12",
        "2": "31.42", "2.2": "14.55", "2.2.1": "14.55", "2.1": "16.87", "2.1.1": "16.87",
        "3": "0",
    }
    assert a.total == D("95.36")
    assert a.node("3").status == "not_applicable"
    assert {w["code"] for w in a.warnings} == {"level_points_moved"}


def test_local_table_without_satisfaction_is_refused():
    rows = [r for r in EVEN_ROWS if not r["level1"].startswith("满意度")]
    with pytest.raises(InvalidInput) as exc:
        score_project(LOCAL, table(rows))
    assert [p.pointer for p in exc.value.problems] == ["/rows"]


def test_claimed_scores_against_computed():
    # A published table scores a met row 7 of 10 and prints a total its rows do not add up to.
    rows = base_rows(time={"claimed": "7"}, qty={"actual": "1850", "claimed": "18.5", **WHY})
    a = score_project(NATIONAL, table(rows, claimed_execution="10", claimed_total="95"))
    d = a.to_dict()
    assert a.total == D("98.5")
    assert d["claims"]["rows"] == [{
        "code": "1.3.1", "name": "完成时限", "claimed": "7", "computed": "10", "difference": "-3",
        "rule": "实际完成值≤年度指标值得满分；未完成的，得分=年度指标值/实际完成值×分值"}]
    assert d["claims"]["total"] == {"claimed": "95", "computed": "98.5", "differs": True}
    time_row = d["indicators"][1]["children"][2]["children"][0]["row"]
    assert (time_row["claimed"], time_row["claim_differs"]) == ("7", True)
    codes = [w["code"] for w in a.warnings]
    assert codes == ["claim_differs", "claimed_total_differs"]
    # every row claimed: the claims add up to 10 + 18.5 + 10 + 7 + 10 + 15 + 15 + 10 = 95.5, not 95
    all_claimed = [{**r, "claimed": r.get("claimed", r["points"])} for r in rows]
    b = score_project(NATIONAL, table(all_claimed, claimed_execution="10", claimed_total="95"))
    assert b.to_dict()["claims"]["total"]["rows_add_up_to"] == "95.5"
    assert "claimed_total_inconsistent" in [w["code"] for w in b.warnings]


def test_missing_actual_is_not_scored_zero():
    a = score_project(NATIONAL, table(base_rows(quality={"actual": None})))
    assert a.status == "incomplete"
    assert a.grade is None
    assert a.node("1.2.1").score is None
    assert a.node("1.2.1").status == "missing_facts"
    assert a.missing_facts == ["/rows/1/actual"]
    assert a.total == D(90)  # the scored rows only


def test_qualitative_row_without_its_band_waits_for_the_evaluator():
    a = score_project(NATIONAL, table(base_rows(social={"band": None, "band_score": None})))
    assert a.status == "incomplete"
    assert a.node("2.2.1").status == "judgment_pending"
    assert a.missing_answers == ["2.2.1"]


def test_units_that_do_not_compare_are_refused():
    with pytest.raises(InvalidInput) as exc:
        score_project(NATIONAL, table(base_rows(qty={"actual_unit": "个"})))
    assert [p.pointer for p in exc.value.problems] == ["/rows/0/actual_unit"]
    with pytest.raises(InvalidInput) as exc:
        score_project(NATIONAL, table(base_rows(quality={"actual_unit": "万元"})))
    assert [p.pointer for p in exc.value.problems] == ["/rows/1/actual_unit"]
    # ％ and 百分比 are the same unit as %
    a = score_project(NATIONAL, table(base_rows(quality={"actual_unit": "％"}, lasting={"unit": "百分比"})))
    assert a.total == D(100)


def test_missed_target_without_its_reason():
    with pytest.raises(InvalidInput) as exc:
        score_project(NATIONAL, table(base_rows(qty={"actual": "1850"})))
    assert [p.pointer for p in exc.value.problems] == ["/rows/0/deviation_reason"]
    with pytest.raises(InvalidInput) as exc:
        score_project(NATIONAL, table(base_rows(qty={"actual": "1850", "deviation_reason": "延期"})))
    assert [p.pointer for p in exc.value.problems] == ["/rows/0/improvement"]
    rows = [{k: v for k, v in r.items() if k not in WHY} for r in EVEN_ROWS]
    a = score_project(LOCAL, table(rows, EVEN_FUNDS))  # the local variant only warns
    assert [w["code"] for w in a.warnings].count("deviation_reason_missing") == 3


def test_row_points_must_add_up_to_their_level():
    with pytest.raises(InvalidInput) as exc:
        score_project(NATIONAL, table(base_rows(qty={"points": "25"})))
    assert [p.pointer for p in exc.value.problems] == ["/rows/0/points"]
    assert "add up to 55, the 一级 has 50" in exc.value.problems[0].message
    with pytest.raises(InvalidInput) as exc:
        score_project(NATIONAL, table(base_rows(time={"points": None})))
    assert [p.pointer for p in exc.value.problems] == ["/rows/2/points"]


def test_unknown_level_is_refused_with_its_pointer():
    with pytest.raises(InvalidInput) as exc:
        score_project(NATIONAL, table(base_rows(cost={"level2": "投入指标"})))
    assert [p.pointer for p in exc.value.problems] == ["/rows/3/level2"]


def test_an_evaluator_override_with_its_reason():
    # the national text: a target exceeded far because it was set too low is 按照偏离度适度调减分值,
    # a judgment recorded as an override
    a = score_project(NATIONAL, table(base_rows(quality={"actual": "100"})),
                      {"1.2.1": {"score": "8", "reason": "年初指标值设定明显偏低，按偏离度调减"}})
    n = a.node("1.2.1")
    assert (n.score, n.computed, n.status) == (D(8), D(10), "overridden")
    assert a.total == D(98)
    # a row without its actual, scored by the evaluator: the assessment is complete
    b = score_project(NATIONAL, table(base_rows(quality={"actual": None})),
                      {"1.2.1": {"score": "9", "reason": "据抽查记录认定合格率约为94%"}})
    assert (b.status, b.total, b.grade, b.missing_facts) == ("complete", D(99), "优", [])
    with pytest.raises(InvalidInput) as exc:
        score_project(NATIONAL, table(base_rows()), {"1.2.1": {"score": "11", "reason": "r"}})
    assert [p.pointer for p in exc.value.problems] == ["/overrides/1.2.1/score"]


def test_even_spread_adds_up_exactly():
    assert spread(D(50), [D(1)] * 3, D("0.01")) == [D("16.67"), D("16.67"), D("16.66")]
    assert spread(D(40), [D(1)] * 3, D(1)) == [D(14), D(13), D(13)]
    assert spread(D(10), [D(50), D(30)], D("0.01")) == [D("6.25"), D("3.75")]
