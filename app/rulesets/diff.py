"""Two ruleset versions side by side: what changed from one to the other.

Built from the loaded :class:`~app.engine.ruleset.Ruleset` objects (their public attributes), not
from the YAML text, so that a reformatted file with the same rules shows no change, and a change
is named the way the engine scores it. Indicators are matched by code first (a changed name is a
rename), then, among those left, by name (a changed code is a move); what is left is added or
removed. For each matched indicator: its points, its rule term by term (kind, formula, bands,
cap, items, parts, conditions …, see :func:`rule_terms`), its not-applicable condition and its
texts (指标说明, 评分标准). The ruleset's own terms (title, region, years, total, rounding, bounds,
grades) and its 加减分项 are compared too.

Two project rulesets (``kind: project``, app.engine.project) are compared the same way: their
nodes are the execution rate, the 一级 (points, what happens when a table has no row under one)
and the 二级, and their own terms are the table's (row 分值, 指标性质 rules, bands, not-applicable
rows, 偏差原因) besides title, years, total, rounding and grades.

One document, two renderings: :func:`diff_rulesets` gives the JSON (``GET
/v1/rulesets/{name}/{version}/diff``, ``jixiao rulesets diff --format json``) and :func:`as_text`
the readable Chinese report (the same answer's ``text``; ``jixiao rulesets diff``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.engine.labels import RULE_KIND_LABELS
from app.engine.project import ProjectRuleset
from app.engine.project_format import NATURE_LABELS, WhenEmpty
from app.engine.rules import fmt, pct
from app.engine.ruleset import Adjustment, Indicator, Ruleset

#: Chinese names of the rule terms, for the text rendering (the JSON carries the term's path).
TERM_LABELS = {
    "kind": "评分方式", "formula": "公式", "cap": "上限", "bands": "分档", "zero_if": "得0分条件",
    "nothing_to_count": "无可计数时", "threshold": "起扣线", "step": "步长", "per": "每项扣分",
    "steps": "步数取整", "finding": "扣分事项", "counts": "计数", "items": "评分项", "parts": "分项",
    "targets": "序时进度", "quarter_points": "季度分值", "average_points": "平均分值", "mean": "同类均值",
    "at_or_above": "达到均值得分", "below": "低于均值得分", "points": "分值", "name": "名称",
    "text": "内容", "fact": "取自事实", "met_if": "直接满足条件", "display": "显示", "label": "指标值名称",
    "not_applicable": "不适用条件", "transfer_to": "分值转移至", "when_empty": "无三级指标时",
}
_HEADER_LABELS = {
    "title": "标题", "region": "地区", "fiscal_years": "适用年度", "source": "来源文件", "total_points": "总分",
    "rounding": "得分取舍", "bounds": "总分范围", "grades": "等级",
    "row_points": "三级指标分值", "natures": "指标性质计分", "bands": "定性指标档次", "not_applicable": "不适用指标",
    "deviation_reason": "偏差原因",
}
_TEXT_LABELS = {"description": "指标说明", "criteria": "评分标准"}
_ADJUSTMENT_LABELS = {"kind": "类型", "per": "每次分值", "maximum": "累计上限"}
_ADJUSTMENT_KINDS = {"bonus": "加分", "penalty": "减分"}
_ROUNDING_LABELS = {"down": "截尾", "half_up": "四舍五入", "half_even": "四舍六入五成双", "up": "进位"}


def _show(value: Decimal, percent: bool) -> str:
    return pct(value) if percent else fmt(value)


def _conditions(items: Any) -> str | None:
    """``zero_if`` entries (a list of {when, reason}) as one comparable text."""
    if not items:
        return None
    return "；".join(f"{z.when.text}（{z.reason}）" for z in items)


def _condition(cond: Any) -> str | None:
    if cond is None:
        return None
    return str(cond.when.text)


def rule_terms(rule: Any, prefix: str = "") -> dict[str, str]:
    """A rule as flat terms, path → text: ``kind``, ``formula``, ``bands``, ``items/1/points``,
    ``parts/adjustment/formula`` … Two rules are the same when their terms are; a changed term
    is a change of how the indicator scores."""
    if rule is None:
        return {}
    out: dict[str, str] = {f"{prefix}kind": str(rule.kind)}
    percent = bool(getattr(rule, "percent", True))

    def put(key: str, value: str | None) -> None:
        if value is not None:
            out[prefix + key] = value

    kind = rule.kind
    if kind == "composite":
        for part in rule.parts:
            base = f"parts/{part.key}/"
            put(base + "name", part.name)
            put(base + "points", fmt(part.points))
            out.update(rule_terms(part.rule, prefix + base))
        put("zero_if", _conditions(getattr(rule, "zero_if", None)))
        return out
    if kind == "checklist":
        for item in rule.items:
            base = f"items/{item.key}/"
            put(base + "text", item.text)
            put(base + "points", fmt(item.points))
            put(base + "fact", item.fact)
            for cond in item.conditions:
                put(base + "met_if", f"{cond.when.text}（{cond.note}）" if getattr(cond, "note", None) else cond.when.text)
        return out
    if kind == "quarterly":
        put("formula", "；".join(f.text for f in rule.progress))
        put("targets", "/".join(pct(t) for t in rule.targets))
        put("quarter_points", "/".join(fmt(q) for q in rule.quarter_points))
        put("average_points", fmt(rule.average_points))
        put("cap", pct(rule.cap))
        return out
    if kind == "deduction":
        lines = getattr(rule, "lines", None) or []
        if lines:
            put("counts", "；".join(f"{ln.finding}：{ln.count.text}，每项{fmt(ln.per)}分" for ln in lines))
        else:
            put("per", fmt(rule.per))
            put("finding", f"{rule.finding}（评价人列出）")
        put("nothing_to_count", _condition(getattr(rule, "nothing_to_count", None)))
        return out
    formula = getattr(rule, "formula", None)
    if formula is not None:
        put("formula", str(formula.text))
    if getattr(rule, "label", None) and kind != "judgment":
        put("label", str(rule.label))
    if kind in {"rate", "bands", "step_deduction", "judgment"} and formula is not None:
        put("display", "百分比" if percent else "数值")
    if kind == "rate":
        put("cap", _show(rule.cap, percent))
        put("nothing_to_count", _condition(getattr(rule, "nothing_to_count", None)))
    elif kind == "bands":
        put("bands", "；".join(
            f"{b.text(percent)}：{fmt(b.score)}分{'（评价人视情评分）' if b.judgment else ''}" for b in rule.bands))
    elif kind == "step_deduction":
        put("threshold", _show(rule.threshold, percent))
        put("step", _show(rule.step, percent))
        put("per", fmt(rule.per))
        put("steps", str(rule.steps))
    elif kind == "cohort_relative":
        put("mean", str(rule.mean))
        put("at_or_above", fmt(rule.at_or_above))
        put("below", fmt(rule.below))
    put("zero_if", _conditions(getattr(rule, "zero_if", None)))
    return out


def _na_terms(ind: Indicator) -> dict[str, str]:
    na = ind.not_applicable
    if na is None:
        return {}
    out = {"not_applicable": na.when.text if na.when is not None else "评价人判定"}
    if na.transfer_to is not None:
        out["transfer_to"] = na.transfer_to
    return out


def _wording(text: str | None) -> str:
    """A text as compared: NFKC (full-width punctuation is its ASCII form) without whitespace, so
    that "，" against "," or a re-wrapped line is no change of wording (the two Shenzhen
    documents differ mostly so)."""
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def _texts(old: Any, new: Any) -> list[dict[str, Any]]:
    return [{"field": f, "from": getattr(old, f), "to": getattr(new, f)}
            for f in ("description", "criteria") if _wording(getattr(old, f)) != _wording(getattr(new, f))]


def _term_changes(a: dict[str, str], b: dict[str, str]) -> list[dict[str, Any]]:
    keys = list(a) + [k for k in b if k not in a]
    return [{"path": k, "from": a.get(k), "to": b.get(k)} for k in keys if a.get(k) != b.get(k)]


def _code_key(code: str) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in code.split("."))


def _nodes(rs: Ruleset) -> list[Indicator]:
    return [ind for top in rs.indicators for ind in top.walk()]


def _match(old: list[Any], new: list[Any]) -> tuple[list[tuple[Any, Any, str]], list[Any], list[Any]]:
    """(matched pairs with how they matched, removed, added): by code, then by a name that is
    unique among the ones left on both sides."""
    new_by_code = {n.code: n for n in new}
    pairs: list[tuple[Any, Any, str]] = []
    left_old: list[Any] = []
    taken: set[str] = set()
    for o in old:
        n = new_by_code.get(o.code)
        if n is not None:
            pairs.append((o, n, "code"))
            taken.add(n.code)
        else:
            left_old.append(o)
    left_new = [n for n in new if n.code not in taken]

    def unique_names(items: list[Any]) -> dict[str, Any]:
        count: dict[str, int] = {}
        for i in items:
            count[i.name] = count.get(i.name, 0) + 1
        return {i.name: i for i in items if count[i.name] == 1}

    old_names, new_names = unique_names(left_old), unique_names(left_new)
    removed, moved = [], set()
    for o in left_old:
        n = new_names.get(o.name) if o.name in old_names else None
        if n is not None:
            pairs.append((o, n, "name"))
            moved.add(n.code)
        else:
            removed.append(o)
    added = [n for n in left_new if n.code not in moved]
    return pairs, removed, added


@dataclass(slots=True)
class _Node:
    """A fixed node of a project ruleset (the execution rate, a 一级 or a 二级), as the diff reads it."""

    code: str
    name: str
    level: int
    points: Decimal | None  # a 二级 has none of its own (its rows' come from the table)
    description: str | None
    criteria: str | None
    terms: dict[str, str]


def _terms(node: Any) -> dict[str, str]:
    if isinstance(node, _Node):
        return node.terms
    return {**rule_terms(node.rule), **_na_terms(node)}


def _points(node: Any) -> str | None:
    return None if node is None or node.points is None else fmt(node.points)


def _indicator_entry(change: str, old: Any, new: Any, matched_by: str | None) -> dict[str, Any]:
    ref = new if new is not None else old
    assert ref is not None
    entry: dict[str, Any] = {
        "change": change, "code": ref.code, "name": ref.name, "level": ref.level, "matched_by": matched_by,
        "from_code": old.code if old else None, "to_code": new.code if new else None,
        "from_name": old.name if old else None, "to_name": new.name if new else None,
        "points": None, "rule": [], "texts": [],
    }
    if old is not None and new is not None:
        if old.points != new.points:
            entry["points"] = {"from": _points(old), "to": _points(new)}
        entry["rule"] = _term_changes(_terms(old), _terms(new))
        entry["texts"] = _texts(old, new)
    else:
        entry["points"] = {"from": _points(old), "to": _points(new)}
        entry["rule"] = [{"path": k, "from": v if old else None, "to": None if old else v}
                         for k, v in _terms(ref).items()]
    return entry


def _adjustment_terms(a: Adjustment) -> dict[str, str]:
    return {"kind": a.kind, "per": fmt(a.per), "maximum": fmt(a.max)}


def _adjustment_entry(change: str, old: Adjustment | None, new: Adjustment | None,
                      matched_by: str | None) -> dict[str, Any]:
    ref = new if new is not None else old
    assert ref is not None
    a = _adjustment_terms(old) if old else {}
    b = _adjustment_terms(new) if new else {}
    texts = []
    if old is not None and new is not None:
        texts = _texts(old, new)
    return {"change": change, "code": ref.code, "name": ref.name, "matched_by": matched_by,
            "from_code": old.code if old else None, "to_code": new.code if new else None,
            "from_name": old.name if old else None, "to_name": new.name if new else None,
            "terms": _term_changes(a, b), "texts": texts}


def _header(rs: Ruleset) -> dict[str, str]:
    parts = "，各分项先取舍后相加" if rs.round_parts else ""
    return {
        "title": rs.title, "region": rs.region, "fiscal_years": "、".join(str(y) for y in rs.fiscal_years),
        "source": str(rs.source.get("document", "")), "total_points": fmt(rs.total_points),
        "rounding": f"{rs.places}位小数，{_ROUNDING_LABELS.get(rs.rounding_mode, rs.rounding_mode)}{parts}",
        "bounds": f"{fmt(rs.bounds[0])}–{fmt(rs.bounds[1])}",
        "grades": "，".join(f"{g.grade}≥{fmt(g.min)}" for g in rs.grades),
    }


def _when_empty(rule: Any) -> str:
    if isinstance(rule, WhenEmpty):
        return "分值按权重调增至" + "、".join(rule.transfer_to)
    return {"refuse": "不予受理（须至少一行）", "not_applicable": "不计入，总分按百分制折算"}.get(str(rule), str(rule))


def _project_nodes(rs: ProjectRuleset) -> list[_Node]:
    ex = rs.execution
    out = [_Node(ex.code, ex.name, 1, ex.points, ex.description, ex.criteria, {"kind": "execution_rate"})]
    for l1 in rs.levels:
        out.append(_Node(l1.code, l1.name, 1, l1.points, l1.description, l1.criteria,
                         {"when_empty": _when_empty(l1.when_empty)}))
        out += [_Node(l2.code, l2.name, 2, None, l2.description, l2.criteria, {}) for l2 in l1.children]
    return out


def _project_header(rs: ProjectRuleset) -> dict[str, str]:
    spec = rs.spec
    bands = sorted(rs.bands.values(), key=lambda b: b.min, reverse=True)
    return {
        "title": rs.title, "region": rs.region, "fiscal_years": "、".join(str(y) for y in rs.fiscal_years),
        "source": str(rs.source.get("document", "")), "total_points": fmt(rs.total_points),
        "rounding": f"{rs.places}位小数，{_ROUNDING_LABELS.get(rs.rounding_mode, rs.rounding_mode)}",
        "grades": "，".join(f"{g.grade}≥{fmt(g.min)}" for g in rs.grades),
        "row_points": spec.row_points,
        "natures": "，".join(f"{NATURE_LABELS[n]}{getattr(spec.natures, n)}" for n in ("gte", "lte", "eq")),
        "bands": "；".join(f"{b.name}{'[' if b.min_inclusive else '('}{pct(b.min)}, {pct(b.max)}"
                          f"{']' if b.max_inclusive else ')'}" for b in bands),
        "not_applicable": spec.not_applicable, "deviation_reason": spec.deviation_reason,
    }


def diff_rulesets(old: Ruleset | ProjectRuleset, new: Ruleset | ProjectRuleset) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` (the document of GET …/diff, ``text`` included): two
    部门整体 rulesets, or two project rulesets."""
    if isinstance(old, ProjectRuleset) and isinstance(new, ProjectRuleset):
        return _diff(old, new, _project_header, _project_nodes, [], [])
    if isinstance(old, Ruleset) and isinstance(new, Ruleset):
        return _diff(old, new, _header, _nodes, old.adjustments, new.adjustments)
    raise TypeError("a 部门整体 ruleset and a project ruleset are not compared")


