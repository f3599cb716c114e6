"""The codes an assessment carries and their Chinese labels: one definition, used by the engine's
breakdown document, the API's enums (app/api/enums.py) and the reports (which print the labels).

Grades are a ruleset's own text (``grades:`` in its file: the national 优/良/中/差, or another
scale); the national four have machine codes too, so that a client can branch on a grade without
comparing Chinese text. A grade outside them has no code (``grade_code: null``)."""

from __future__ import annotations

KIND_LABELS = {"self": "自评", "third_party": "第三方评价"}
ASSESSMENT_STATUS_LABELS = {"complete": "完整", "incomplete": "不完整"}
INDICATOR_STATUS_LABELS = {
    "scored": "已评分",
    "overridden": "评价人调整",
    "not_applicable": "不适用",
    "judgment_pending": "待评价人判定",
    "missing_facts": "缺少数据",
}
#: every status label, indicator and assessment alike (the reports print both)
STATUS_LABELS = {**INDICATOR_STATUS_LABELS, **ASSESSMENT_STATUS_LABELS}
#: the national grades (优 ≥ 90, 良 80–90, 中 60–80, 差 < 60) and their codes
GRADE_CODES = {"优": "excellent", "良": "good", "中": "fair", "差": "poor"}


def grade_code(grade: str | None) -> str | None:
    return None if grade is None else GRADE_CODES.get(grade)

#: the rule kinds of a ruleset file and their Chinese names (the ruleset diff prints them)
RULE_KIND_LABELS = {
    "judgment": "评价人判定",
    "checklist": "逐项评分",
    "rate": "按比率计分",
    "bands": "分档计分",
    "deduction": "逐项扣分",
    "step_deduction": "超限按步扣分",
    "quarterly": "分季度计分",
    "cohort_relative": "与同类均值比较",
    "composite": "分项计分",
}
