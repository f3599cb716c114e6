"""The contract of a project ruleset (``kind: project``): what ``GET /v1/rulesets/{name}/{version}``,
``…/requirements`` and ``…/submission.schema.json`` answer for it, and the check of
``PUT /v1/units/{id}/projects/{pid}/submissions/{year}?ruleset=``.

One definition: the JSON Schema of a 自评表 is the submission model's own
(:class:`app.engine.project_format.ProjectSubmission`, whose JSON Schema states its validators, the
cross-field ones of a row in ``ROW_CHECKS``),
narrowed by the ruleset's terms (the 一级 / 二级 a row may name, whether rows carry 分值, whether a
row may be marked not applicable, which 一级 must have rows, 偏差原因 for a qualitative row outside
the top band). The requirements describe the same terms in words and lists, read from the loaded
ruleset. :func:`check` validates with that schema (app.rulesets.requirements.problems_of), so the
service refuses what a client validating against the schema is refused, at the same pointers.
Cached per content hash with the 部门整体 contracts (app.rulesets.requirements.cached).

What JSON Schema cannot state is checked when the table is scored (an assessment, or the dry run
``POST …:score``) and listed in the requirements under ``checked_when_scored``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import create_model

from app.engine.errors import Problem
from app.engine.project import ROW_FORMULAS, ProjectRuleset, lookup_keys
from app.engine.project_format import (
    NATURE_ALIASES,
    NATURE_LABELS,
    NATURE_PATTERNS,
    ROW_CHECKS,
    UNIT_ALIASES,
    UNIT_GROUPS,
    Level1Spec,
    ProjectRow,
    ProjectSubmission,
    WhenEmpty,
)
from app.engine.rules import fmt
from app.rulesets import requirements

_DIMENSIONS = {"amount": "金额（元、万元、亿元互相折算）", "percent": "百分比", "days": "天数"}

#: what the schema cannot say (it depends on sums, spreads or a comparison of two values)
CHECKED_WHEN_SCORED = [
    "各行分值之和须等于其一级指标的分值（row_points 取 submitted 或 either 且各行均填分值时）",
    "定量指标未完成年度指标值时须填写偏差原因（deviation_reason）和改进措施（improvement），按 deviation_reason 的规定拒绝或提示",
    "定性指标的 band_score 须落在所选档次的分值区间内（按该行分值计算），低于该行分值时须填写 band_reason",
    "实际完成值的度量单位须与年度指标值的度量单位可比：同一组内的单位互相折算，其他单位只与自身可比",
    "overrides 的代码须是本表的三级指标代码（二级代码.序号）或预算执行率的代码，分数不超过其分值",
]


def _alternatives(keys: list[str]) -> str:
    return "^\\s*(?:" + "|".join(re.escape(k) for k in dict.fromkeys(keys)) + ")\\s*$"


def _when_empty(l1: Level1Spec) -> dict[str, Any]:
    rule = l1.when_empty
    if isinstance(rule, WhenEmpty):
        return {"rule": "transfer", "transfer_to": list(rule.transfer_to)}
    return {"rule": rule, "transfer_to": []}


def _bands(rs: ProjectRuleset) -> list[dict[str, Any]]:
    return [{"band": b.band, "name": b.name, "min": fmt(b.min), "max": fmt(b.max),
             "min_inclusive": b.min_inclusive, "max_inclusive": b.max_inclusive}
            for b in sorted(rs.bands.values(), key=lambda b: b.min, reverse=True)]


def _natures(rs: ProjectRuleset) -> list[dict[str, Any]]:
    out = []
    for nature, label in NATURE_LABELS.items():
        rule = None if nature == "qualitative" else getattr(rs.spec.natures, nature)
        out.append({"nature": nature, "label": label,
                    "aliases": [a for a, c in NATURE_ALIASES.items() if c == nature],
                    "rule": rule if rule is not None else "qualitative_band",
                    "formula": ROW_FORMULAS[rule] if rule is not None else rs.bands_text})
    return out


def _execution(rs: ProjectRuleset) -> dict[str, Any]:
    ex = rs.execution
    return {"code": ex.code, "name": ex.name, "points": fmt(ex.points), "description": ex.description,
            "criteria": ex.criteria, "formula": f"执行率=全年执行数/全年预算数；得分=执行率×{fmt(ex.points)}，最高{fmt(ex.points)}分"}


def detail(rs: ProjectRuleset, builtin: bool) -> dict[str, Any]:
    """``GET /v1/rulesets/{name}/{version}`` of a project ruleset (schema ProjectRulesetDetail)."""
    return {
        "kind": "project", "ref": rs.ref, "name": rs.name, "version": rs.version, "title": rs.title,
        "region": rs.region, "description": rs.description, "fiscal_years": rs.fiscal_years,
        "source": {k: str(v) for k, v in rs.source.items()}, "total_points": fmt(rs.total_points),
        "rounding": {"places": rs.places, "mode": rs.rounding_mode, "text": rs.rounding_text()},
        "grades": [{"grade": g.grade, "min": fmt(g.min)} for g in rs.grades],
        "content_hash": rs.content_hash, "builtin": builtin,
        "execution": _execution(rs),
        "levels": [{"code": l1.code, "name": l1.name, "points": fmt(l1.points), "description": l1.description,
                    "criteria": l1.criteria, "when_empty": _when_empty(l1),
                    "children": [{"code": l2.code, "name": l2.name, "description": l2.description,
                                  "criteria": l2.criteria} for l2 in l1.children]}
                   for l1 in rs.levels],
        "row_points": rs.spec.row_points, "natures": _natures(rs), "bands": _bands(rs),
        "not_applicable": rs.spec.not_applicable, "deviation_reason": rs.spec.deviation_reason,
    }


_ROW_POINTS_TEXT = {
    "even": "各行不填分值：一级指标的分值由规则平均分配到其各行",
    "submitted": "每一行都须填写分值（points），同一一级指标下各行分值之和等于该一级指标的分值",
    "either": "同一一级指标下各行要么都填分值（之和等于该一级指标的分值），要么都不填（平均分配）",
}


def _row_fields() -> list[dict[str, Any]]:
    """The columns of a row, from the row model itself (name, whether required, its description)."""
    return [{"field": name, "required": f.is_required(), "description": f.description}
            for name, f in ProjectRow.model_fields.items()]


def _describe(rs: ProjectRuleset) -> dict[str, Any]:
    return {
        "kind": "project", "ref": rs.ref, "name": rs.name, "version": rs.version, "title": rs.title,
        "content_hash": rs.content_hash, "fiscal_years": rs.fiscal_years,
        "levels": [{"code": l1.code, "name": l1.name, "points": fmt(l1.points),
                    "accepted": list(dict.fromkeys(lookup_keys(l1.code, l1.name))), "when_empty": _when_empty(l1),
                    "children": [{"code": l2.code, "name": l2.name, "accepted": list(dict.fromkeys(lookup_keys(l2.code, l2.name)))}
                                 for l2 in l1.children]}
                   for l1 in rs.levels],
        "execution": {**_execution(rs), "reads": ["/funds/full_year_budget", "/funds/executed"]},
        "row_points": {"mode": rs.spec.row_points, "text": _ROW_POINTS_TEXT[rs.spec.row_points]},
        "not_applicable": {"mode": rs.spec.not_applicable, "allowed": rs.spec.not_applicable == "rescale",
                           "text": ("不适用的行不计入，总分按百分制折算（须填写 not_applicable_reason）"
                                    if rs.spec.not_applicable == "rescale" else "不得将行标记为不适用")},
        "deviation_reason": {"mode": rs.spec.deviation_reason, "required": rs.spec.deviation_reason == "required",
                             "text": ("未完成年度指标值的行须填写偏差原因和改进措施，否则拒绝（422）"
                                      if rs.spec.deviation_reason == "required"
                                      else "未完成年度指标值的行未填写偏差原因或改进措施时给出提示（warning）")},
        "natures": _natures(rs), "bands": _bands(rs),
        "units": [{"dimension": dim, "name": _DIMENSIONS.get(dim, dim),
                   "units": units + [a for a, u in UNIT_ALIASES.items() if u in units]}
                  for dim, units in UNIT_GROUPS.items()],
        "other_units": "其他度量单位（人次、个、项 …）只与自身可比；未填写 actual_unit 时取年度指标值的单位",
        "rows": _row_fields(),
        "overrides": {"execution": rs.execution.code,
                      "rows": "三级指标代码：二级代码.序号（按表中顺序编号，如 1.1.1），见评价结果的 indicators",
                      "form": "{score, reason}：分数在 0 到该行分值之间，必须说明理由"},
        "rounding": {"places": rs.places, "mode": rs.rounding_mode, "text": rs.rounding_text()},
        "grades": [{"grade": g.grade, "min": fmt(g.min)} for g in rs.grades],
        "total_points": fmt(rs.total_points),
        "checked_when_scored": CHECKED_WHEN_SCORED,
    }


def _level1_is(l1: Level1Spec) -> dict[str, Any]:
    return {"required": ["level1"], "properties": {"level1": {"type": "string",
                                                              "pattern": _alternatives(lookup_keys(l1.code, l1.name))}}}


def _schema(rs: ProjectRuleset) -> dict[str, Any]:
    from app.projects.schemas import ProjectSubmissionIn  # the PUT body: the 自评表 and its note

    base = ProjectSubmission.model_json_schema(ref_template="#/$defs/{model}")
    defs = base.pop("$defs")
    row = defs["ProjectRow"]
    props = row["properties"]
    all_of: list[dict[str, Any]] = [*row.get("allOf", []), *ROW_CHECKS]  # the row's validators, then the ruleset's
    levels = rs.levels
    # the 一级 and, under each, its 二级 (by code, name, or name without 指标: as the scorer finds them)
    props["level1"] = {**props["level1"], "pattern": _alternatives([k for l1 in levels for k in lookup_keys(l1.code, l1.name)]),
                       "description": f"{props['level1'].get('description', '')} {rs.ref}: "
                                      + "、".join(f"{l1.code} {l1.name}" for l1 in levels)}
    for l1 in levels:
        names = [k for l2 in l1.children for k in lookup_keys(l2.code, l2.name)]
        all_of.append({"if": _level1_is(l1), "then": {"properties": {"level2": {
            "pattern": _alternatives(names),
            "description": f"二级指标 of {l1.name}: " + "、".join(f"{l2.code} {l2.name}" for l2 in l1.children)}}}})
    if rs.spec.row_points == "even":
        props["points"] = {"type": "null", "description": f"{rs.ref} spreads each 一级's points evenly: no 分值 on rows"}
    elif rs.spec.row_points == "submitted":
        row["required"] = sorted({*row.get("required", []), "points"})
        props["points"] = {**props["points"], "anyOf": [s for s in props["points"]["anyOf"] if s.get("type") != "null"]}
    if rs.spec.not_applicable == "refuse":
        props["not_applicable"] = {**props["not_applicable"], "const": False,
                                   "description": f"{rs.ref} does not allow rows that do not apply"}
    if rs.spec.deviation_reason == "required":
        outside = [b for b in rs.bands if b != "met"]
        missed = {"required": ["nature", "band", "band_score"], "properties": {
            "nature": {"type": "string", "pattern": NATURE_PATTERNS["qualitative"]},
            "band": {"enum": outside}, "band_score": {"not": {"type": "null"}},
            "not_applicable": {"not": {"const": True}}}}
        for name in ("deviation_reason", "improvement"):
            all_of.append({"if": missed, "then": {"required": [name], "properties": {name: {
                "type": "string", "description": f"a row outside the band met misses its target: {name} is required"}}}})
    row["allOf"] = all_of
    # the table: which 一级 must have rows (when_empty: refuse; a transfer needs rows where the points go)
    table: list[dict[str, Any]] = []
    for l1 in levels:
        has = {"properties": {"rows": {"contains": _level1_is(l1)}}}
        if l1.when_empty == "refuse":
            table.append({**has, "description": f"{rs.ref} requires at least one row under 一级 {l1.name}"})
        elif isinstance(l1.when_empty, WhenEmpty):
            targets = [t for t in levels if t.code in l1.when_empty.transfer_to]
            table.append({"anyOf": [has, *({"properties": {"rows": {"contains": _level1_is(t)}}} for t in targets)],
                          "description": f"no row under 一级 {l1.name}, nor under the 一级 its points go to"})
        if rs.spec.row_points == "either":
            # all rows of a 一级 carry 分值, or none does
            with_points = {"required": ["level1", "points"],
                           "properties": {**_level1_is(l1)["properties"], "points": {"not": {"type": "null"}}}}
            table.append({"if": {"properties": {"rows": {"contains": with_points}}},
                          "then": {"properties": {"rows": {"items": {"if": _level1_is(l1), "then": {
                              "required": ["points"], "properties": {"points": {"not": {"type": "null"},
                              "description": f"give 分值 on every row of 一级 {l1.name}, or on none"}}}}}}}})
    # the PUT body's one field more (its own schema, null included: the OpenAPI request form leaves null out)
    note = ProjectSubmissionIn.model_fields["note"]
    assert note.annotation is not None
    base["properties"]["note"] = create_model("Note", note=(note.annotation, note)).model_json_schema()["properties"]["note"]
    name, version = rs.name, rs.version
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"/v1/rulesets/{name}/{version}/submission.schema.json",
        **base,
        "title": f"A project's 自评表 for {rs.ref}",
        "description": f"{rs.title}: the 自评表 data `PUT /v1/units/{{id}}/projects/{{pid}}/submissions/{{year}}"
                       f"?ruleset={rs.ref}` accepts (GET /v1/rulesets/{name}/{version}/requirements says what "
                       "each term means and what is checked only when the table is scored). Generated from the "
                       "submission model and the ruleset.",
        "allOf": table,
        "$defs": defs,
        "$comment": f"ruleset content hash {rs.content_hash}",
    }


def contract(rs: ProjectRuleset) -> requirements.Contract:
    """The requirements, the schema and its validator of a project ruleset version (cached by content hash)."""
    return requirements.cached(rs.content_hash, lambda: (_describe(rs), _schema(rs)))


def check(rs: ProjectRuleset, document: Any) -> list[Problem]:
    """What the schema of ``rs`` refuses in a 自评表 document (as sent), by JSON pointer."""
    return requirements.problems_of(contract(rs).validator, document)


def examples() -> dict[str, Any]:
    """Whole-object examples of the project ruleset schemas (app.main puts them on the OpenAPI
    components): real answers for the built-in national-project@2020."""
    from app.engine import builtin_registry
    from app.engine.project import score_project
    from app.projects.schemas import SHEET_EXAMPLE

    rs = builtin_registry().project("national-project@2020")
    assert rs is not None
    d = detail(rs, True)
    spec = rs.spec.model_dump(mode="json", exclude_none=True)
    return {"ProjectRulesetDetail": d, "ProjectLevel1": d["levels"][0], "ProjectLevel2": d["levels"][0]["children"][0],
            "ProjectExecution": d["execution"], "ProjectNature": d["natures"][0], "ProjectBand": d["bands"][0],
            "ProjectWhenEmpty": d["levels"][2]["when_empty"], "ProjectRounding": d["rounding"],
            "ProjectGrade": d["grades"][0], "ProjectRulesetRequirements": _describe(rs),
            "ProjectScoreResult": score_project(rs, SHEET_EXAMPLE).to_dict(),
            "ProjectRulesetFile": spec, "ProjectFileRounding": spec["rounding"], "ProjectFileGradeSpec": spec["grades"][0],
            "ProjectFileExecutionSpec": spec["execution"], "ProjectFileLevel1Spec": spec["levels"][2],
            "ProjectFileLevel2Spec": spec["levels"][0]["children"][0], "ProjectFileWhenEmpty": spec["levels"][2]["when_empty"],
            "ProjectFileNatureRules": spec["natures"], "ProjectFileBandSpec": spec["bands"][0]}
