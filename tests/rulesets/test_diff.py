"""Ruleset versions side by side (app/rulesets/diff.py), on the two Shenzhen rulesets.

Every change asserted here was read in both files (rulesets/shenzhen/2021.yaml from seed 004,
rulesets/shenzhen-yantian/2023.yaml from seed 001) before it was written down."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.engine import builtin_registry
from app.engine.ruleset import Ruleset, load_ruleset_text
from app.rulesets.diff import diff_rulesets, rule_terms

REGISTRY = builtin_registry()


def ruleset(ref: str) -> Ruleset:
    rs = REGISTRY.get(ref)
    assert rs is not None
    return rs


@pytest.fixture(scope="module")
def shenzhen() -> dict[str, Any]:
    return diff_rulesets(ruleset("shenzhen@2021"), ruleset("shenzhen-yantian@2023"))


def entry(doc: dict[str, Any], code: str) -> dict[str, Any]:
    found = [e for e in doc["indicators"] if e["code"] == code]
    assert len(found) == 1, code
    return found[0]


def term(e: dict[str, Any], path: str) -> tuple[str | None, str | None]:
    found = [(c["from"], c["to"]) for c in e["rule"] if c["path"] == path]
    assert len(found) == 1, (e["code"], path, e["rule"])
    return found[0]


def test_the_same_skeleton_nothing_added_or_removed(shenzhen):
    assert shenzhen["from"]["ref"] == "shenzhen@2021"
    assert shenzhen["to"]["ref"] == "shenzhen-yantian@2023"
    assert shenzhen["identical"] is False
    assert shenzhen["summary"]["added"] == shenzhen["summary"]["removed"] == 0
    assert shenzhen["summary"]["moved"] == 0
    assert {e["change"] for e in shenzhen["indicators"]} == {"changed"}
    assert all(e["matched_by"] == "code" for e in shenzhen["indicators"])


def test_the_rulesets_own_terms(shenzhen):
    fields = {c["field"]: (c["from"], c["to"]) for c in shenzhen["ruleset"]}
    assert fields["region"] == ("广东省深圳市", "广东省深圳市盐田区")
    assert fields["fiscal_years"] == ("2021", "2023")
    assert fields["source"] == ("004_3754851803868113.txt", "001_b4d05a7bd3cc8c65.txt")
    # both truncate to two places, both grade 优 ≥ 90 … and total 100: not reported
    assert {"rounding", "grades", "total_points", "bounds"}.isdisjoint(fields)


def test_points_moved_between_the_two_target_indicators(shenzhen):
    # 004: 绩效目标完整性 3 / 绩效指标明确性 7 (items 2/2/1/1/1); 001: 5 / 5 (items 1 each)
    assert entry(shenzhen, "1.2.1")["points"] == {"from": "3", "to": "5"}
    clear = entry(shenzhen, "1.2.2")
    assert clear["points"] == {"from": "7", "to": "5"}
    assert term(clear, "items/1/points") == ("2", "1")
    assert term(clear, "items/2/points") == ("2", "1")
    assert [c["path"] for c in clear["rule"]] == ["items/1/points", "items/2/points"]
    assert {t["field"]: t["to"] for t in clear["texts"]}["description"] is None  # 001 prints no 指标说明
    assert shenzhen["summary"]["points_changed"] == 2


def test_a_judgment_became_a_deduction(shenzhen):
    # 004 预算编制规范性: "根据实际情况评分"; 001: "发现一项不符合的扣1分，扣完为止"
    e = entry(shenzhen, "1.1.2")
    assert e["points"] is None
    assert term(e, "kind") == ("judgment", "deduction")
    assert term(e, "per") == (None, "1")


def test_the_adjustment_rate_is_measured_against_another_budget(shenzhen):
    e = entry(shenzhen, "2.1.2")
    old, new = term(e, "parts/adjustment/formula")
    assert old is not None
    assert old.endswith("/ budget_adjusted")
    assert new is not None
    assert new.endswith("/ budget_initial")
    assert len(e["rule"]) == 1  # the threshold, step, zero_if and judgments are the same


def test_renames_matched_by_code(shenzhen):
    e = entry(shenzhen, "2.2.2")
    assert (e["from_name"], e["to_name"]) == ("项目监管", "项目管理")
    assert e["rule"] == []
    assert e["points"] is None
    assert entry(shenzhen, "3.3.1")["to_name"] == "社会效益、经济效益、生态效益及可持续影响等"
    assert shenzhen["summary"]["renamed"] == 2


def test_a_checklist_items_wording(shenzhen):
    assert term(entry(shenzhen, "1.1.1"), "items/1/text") == (
        "部门预算编制、分配符合本部门职责、符合市委市政府方针政策和工作要求",
        "部门预算编制、分配符合本部门职责、符合区委区政府方针政策和工作要求")


def test_punctuation_and_spacing_are_no_change_of_wording(shenzhen):
    # 2.4.2 编外人员控制率: "比率 < 5% 的, 得 1 分" against "比率<5%的，得1分", same words
    assert all(e["code"] != "2.4.2" for e in shenzhen["indicators"])
    assert all(e["code"] != "3.1.1" for e in shenzhen["indicators"])
    assert shenzhen["summary"]["rules_changed"] == 4  # 1.1.1, 1.1.2, 1.2.2, 2.1.2


def test_the_chinese_text(shenzhen):
    text = shenzhen["text"]
    assert text.startswith("shenzhen@2021 → shenzhen-yantian@2023\n")
    assert "~ 1.1.2 预算编制规范性\n    评分方式：评价人判定（judgment） → 逐项扣分（deduction）" in text
    assert "~ 1.2.2 绩效指标明确性\n    分值：7 → 5\n    第1项·分值：2 → 1" in text
    assert "    名称：项目监管 → 项目管理" in text
    assert "分项“adjustment”·公式：" in text
    assert "指标：新增0项，删除0项，改名2项，改编号0项，分值变动2项，评分规则变动4项" in text


def test_a_version_against_itself_is_identical():
    doc = diff_rulesets(ruleset("shenzhen@2021"), ruleset("shenzhen@2021"))
    assert doc["identical"] is True
    assert doc["indicators"] == doc["ruleset"] == doc["adjustments"] == []
    assert "没有差别" in doc["text"]


def test_matched_by_name_when_the_code_changed_and_added_removed_otherwise():
    old = ruleset("shenzhen@2021")
    text = old.text.replace('code: "3.4.2"', 'code: "3.4.3"').replace(
        "name: 群众信访办理情况\n            points: 3", "name: 群众来信办理情况\n            points: 3")
    renamed = text.replace('code: "3.4.1"', 'code: "3.4.9"')
    new = load_ruleset_text(renamed, REGISTRY.vocabulary)
    doc = diff_rulesets(old, new)
    moved = entry(doc, "3.4.3")
    assert (moved["matched_by"], moved["from_code"], moved["to_code"]) == ("name", "3.4.2", "3.4.3")
    assert moved["name"] == "公众或服务对象满意度"
    # 3.4.1 changed both code and name: removed, and 3.4.9 added with all its rule
    assert entry(doc, "3.4.1")["change"] == "removed"
    added = entry(doc, "3.4.9")
    assert added["change"] == "added"
    assert added["points"] == {"from": None, "to": "3"}
    assert ("kind", None, "checklist") in {(c["path"], c["from"], c["to"]) for c in added["rule"]}
    assert doc["summary"]["moved"] == 1
    assert "+ 新增 3.4.9 群众来信办理情况（3分，逐项评分（checklist））" in doc["text"]
    assert "    编号：3.4.2 → 3.4.3（按名称对应）" in doc["text"]


def test_bands_rounding_and_grades_are_compared():
    old = ruleset("shenzhen@2021")
    text = (old.text.replace("- {gte: 90%, score: 1}\n                - {gte: 75%, lt: 90%, score: 0.7}",
                             "- {gte: 85%, score: 1}\n                - {gte: 75%, lt: 85%, score: 0.7}")
            .replace("mode: down", "mode: half_up").replace("{grade: 良, min: 80}", "{grade: 良, min: 75}"))
    doc = diff_rulesets(old, load_ruleset_text(text, REGISTRY.vocabulary))
    before, after = term(entry(doc, "2.3.2"), "bands")
    assert before is not None
    assert before.startswith("≥90.00%：1分；≥75.00%且<90.00%：0.7分")
    assert after is not None
    assert after.startswith("≥85.00%：1分；≥75.00%且<85.00%：0.7分")
    fields = {c["field"]: (c["from"], c["to"]) for c in doc["ruleset"]}
    assert fields["rounding"] == ("2位小数，截尾", "2位小数，四舍五入")
    assert fields["grades"] == ("优≥90，良≥80，中≥60，差≥0", "优≥90，良≥75，中≥60，差≥0")


def test_adjustments_are_compared():
    huidong = ruleset("huizhou-huidong@2023")
    assert huidong.adjustments
    first = huidong.adjustments[0]
    text = huidong.text.replace(f"max: {first.max}", f"max: {first.max + 1}", 1)
    doc = diff_rulesets(huidong, load_ruleset_text(text, REGISTRY.vocabulary))
    assert [(a["code"], a["terms"]) for a in doc["adjustments"]] == [
        (first.code, [{"path": "maximum", "from": str(first.max), "to": str(first.max + 1)}])]


def test_every_rule_kind_of_the_builtin_rulesets_has_terms():
    kinds = set()
    for rs in REGISTRY.all():
        for leaf in rs.leaves:
            terms = rule_terms(leaf.rule)
            kinds.add(terms["kind"])
            assert len(terms) >= 1
    assert {"judgment", "checklist", "rate", "bands", "deduction", "step_deduction", "composite"} <= kinds


def test_the_cli_prints_the_text_or_the_json():
    runner = CliRunner()
    r = runner.invoke(cli, ["rulesets", "diff", "shenzhen@2021", "shenzhen-yantian@2023"])
    assert r.exit_code == 0, r.output
    assert r.output == diff_rulesets(ruleset("shenzhen@2021"), ruleset("shenzhen-yantian@2023"))["text"]
    j = runner.invoke(cli, ["rulesets", "diff", "shenzhen@2021", "rulesets/shenzhen-yantian/2023.yaml", "--format", "json"])
    assert j.exit_code == 0, j.output
    assert '"renamed": 2' in j.output
    bad = runner.invoke(cli, ["rulesets", "diff", "nowhere@1", "shenzhen"])
    assert bad.exit_code == 3


def test_the_worked_example_in_the_docs_is_what_the_diff_says():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "rulesets-diff.md").read_text(encoding="utf-8")
    shown = doc.split("```text\n", 1)[1].split("```", 1)[0]
    assert shown == diff_rulesets(ruleset("shenzhen@2021"), ruleset("shenzhen-yantian@2023"))["text"]