def _diff(old: Any, new: Any, header: Callable[[Any], dict[str, str]], nodes: Callable[[Any], list[Any]],
          old_adjustments: list[Adjustment], new_adjustments: list[Adjustment]) -> dict[str, Any]:
    a, b = header(old), header(new)
    ruleset = [{"field": k, "from": a[k], "to": b[k]} for k in a if a[k] != b[k]]

    pairs, removed, added = _match(nodes(old), nodes(new))
    indicators: list[dict[str, Any]] = []
    for o, n, how in pairs:
        entry = _indicator_entry("changed", o, n, how)
        if (entry["points"] or entry["rule"] or entry["texts"] or o.code != n.code or o.name != n.name):
            indicators.append(entry)
    indicators += [_indicator_entry("removed", o, None, None) for o in removed]
    indicators += [_indicator_entry("added", None, n, None) for n in added]
    indicators.sort(key=lambda e: (_code_key(e["to_code"] or e["from_code"]), e["change"]))

    apairs, aremoved, aadded = _match(old_adjustments, new_adjustments)
    adjustments = []
    for o, n, how in apairs:
        entry = _adjustment_entry("changed", o, n, how)
        if entry["terms"] or entry["texts"] or o.code != n.code or o.name != n.name:
            adjustments.append(entry)
    adjustments += [_adjustment_entry("removed", o, None, None) for o in aremoved]
    adjustments += [_adjustment_entry("added", None, n, None) for n in aadded]

    matched = [e for e in indicators if e["change"] == "changed"]
    summary = {
        "added": sum(1 for e in indicators if e["change"] == "added"),
        "removed": sum(1 for e in indicators if e["change"] == "removed"),
        "renamed": sum(1 for e in matched if e["from_name"] != e["to_name"]),
        "moved": sum(1 for e in matched if e["from_code"] != e["to_code"]),
        "points_changed": sum(1 for e in matched if e["points"] is not None),
        "rules_changed": sum(1 for e in matched if e["rule"]),
        "texts_changed": sum(1 for e in matched if e["texts"]),
        "adjustments_changed": len(adjustments),
    }
    doc: dict[str, Any] = {
        "from": {"ref": old.ref, "content_hash": old.content_hash},
        "to": {"ref": new.ref, "content_hash": new.content_hash},
        "identical": not (ruleset or indicators or adjustments),
        "summary": summary, "ruleset": ruleset, "indicators": indicators, "adjustments": adjustments,
    }
    doc["text"] = as_text(doc)
    return doc


