"""Scoring a unit's data under a ruleset: the pure heart of jixiao.

``score(ruleset, facts, answers, overrides)`` takes validated inputs (see
:func:`prepare`) and returns an :class:`Assessment`; ``to_dict`` turns it into
the deterministic JSON shape shared by the CLI and the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.engine.errors import InvalidInput, Problem
from app.engine.facts import Vocabulary
from app.engine.labels import ASSESSMENT_STATUS_LABELS, INDICATOR_STATUS_LABELS, grade_code
from app.engine.rules import (
    MISSING_FACTS,
    NOT_APPLICABLE,
    OVERRIDDEN,
    PENDING,
    SCORED,
    ZERO,
    Answer,
    Ctx,
    Outcome,
    fmt,
    pct,
)
from app.engine.ruleset import Indicator, Ruleset

COMPLETE = "complete"
INCOMPLETE = "incomplete"


@dataclass(slots=True)
class Override:
    score: Decimal
    reason: str


@dataclass(slots=True)
class Prepared:
    """Validated inputs, ready for :func:`score`."""

    facts: dict[str, Any]
    answers: dict[str, Answer]
    overrides: dict[str, Override]
    warnings: list[dict[str, str]]


@dataclass(slots=True)
class IndicatorResult:
    indicator: Indicator
    points: Decimal  # points available (after transfers)
    score: Decimal | None  # adopted
    computed: Decimal | None
    status: str
    outcome: Outcome | None = None
    override: Override | None = None
    children: list[IndicatorResult] = field(default_factory=list)
    note: str | None = None


@dataclass(slots=True)
class AdjustmentResult:
    code: str
    name: str
    kind: str
    count: int
    points: Decimal
    reasons: list[str]


class Row:
    """One indicator's numbers, as scoring computes them (the tree view is built from these)."""

    __slots__ = ("points", "score", "computed", "status", "outcome", "override", "note")

    def __init__(self, points: Decimal, score: Decimal | None, computed: Decimal | None, status: str,
                 outcome: Outcome | None, override: Override | None, note: str | None) -> None:
        self.points = points
        self.score = score
        self.computed = computed
        self.status = status
        self.outcome = outcome
        self.override = override
        self.note = note


class Assessment:
    """The result of scoring. The indicator tree (``indicators``) is built on first use:
    scoring itself only computes numbers and statuses into flat rows."""

    __slots__ = ("ruleset", "status", "total", "base_total", "adjustments_total", "grade", "adjustments",
                 "warnings", "missing_facts", "missing_answers", "facts", "_rows", "_tree")

    def __init__(self, *, ruleset: Ruleset, status: str, total: Decimal, base_total: Decimal,
                 adjustments_total: Decimal, grade: str | None, rows: dict[str, Row],
                 adjustments: list[AdjustmentResult], warnings: list[dict[str, str]], missing_facts: list[str],
                 missing_answers: list[str], facts: dict[str, Any]) -> None:
        self.ruleset = ruleset
        self.status = status
        self.total = total
        self.base_total = base_total
        self.adjustments_total = adjustments_total
        self.grade = grade
        self.adjustments = adjustments
        self.warnings = warnings
        self.missing_facts = missing_facts
        self.missing_answers = missing_answers
        self.facts = facts
        #: code -> (points available, adopted, computed, status, outcome, override, note)
        self._rows = rows
        self._tree: list[IndicatorResult] | None = None

    def row(self, code: str) -> Row:
        return self._rows[code]

    @property
    def indicators(self) -> list[IndicatorResult]:
        if self._tree is None:
            self._tree = [_tree(i, self._rows) for i in self.ruleset.indicators]
        return self._tree


def _tree(ind: Indicator, rows: dict[str, Row]) -> IndicatorResult:
    """An indicator's result with its children's. A module function, not a closure over ``rows``:
    a recursive closure is a reference cycle (the function and its cell), which kept every scored
    unit's rows alive until the cyclic collector ran (~130 objects a unit, ~8% of a job worker's time)."""
    r = rows[ind.code]
    kids = [_tree(c, rows) for c in ind.children]
    return IndicatorResult(ind, r.points, r.score, r.computed, r.status, r.outcome, r.override, kids, r.note)


