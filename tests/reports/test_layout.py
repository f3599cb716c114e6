"""The shared 评分表 layout (pure: no database)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from app.reports.layout import (
    ReportHeader,
    build_sheet,
    flat_rows,
    grade_bands,
    header_from_result,
    reasons_text,
)


def leaf(code: str, name: str, points: str, score: str | None, status: str = "scored", **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": name, "level": code.count(".") + 1, "points": points, "points_available": points,
            "score": score, "computed_score": score, "status": status, "deductions": [], "override": None,
            "missing_facts": [], "missing_answers": [], "note": None, "children": [],
            "points_lost": None if score is None else str(Decimal(points) - Decimal(score)), **extra}


def group(code: str, name: str, points: str, score: str | None, children: list[dict[str, Any]]) -> dict[str, Any]:
    return {"code": code, "name": name, "level": code.count(".") + 1, "points": points, "points_available": points,
            "score": score, "computed_score": score, "status": "scored", "children": children}


RESULT: dict[str, Any] = {
    "ruleset": {"ref": "demo@2024", "title": "演示指标体系", "content_hash": "sha256:" + "0" * 64},
    "status": "incomplete", "total": "7", "grade": None, "points_total": "10", "base_total": "7",
    "adjustments_total": "0", "warnings": [{"code": "incomplete", "message": "部分指标缺少数据"},
                                           {"code": "answer_ignored", "message": "x"},
                                           {"code": "answer_ignored", "message": "y"}],
    "adjustments": [],
    "indicators": [
        group("1", "决策", "6", "5", [
            group("1.1", "目标", "6", "5", [
                leaf("1.1.1", "目标完整性", "3", "2", deductions=[{"points": "1", "reason": "缺一项目标", "source": "answer"}]),
                leaf("1.1.2", "目标明确性", "3", "3", status="overridden", computed_score=None,
                     override={"score": "3", "reason": "按评分表"}),
            ]),
        ]),
        {**group("2", "管理", "4", "0", []), "status": "missing_facts", "children": [
            leaf("2.1", "二级即评分", "2", None, status="missing_facts", missing_facts=["procurement_actual"]),
            leaf("2.2", "不适用项", "2", "0", status="not_applicable", note="条件成立，本项不考核"),
        ]},
    ],
}

RULESET = SimpleNamespace(
    by_code={
        "1": SimpleNamespace(description=None, criteria=None),
        "1.1": SimpleNamespace(description="目标的说明", criteria=None),
        "1.1.1": SimpleNamespace(description=None, criteria="每缺一项扣1分"),
        "1.1.2": SimpleNamespace(description=None, criteria="明确得3分"),
    },
    grades=[SimpleNamespace(grade="优", min=Decimal(90)), SimpleNamespace(grade="良", min=Decimal(80)),
            SimpleNamespace(grade="差", min=Decimal(0))],
    adjustments=[],
)


def header() -> ReportHeader:
    return header_from_result(RESULT, unit_name="演示单位", unit_code="D1", fiscal_year=2024, kind="self",
                              evaluator="自己", assessment_id="abc", created_at="2024-05-01T08:00:00+00:00")


def test_rows_merges_and_ownership():
    sheet = build_sheet(RESULT, RULESET, header(), {"procurement_actual": "政府采购实际金额"})
    assert sheet.row_codes == ["1.1.1", "1.1.2", "2.1", "2.2"]
    assert [c.key for c in sheet.columns][:6] == ["name1", "points1", "name2", "points2", "name3", "points3"]
    assert not sheet.detail_column
    body = sheet.body
    # 一级 决策 merged over its two rows; 管理 over the next two
    assert (body[0][0].value, body[0][0].rowspan, body[1][0].rowspan) == ("决策", 2, 0)
    assert (body[2][0].value, body[2][0].rowspan) == ("管理", 2)
    # a 二级 that is itself scored has no 三级 cells
    assert body[2][2].value == "二级即评分"
    assert body[2][4].value == ""
    # 指标说明 of the 二级 merged over its rows; 评分标准 per row
    desc = [c.key for c in sheet.columns].index("description")
    assert (body[0][desc].value, body[0][desc].rowspan, body[1][desc].rowspan) == ("目标的说明", 2, 0)
    crit = desc + 1
    assert body[0][crit].value == "每缺一项扣1分"
    assert body[1][crit].value == "明确得3分"
    score = [c.key for c in sheet.columns].index("score")
    reasons = score + 1
    assert body[0][score].value == Decimal(2)
    assert body[0][score].flag == "lost"
    assert body[0][reasons].value == "缺一项目标"
    assert "评价人认定：按评分表" in body[1][reasons].value
    assert "无法按规则计算" in body[1][reasons].value
    assert body[2][score].value is None
    assert body[2][score].flag == "pending"
    assert body[2][reasons].value == "缺少数据：政府采购实际金额（procurement_actual）"
    assert body[3][score].flag == "na"
    assert body[3][reasons].value == "条件成立，本项不考核"
    # the foot: total, grade (not given: incomplete), then the warnings with ignored answers collapsed
    labels = [row[0].value for row in sheet.foot]
    assert labels == ["总计得分", "评价等级", "说明"]
    assert sheet.foot[1][reasons].value == "评价不完整，不评定等级"
    note = next(c.value for c in sheet.foot[2] if c.role == "note")
    assert "部分指标缺少数据" in note
    assert "2条答复不属于本评分规则" in note
    assert [s["lost"] for s in sheet.summary] == [Decimal(1), None]


def test_without_a_ruleset_the_texts_are_empty():
    sheet = build_sheet(RESULT, None, header())
    desc = [c.key for c in sheet.columns].index("description")
    assert all(row[desc].value is None for row in sheet.body)


def test_header_and_grade_bands():
    h = header()
    assert h.title == "演示指标体系评分表"
    assert ReportHeader("u", 2024, "third_party", "e", "r@1", "某某评分表").title == "某某评分表"
    assert h.kind_label == "自评"
    assert ("评分规则", "演示指标体系（demo@2024）") in h.info()
    assert "评价编号：abc" in h.provenance()
    assert "2024-05-01 08:00:00" in h.provenance()
    assert grade_bands(RULESET) == "等级标准：优≥90，80≤良<90，差<80"


def test_flat_rows_cover_every_level():
    headers, rows = flat_rows(RESULT)
    assert headers[:5] == ["层级", "编码", "一级指标", "二级指标", "三级指标"]
    assert [r[1] for r in rows] == ["1", "1.1", "1.1.1", "1.1.2", "2", "2.1", "2.2"]
    assert rows[5][headers.index("状态")] == "缺少数据"
    assert rows[5][headers.index("得分")] == ""


def test_reasons_for_a_pending_judgment():
    node = leaf("3.1", "判断", "5", None, status="judgment_pending", missing_answers=["3.1/1", "3.1/2"])
    assert reasons_text(node) == "待评价人判定：3.1/1、3.1/2"