# --------------------------------------------------------------------------- text


def _term_label(path: str) -> str:
    """``parts/adjustment/formula`` → ``分项adjustment·公式``; ``items/2/points`` → ``第2项·分值``."""
    bits = path.split("/")
    words: list[str] = []
    i = 0
    while i < len(bits):
        if bits[i] == "parts" and i + 1 < len(bits):
            words.append(f"分项“{bits[i + 1]}”")
            i += 2
        elif bits[i] == "items" and i + 1 < len(bits):
            words.append(f"第{bits[i + 1]}项")
            i += 2
        else:
            words.append(TERM_LABELS.get(bits[i], bits[i]))
            i += 1
    return "·".join(words)


def _value(path: str, value: str | None) -> str:
    if value is None:
        return "（无）"
    if path.endswith("kind"):
        return f"{RULE_KIND_LABELS.get(value, value)}（{value}）"
    return value


def _indicator_lines(e: dict[str, Any]) -> list[str]:
    head = f"{e['code']} {e['name']}"
    if e["change"] == "added":
        kind = next((c["to"] for c in e["rule"] if c["path"] == "kind"), None)
        rule = f"，{_value('kind', kind)}" if kind else ""
        worth = f"{e['points']['to']}分" if e["points"]["to"] is not None else ""
        return [f"+ 新增 {head}（{worth}{rule}）" if worth or rule else f"+ 新增 {head}"]
    if e["change"] == "removed":
        return [f"- 删除 {head}（{e['points']['from']}分）" if e["points"]["from"] is not None else f"- 删除 {head}"]
    out = [f"~ {e['to_code']} {e['to_name']}"]
    if e["from_code"] != e["to_code"]:
        out.append(f"    编号：{e['from_code']} → {e['to_code']}（按名称对应）")
    if e["from_name"] != e["to_name"]:
        out.append(f"    名称：{e['from_name']} → {e['to_name']}")
    if e["points"] is not None:
        out.append(f"    分值：{e['points']['from'] or '（无）'} → {e['points']['to'] or '（无）'}")
    for c in e["rule"]:
        out.append(f"    {_term_label(c['path'])}：{_value(c['path'], c['from'])} → {_value(c['path'], c['to'])}")
    for t in e["texts"]:
        what = "删除" if not t["to"] else "新增" if not t["from"] else "文字有改动"
        out.append(f"    {_TEXT_LABELS[t['field']]}{what}")
    return out