# --------------------------------------------------------------------------- inputs


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _score_value(value: Any, pointer: str, problems: list[Problem]) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        problems.append(Problem(pointer, "score must be a number"))
        return None
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except Exception:  # noqa: BLE001 - any unparsable value is the caller's error
        problems.append(Problem(pointer, f"'{value}' is not a number"))
        return None
    if not d.is_finite():
        problems.append(Problem(pointer, "score must be a finite number"))
        return None
    return d


def _esc(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def prepare(
    ruleset: Ruleset,
    vocabulary: Vocabulary,
    raw_facts: Mapping[str, Any] | None,
    raw_answers: Mapping[str, Any] | None,
    raw_overrides: Mapping[str, Any] | None,
    *,
    parsed_facts: dict[str, Any] | None = None,
) -> Prepared:
    """Validate facts, answers and overrides against the vocabulary and ruleset.

    Raises :class:`InvalidInput` listing every problem with a JSON pointer.
    ``parsed_facts`` skips fact validation for facts already parsed by the vocabulary.
    Answers for codes the ruleset does not have become warnings (a submission
    may carry answers for several rulesets).
    """
    problems: list[Problem] = []
    warnings: list[dict[str, str]] = []
    if parsed_facts is not None:
        facts = parsed_facts
    else:
        facts, fact_problems = vocabulary.parse(raw_facts or {})
        problems.extend(fact_problems)
    answers: dict[str, Answer] = {}
    for addr, value in (raw_answers or {}).items():
        pointer = f"/answers/{_esc(str(addr))}"
        shape_points = ruleset.answer_shapes.get(addr)
        if shape_points is None:
            warnings.append({
                "code": "answer_ignored",
                "message": f"{ruleset.ref} 无可作答的指标 '{addr}'，该答复未使用",
            })
            continue
        shape, points = shape_points
        a = _answer(value, shape, points, pointer, problems)
        if a is not None:
            answers[addr] = a
    overrides: dict[str, Override] = {}
    na_now: dict[str, str] | None = None
    for code, value in (raw_overrides or {}).items():
        pointer = f"/overrides/{_esc(str(code))}"
        ind = ruleset.by_code.get(code)
        if ind is None or not ind.is_leaf:
            problems.append(Problem(pointer, f"'{code}' is not a scored (leaf) indicator of {ruleset.ref}"))
            continue
        if not isinstance(value, Mapping):
            problems.append(Problem(pointer, "an override is {score, reason}"))
            continue
        extra = set(value) - {"score", "reason"}
        if extra:
            problems.append(Problem(pointer, f"unknown keys {sorted(extra)}"))
        s = _score_value(value.get("score"), f"{pointer}/score", problems)
        reason = _text(value.get("reason"))
        if reason is None:
            problems.append(Problem(f"{pointer}/reason", "an override needs a reason"))
        if na_now is None:
            na_now = not_applicable_codes(ruleset, facts, answers)
        if code in na_now:
            problems.append(Problem(pointer, f"{code} {ind.name} does not apply to this unit ({na_now[code]}); it cannot be overridden"))
            continue
        available = ind.points + sum(
            (ruleset.by_code[c].points for c in ruleset.transfers.get(code, []) if c in na_now), ZERO
        )
        if s is not None and not ZERO <= s <= available:
            problems.append(Problem(f"{pointer}/score", f"score {fmt(s)} is outside [0, {fmt(available)}] for {code} {ind.name}"))
            continue
        if s is not None and reason is not None:
            overrides[code] = Override(s, reason)
    if problems:
        raise InvalidInput(problems)
    return Prepared(facts, answers, overrides, warnings)


_SHAPES: dict[str, tuple[frozenset[str], frozenset[str]]] = {}


def _shape(shape: str) -> tuple[frozenset[str], frozenset[str]]:
    """(the parts of an answer shape such as ``judgment+na``, the keys its answers may carry), cached."""
    known = _SHAPES.get(shape)
    if known is None:
        shapes = frozenset(shape.split("+"))
        allowed = {"reason"}
        if shapes & {"judgment", "item"}:
            allowed |= {"score", "met"}
        if "findings" in shapes:
            allowed |= {"findings"}
        if "na" in shapes:
            allowed |= {"not_applicable"}
        if "events" in shapes:
            allowed |= {"events", "count"}
        known = (shapes, frozenset(allowed))
        _SHAPES[shape] = known
    return known


def _answer(value: Any, shape: str, points: Decimal, pointer: str, problems: list[Problem]) -> Answer | None:
    shapes, allowed = _shape(shape)
    if isinstance(value, bool):
        if "item" in shapes:
            return Answer(met=value)
        problems.append(Problem(pointer, "true/false answers only apply to checklist items"))
        return None
    if isinstance(value, int | float | Decimal | str) and ("judgment" in shapes or "item" in shapes):
        value = {"score": value}
    if not isinstance(value, dict | Mapping):
        problems.append(Problem(pointer, "an answer is true/false, a score, or a mapping such as {score, reason}"))
        return None
    if not allowed.issuperset(value):
        extra = set(value) - allowed
        problems.append(Problem(pointer, f"keys {sorted(extra)} do not apply here; allowed: {sorted(allowed)}"))
        return None
    a = Answer(reason=_text(value.get("reason")))
    if "score" in value:
        a.score = _score_value(value["score"], f"{pointer}/score", problems)
        if a.score is not None and not ZERO <= a.score <= points:
            problems.append(Problem(f"{pointer}/score", f"score {fmt(a.score)} is outside [0, {fmt(points)}]"))
            return None
        if a.score is not None and a.score < points and a.reason is None and "item" not in shapes:
            problems.append(Problem(f"{pointer}/reason", "a score below the full points needs a reason (扣分事由)"))
            return None
    if "met" in value:
        if not isinstance(value["met"], bool):
            problems.append(Problem(f"{pointer}/met", "met must be true or false"))
            return None
        a.met = value["met"]
    if "findings" in value:
        f = value["findings"]
        if not isinstance(f, list) or not all(isinstance(x, str) and x.strip() for x in f):
            problems.append(Problem(f"{pointer}/findings", "findings must be a list of reasons (text)"))
            return None
        a.findings = [x.strip() for x in f]
    if "not_applicable" in value:
        if not isinstance(value["not_applicable"], bool):
            problems.append(Problem(f"{pointer}/not_applicable", "not_applicable must be true or false"))
            return None
        a.not_applicable = value["not_applicable"]
    if "events" in value:
        ev = value["events"]
        if not isinstance(ev, list) or not all(isinstance(x, str) and x.strip() for x in ev):
            problems.append(Problem(f"{pointer}/events", "events must be a list of descriptions (text)"))
            return None
        a.events = [x.strip() for x in ev]
    if "count" in value:
        c = value["count"]
        if isinstance(c, str) and c.strip().isdigit():
            c = int(c.strip())
        if isinstance(c, bool) or not isinstance(c, int | Decimal) or c < 0 or c != int(c):
            problems.append(Problem(f"{pointer}/count", "count must be a whole number ≥ 0"))
            return None
        a.count = Decimal(c)
    return a


# --------------------------------------------------------------------------- scoring


_DONE = (SCORED, OVERRIDDEN, NOT_APPLICABLE)


def not_applicable_codes(ruleset: Ruleset, facts: Mapping[str, Any], answers: Mapping[str, Answer]) -> dict[str, str]:
    """Leaves that do not apply to this unit, with the reason."""
    out: dict[str, str] = {}
    for leaf in ruleset.na_leaves:
        na = leaf.not_applicable
        assert na is not None
        a = answers.get(leaf.code)
        if a is not None and a.not_applicable:
            out[leaf.code] = a.reason or "评价人认定本项不适用"
        elif a is not None and a.not_applicable is False:
            continue
        elif na.when is not None and all(n in facts for n in na.when.names):
            try:
                hit = bool(na.when(facts))
            except ArithmeticError:
                hit = False
            if hit:
                out[leaf.code] = f"条件 {na.when.text} 成立，本项不考核"
    return out


def score(ruleset: Ruleset, prepared: Prepared) -> Assessment:
    """Score validated inputs under ``ruleset``. Pure and deterministic."""
    facts = prepared.facts
    answers = prepared.answers
    quantum, rounding = ruleset.quantum, ruleset.rounding
    ctx = Ctx(facts, answers, quantum, rounding)
    overrides = prepared.overrides
    warnings = list(prepared.warnings)
    rows: dict[str, Row] = {}
    na_codes: dict[str, str] = {}
    missing_facts: list[str] = []
    missing_answers: list[str] = []

    # 1. Not-applicable leaves (their points may move elsewhere).
    if ruleset.na_leaves:
        na_codes = not_applicable_codes(ruleset, facts, answers)

    # 2. Leaves.
    transfers = ruleset.transfers
    note: str | None
    for leaf in ruleset.leaves:
        code = leaf.code
        if na_codes and code in na_codes:
            note = na_codes[code]
            target = leaf.not_applicable.transfer_to if leaf.not_applicable else None
            if target:
                note += f"，{fmt(leaf.points)}分调整至{target} {ruleset.by_code[target].name}"
            rows[code] = Row(ZERO, ZERO, ZERO, NOT_APPLICABLE, None, None, note)
            continue
        extra = ZERO
        if na_codes and code in transfers:
            extra = sum((ruleset.by_code[c].points for c in transfers[code] if c in na_codes), ZERO)
        available = leaf.points + extra
        try:
            out = leaf.rule.evaluate(ctx, code)  # type: ignore[union-attr]
        except ArithmeticError as exc:
            # Outside what the Decimal context holds (Overflow, InvalidOperation): this indicator
            # is not scored, never scored 0; the evaluator may override it.
            out = _not_computable(leaf, exc, warnings)
        if leaf.not_applicable is not None and leaf.not_applicable.when is not None:
            absent = [n for n in sorted(leaf.not_applicable.when.names) if n not in facts]
            a_na = answers.get(code)
            if absent and not (a_na is not None and a_na.not_applicable is False):
                have = out.missing_facts or []
                out.missing_facts = have + [n for n in absent if n not in have]
                out.status, out.score = MISSING_FACTS, None
        computed = out.score
        note = None
        if computed is not None:
            try:
                computed = computed.quantize(quantum, rounding)
                if extra and leaf.points:
                    computed = (computed * available / leaf.points).quantize(quantum, rounding)
            except ArithmeticError as exc:
                out = _not_computable(leaf, exc, warnings)
                computed = None
            if computed is not None and extra:
                moved = [c for c in transfers.get(code, []) if c in na_codes]
                note = f"承接不适用指标{'、'.join(moved)}的{fmt(extra)}分，得分按{fmt(available)}/{fmt(leaf.points)}折算"
            if computed is not None and computed > available:
                warnings.append({
                    "code": "indicator_capped",
                    "message": f"{code} {leaf.name} 计算得分{fmt(computed)}超过分值{fmt(available)}，按{fmt(available)}分计",
                })
                computed = available
        ov = overrides.get(code) if overrides else None
        if ov is not None:
            rows[code] = Row(available, ov.score, computed, OVERRIDDEN, out, ov, note)
        else:
            if out.warnings:
                for w_code, message in out.warnings:
                    warnings.append({"code": w_code, "message": f"{code} {leaf.name}：{message}"})
            rows[code] = Row(available, computed, computed, out.status if computed is None else SCORED, out, None, note)
            if computed is None:
                if out.missing_facts:
                    missing_facts.extend(f for f in out.missing_facts if f not in missing_facts)
                if out.missing_answers:
                    missing_answers.extend(out.missing_answers)

    # 3. Roll up (post-order over the precomputed groups).
    for ind, child_codes in ruleset.groups:
        pts = sc = ZERO
        comp: Decimal | None = ZERO
        complete = True
        any_missing = False
        for c in child_codes:
            r = rows[c]
            k_status = r.status
            pts += r.points
            k_score = r.score
            if k_score is not None:
                sc += k_score
            if k_status != SCORED and k_status != OVERRIDDEN and k_status != NOT_APPLICABLE:
                complete = False
                if k_status == MISSING_FACTS:
                    any_missing = True
            if comp is not None:
                k_comp = r.computed
                if k_comp is not None:
                    comp += k_comp
                elif k_status != NOT_APPLICABLE:
                    comp = None
        rows[ind.code] = Row(pts, sc, comp, SCORED if complete else (MISSING_FACTS if any_missing else PENDING),
                             None, None, None)

    base = ZERO
    complete = True
    for top in ruleset.indicators:
        t = rows[top.code]
        if t.score is not None:
            base += t.score
        if t.status not in _DONE:
            complete = False

    # 4. Adjustments (加减分项), outside the tree.
    adj_results: list[AdjustmentResult] = []
    adj_total = ZERO
    for adj in ruleset.adjustments:
        a = ctx.answers.get(adj.code)
        reasons: list[str] = []
        count = 0
        if a is not None:
            if a.events is not None:
                reasons = list(a.events)
                count = len(a.events)
            elif a.count is not None:
                count = int(a.count)
                if a.reason:
                    reasons = [a.reason]
        pts = min(adj.per * count, adj.max)
        if adj.per * count > adj.max:
            warnings.append({
                "code": "adjustment_capped",
                "message": f"{adj.name}{count}项共{fmt(adj.per * count)}分，超过上限{fmt(adj.max)}分，按{fmt(adj.max)}分计",
            })
        signed = pts if adj.kind == "bonus" else -pts
        adj_total += signed
        adj_results.append(AdjustmentResult(adj.code, adj.name, adj.kind, count, signed, reasons))

    raw_total = base + adj_total
    lo, hi = ruleset.bounds
    total = min(max(raw_total, lo), hi)
    if total != raw_total:
        side = "上限" if raw_total > hi else "下限"
        warnings.append({
            "code": "total_clamped",
            "message": f"加减分后合计{fmt(raw_total)}分，超出总分{side}{fmt(hi if raw_total > hi else lo)}分，按规则以{fmt(total)}分计",
        })
    total = total.quantize(quantum, rounding)
    grade = ruleset.grade_for(total) if complete else None
    if not complete:
        warnings.append({
            "code": "incomplete",
            "message": "部分指标缺少数据或评价人判定，总分为已评指标之和，不评定等级",
        })
    return Assessment(
        ruleset=ruleset,
        status=COMPLETE if complete else INCOMPLETE,
        total=total,
        base_total=base,
        adjustments_total=adj_total,
        grade=grade,
        rows=rows,
        adjustments=adj_results,
        warnings=warnings,
        missing_facts=sorted(missing_facts),
        missing_answers=missing_answers,
        facts=facts,
    )


def _not_computable(leaf: Indicator, exc: ArithmeticError, warnings: list[dict[str, str]]) -> Outcome:
    """The outcome of a leaf whose arithmetic left the Decimal context (a pending judgment)."""
    message = f"{leaf.code} {leaf.name} 无法计算（{type(exc).__name__}：数值超出计算范围），须由评价人判定"
    warnings.append({"code": "not_computable", "message": message})
    out = Outcome(None, PENDING)
    out.note(message)
    return out


# --------------------------------------------------------------------------- output


def _value(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, Decimal):
        return fmt(v)
    return v


def indicator_dict(r: IndicatorResult, vocabulary: Vocabulary | None = None, *, children: bool = True,
                   facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    ind = r.indicator
    score_ = r.score
    points_text = ind.points_text if r.points == ind.points else fmt(r.points)
    score_text = None if score_ is None else fmt(score_)
    d: dict[str, Any] = {
        "code": ind.code,
        "name": ind.name,
        "level": ind.level,
        "points": ind.points_text,
        "points_available": points_text,
        "score": score_text,
        "computed_score": None if r.computed is None else (score_text if r.computed == score_ else fmt(r.computed)),
        "status": r.status,
        "status_label": INDICATOR_STATUS_LABELS[r.status],
        "points_lost": None if score_ is None else ("0" if score_ == r.points else fmt(r.points - score_)),
    }
    if not ind.children:
        o = r.outcome
        rule = ind.rule
        d["rule"] = None if rule is None else rule.kind
        d["formula"] = ind.formula_text
        inputs: dict[str, Any] = {}
        if o is not None and facts is not None:
            for k in o.input_names:
                if k not in facts:
                    continue
                v = facts[k]
                if vocabulary is not None and k in vocabulary and vocabulary[k].unit == "percent" and isinstance(v, Decimal):
                    inputs[k] = fmt(v * 100) + "%"
                else:
                    inputs[k] = _value(v)
        d["inputs"] = inputs
        d["values"] = [] if o is None else [
            {"name": n, "value": pct(v) if is_pct else fmt(v)} for n, v, is_pct in o.all_values()]
        computed_deductions = [] if o is None else [
            {"points": fmt(p), "reason": str(reason), "source": src} for p, reason, src in o.all_deductions()]
        if r.override is not None:
            d["deductions"] = ([{"points": fmt(r.points - r.override.score), "reason": r.override.reason, "source": "override"}]
                               if r.override.score < r.points else [])
            d["computed_deductions"] = computed_deductions
            d["override"] = {"score": fmt(r.override.score), "reason": r.override.reason}
        else:
            d["deductions"] = computed_deductions
            d["computed_deductions"] = None
            d["override"] = None
        d["missing_facts"] = list(o.missing_facts or []) if o is not None else []
        d["missing_answers"] = list(o.missing_answers or []) if o is not None else []
        d["messages"] = list(o.messages or []) if o is not None else []
        d["note"] = r.note
    if children:
        d["children"] = [indicator_dict(c, vocabulary, facts=facts) for c in r.children]
    return d


def to_dict(a: Assessment, vocabulary: Vocabulary | None = None) -> dict[str, Any]:
    rs = a.ruleset
    return {
        "ruleset": {
            "ref": rs.ref,
            "name": rs.name,
            "version": rs.version,
            "title": rs.title,
            "content_hash": rs.content_hash,
        },
        "status": a.status,
        "status_label": ASSESSMENT_STATUS_LABELS[a.status],
        "total": fmt(a.total),
        "grade": a.grade,
        "grade_code": grade_code(a.grade),
        "points_total": fmt(rs.total_points),
        "base_total": fmt(a.base_total),
        "adjustments_total": fmt(a.adjustments_total),
        "warnings": a.warnings,
        "missing_facts": a.missing_facts,
        "missing_answers": a.missing_answers,
        "indicators": [indicator_dict(r, vocabulary, facts=a.facts) for r in a.indicators],
        "adjustments": [
            {"code": x.code, "name": x.name, "kind": x.kind, "count": x.count, "points": fmt(x.points), "reasons": x.reasons}
            for x in a.adjustments
        ],
    }


def flatten(a: Assessment) -> list[IndicatorResult]:
    out: list[IndicatorResult] = []

    def walk(r: IndicatorResult) -> None:
        out.append(r)
        for c in r.children:
            walk(c)

    for t in a.indicators:
        walk(t)
    return out


def score_raw(
    ruleset: Ruleset,
    vocabulary: Vocabulary,
    facts: Mapping[str, Any] | None,
    answers: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Assessment:
    """Validate and score in one call (raises :class:`InvalidInput`)."""
    return score(ruleset, prepare(ruleset, vocabulary, facts, answers, overrides))


__all__ = [
    "COMPLETE", "INCOMPLETE", "Assessment", "IndicatorResult", "InvalidInput", "Prepared",
    "flatten", "indicator_dict", "prepare", "score", "score_raw", "to_dict",
    "MISSING_FACTS", "PENDING", "SCORED", "NOT_APPLICABLE", "OVERRIDDEN",
]