def as_text(doc: dict[str, Any]) -> str:
    """The diff as a readable Chinese report, one change a line."""
    s = doc["summary"]
    lines = [f"{doc['from']['ref']} → {doc['to']['ref']}"]
    if doc["identical"]:
        lines.append("两个版本没有差别：指标、分值、评分规则和说明文字都相同。")
        return "\n".join(lines) + "\n"
    for c in doc["ruleset"]:
        lines.append(f"{_HEADER_LABELS[c['field']]}：{c['from'] or '（无）'} → {c['to'] or '（无）'}")
    lines.append(
        f"指标：新增{s['added']}项，删除{s['removed']}项，改名{s['renamed']}项，改编号{s['moved']}项，"
        f"分值变动{s['points_changed']}项，评分规则变动{s['rules_changed']}项，说明文字变动{s['texts_changed']}项"
        + (f"；加减分项变动{s['adjustments_changed']}项" if s["adjustments_changed"] else ""))
    for e in doc["indicators"]:
        lines.extend(_indicator_lines(e))
    for e in doc["adjustments"]:
        head = f"{e['code']} {e['name']}"
        sign = {"added": "+ 新增加减分项", "removed": "- 删除加减分项", "changed": "~ 加减分项"}[e["change"]]
        lines.append(f"{sign} {head}")
        if e["change"] == "changed":
            if e["from_name"] != e["to_name"]:
                lines.append(f"    名称：{e['from_name']} → {e['to_name']}")
            for c in e["terms"]:
                frm, to = (_ADJUSTMENT_KINDS.get(v or "", v) for v in (c["from"], c["to"]))
                lines.append(f"    {_ADJUSTMENT_LABELS[c['path']]}：{frm or '（无）'} → {to or '（无）'}")
    return "\n".join(lines) + "\n"
