"""The rule kinds: each a small class that turns facts and answers into points.

A rule is built once from its validated ruleset entry (``build_rule``, from the models of
:mod:`app.engine.fileformat`, which check everything and parse every formula), and then
evaluated many times. Evaluation never raises for bad data: missing facts, missing answers and
zero denominators become a status on the outcome so that the indicator can say what it needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import TYPE_CHECKING, Any

from app.engine.formula import Formula, FormulaZeroDivision

if TYPE_CHECKING:  # the file-format models are not compiled; the rules only read them
    from app.engine import fileformat as ff

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
PCT_Q = Decimal("0.01")

ROUNDING_MODES = {
    "down": ROUND_DOWN,
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "up": ROUND_UP,
}

SCORED = "scored"
MISSING_FACTS = "missing_facts"
PENDING = "judgment_pending"
NOT_APPLICABLE = "not_applicable"
OVERRIDDEN = "overridden"


_FMT: dict[Decimal, str] = {}


def fmt(d: Decimal) -> str:
    """Plain text of a number, without exponent or trailing zeros: 93.97, 88.5, 100.

    Equal numbers print alike (5, 5.0 and 5E0 are all "5"), so the text is cached by value:
    a breakdown prints the same few points and amounts many times."""
    known = _FMT.get(d)
    if known is not None:
        return known
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    s = "0" if s in {"-0", ""} else s
    if len(_FMT) >= 4096:
        _FMT.clear()
    _FMT[d] = s
    return s


def pct(ratio: Decimal) -> str:
    """A ratio as a percentage with two decimals: 0.976638 -> 97.66%."""
    return format((ratio * HUNDRED).quantize(PCT_Q, ROUND_HALF_UP), "f") + "%"


class Text:
    """A reason rendered on demand: scoring stays cheap, explanations are built when shown."""

    __slots__ = ("fn", "args")

    def __init__(self, fn: Callable[..., str], *args: Any) -> None:
        self.fn = fn
        self.args = args

    def __str__(self) -> str:
        return self.fn(*self.args)


def _show(value: Decimal, percent: bool) -> str:
    return pct(value) if percent else fmt(value)


def _rate_reason(label: str, rate: Decimal, percent: bool, lost: Decimal) -> str:
    return f"{label}{_show(rate, percent)}，扣{fmt(lost)}分"


def _band_reason(label: str, value: Decimal, percent: bool, band: Band, points: Decimal) -> str:
    return f"{label}{_show(value, percent)}（{band.text(percent)}），得{fmt(band.score)}分，扣{fmt(points - band.score)}分"


def _count_reason(finding: str, n: Decimal, per: Decimal, lost: Decimal) -> str:
    return f"{finding}{fmt(n)}项，每项扣{fmt(per)}分，扣{fmt(lost)}分"


def _finding_reason(reason: str, take: Decimal) -> str:
    return f"{reason}，扣{fmt(take)}分"


def _step_reason(label: str, value: Decimal, percent: bool, threshold: Decimal, step: Decimal, per: Decimal,
                 lost: Decimal) -> str:
    return (f"{label}{_show(value, percent)}，超过{_show(threshold, percent)}，每{_show(step, percent)}"
            f"扣{fmt(per)}分，扣{fmt(lost)}分")


def _quarter_reason(ratios: list[Decimal], avg: Decimal, lost: Decimal) -> str:
    return f"季度预算执行率{'/'.join(pct(r) for r in ratios)}，全年平均执行率{pct(avg)}，扣{fmt(lost)}分"


def _cohort_reason(label: str, value: Decimal, mean: Decimal, lost: Decimal) -> str:
    relation = "不低于" if value >= mean else "低于"
    return f"{label}{pct(value)}，{relation}同类单位均值{pct(mean)}，扣{fmt(lost)}分"


def _item_reason(text: str, why: str) -> str:
    return f"{text}：{why}"


def _part_reason(name: str, reason: str | Text) -> str:
    return f"{name}：{reason}"


@dataclass(slots=True)
class Answer:
    """An evaluator's answer for one address (indicator code or code/key)."""

    score: Decimal | None = None
    met: bool | None = None
    reason: str | None = None
    findings: list[str] | None = None
    count: Decimal | None = None
    events: list[str] | None = None
    #: True: not applicable; False: the evaluator says it applies; None: not said
    not_applicable: bool | None = None


@dataclass(slots=True)
class Ctx:
    facts: Mapping[str, Any]
    answers: Mapping[str, Answer]
    quantum: Decimal
    rounding: str

    def round(self, d: Decimal) -> Decimal:
        return d.quantize(self.quantum, self.rounding)


class Outcome:
    """What a rule found. Lists are created only when something is added (scoring is hot)."""

    __slots__ = ("score", "status", "input_names", "values", "deductions", "missing_facts",
                 "missing_answers", "messages", "parts", "warnings")

    def __init__(self, score: Decimal | None, status: str = SCORED, *, missing_facts: list[str] | None = None,
                 input_names: tuple[str, ...] = ()) -> None:
        self.score = score
        self.status = status
        #: facts read (their values are taken from the facts when the result is rendered)
        self.input_names = input_names
        #: (label, value, is_percent)
        self.values: list[tuple[str, Decimal, bool]] | None = None
        #: (points lost, reason, source)
        self.deductions: list[tuple[Decimal, str | Text, str]] | None = None
        self.missing_facts = missing_facts
        self.missing_answers: list[str] | None = None
        self.messages: list[str] | None = None
        #: (part name, outcome) of a composite rule, flattened when shown
        self.parts: list[tuple[str, Outcome]] | None = None
        #: (code, message) for the assessment's warnings, e.g. a full score given for nothing to count
        self.warnings: list[tuple[str, str]] | None = None

    def all_values(self) -> list[tuple[str, Decimal, bool]]:
        out = list(self.values or [])
        for _, sub in self.parts or []:
            out.extend(sub.all_values())
        return out

    def all_deductions(self) -> list[tuple[Decimal, str | Text, str]]:
        out = list(self.deductions or [])
        for name, sub in self.parts or []:
            for lost, reason, source in sub.all_deductions():
                out.append((lost, Text(_part_reason, name, reason), source))
        return out

    def value(self, label: str, value: Decimal, percent: bool = True) -> None:
        if self.values is None:
            self.values = []
        self.values.append((label, value, percent))

    def deduct(self, lost: Decimal, reason: str | Text, source: str) -> None:
        if self.deductions is None:
            self.deductions = []
        self.deductions.append((lost, reason, source))

    def need_answer(self, addr: str) -> None:
        if self.missing_answers is None:
            self.missing_answers = []
        self.missing_answers.append(addr)

    def note(self, message: str) -> None:
        if self.messages is None:
            self.messages = []
        self.messages.append(message)

    def warn(self, code: str, message: str) -> None:
        if self.warnings is None:
            self.warnings = []
        self.warnings.append((code, message))


# --------------------------------------------------------------------------- helpers


def _missing(names: tuple[str, ...], facts: Mapping[str, Any]) -> list[str] | None:
    """The facts of ``names`` (sorted) that are absent, or None when all are there."""
    for n in names:
        if n not in facts:
            return [m for m in names if m not in facts]
    return None


@dataclass(slots=True)
class ZeroIf:
    when: Formula
    reason: str
    names: tuple[str, ...] = ()


def _zero_ifs(specs: list[ff.ZeroIfSpec]) -> list[ZeroIf]:
    return [ZeroIf(z.when, z.reason, tuple(sorted(z.when.names))) for z in specs]


NOTHING_TO_COUNT = "nothing_to_count"


@dataclass(slots=True)
class Condition:
    """A condition that decides a rule or a checklist item by itself (``met_if``,
    ``nothing_to_count``), its texts rendered once, when the ruleset loads."""

    when: Formula
    names: tuple[str, ...]
    note: str
    #: the assessment's warning (nothing_to_count only)
    warning: str | None


def _condition(spec: ff.ConditionSpec | None, key: str, points: Decimal,
               item_text: str | None = None) -> Condition | None:
    """An optional ``{when, reason}`` entry (``nothing_to_count``, ``met_if``), its texts rendered."""
    if spec is None:
        return None
    reason = spec.reason
    note = reason if item_text is None else _item_reason(item_text, reason)
    warning = f"{reason}，按满分{fmt(points)}分计" if key == NOTHING_TO_COUNT else None
    return Condition(spec.when, tuple(sorted(spec.when.names)), note, warning)


def _holds(cond: Condition, facts: Mapping[str, Any]) -> bool:
    try:
        return bool(cond.when(facts))
    except FormulaZeroDivision:
        return False


def _nothing_to_count(out: Outcome, points: Decimal, cond: Condition) -> Outcome:
    """Full points for a clause about all of a set that is empty this year (docs/rulesets.md,
    "Nothing to count"): the clause holds trivially; the assessment says so in a warning."""
    out.score = points
    out.note(cond.note)
    if cond.warning is not None:
        out.warn(NOTHING_TO_COUNT, cond.warning)
    return out


# --------------------------------------------------------------------------- rules


class Rule:
    kind: str = ""
    points: Decimal
    label: str
    #: every fact this rule may read
    facts: frozenset[str] = frozenset()
    #: the same, sorted (set by build_rule)
    names: tuple[str, ...] = ()
    #: whether a judgment answer ({score, reason}) at the rule's address is meaningful
    accepts_judgment: bool = False
    #: whether a rule's score can only rise when its rate does (for property tests)
    monotonic_in: tuple[str, ...] = ()
    #: a part of a composite: its score is not rounded, the indicator's sum is (set by the ruleset
    #: loader from ``rounding.parts``, see :func:`mark_parts`)
    exact: bool = False

    def _rounded(self, ctx: Ctx, raw: Decimal) -> Decimal:
        return raw if self.exact else ctx.round(raw)

    def _lost(self, ctx: Ctx, score: Decimal) -> Decimal:
        """Points lost as the deduction shows them: an unrounded part's score may run to many
        places, its deduction is shown as the ruleset rounds scores (the parts' sum stays exact)."""
        return self.points - (ctx.round(score) if self.exact else score)

    @property
    def formula_text(self) -> str | None:
        return None

    def answer_addresses(self, addr: str) -> dict[str, str]:
        """Answer addresses this rule reads, mapped to their shape."""
        return {addr: "judgment"} if self.accepts_judgment else {}

    def evaluate(self, ctx: Ctx, addr: str) -> Outcome:
        raise NotImplementedError

    def _judged(self, ctx: Ctx, addr: str, cap: Decimal, out: Outcome, why: str) -> Outcome:
        """Fall back to the evaluator's judgment at ``addr`` (bounded by ``cap``)."""
        answer = ctx.answers.get(addr)
        if answer is None or answer.score is None:
            out.score = None
            out.status = PENDING
            out.need_answer(addr)
            out.note(why)
            return out
        if answer.score > cap:
            out.score = None
            out.status = PENDING
            out.note(f"{why}；评价人给出的{fmt(answer.score)}分超过该档上限{fmt(cap)}分")
            return out
        out.score = answer.score
        out.note(why)
        if answer.score < self.points:
            out.deduct(*(self.points - answer.score, answer.reason or "评价人判定", "evaluator"))
        return out


class Judgment(Rule):
    """The evaluator scores. ``zero_if`` conditions (facts required) score 0 first; a ``formula``
    is only shown: computed with its inputs when its facts are present, so the judgment is made
    on the number, and never scored."""

    kind = "judgment"
    accepts_judgment = True

    def __init__(self, spec: ff.JudgmentSpec, points: Decimal) -> None:
        self.points = points
        self.label = spec.name
        self.formula: Formula | None = spec.formula
        self.percent = spec.display == "percent"
        self.zero_if = _zero_ifs(spec.zero_if)
        required: set[str] = set()
        for z in self.zero_if:
            required |= z.when.names
        shown = set(self.formula.names) if self.formula is not None else set()
        self.required = tuple(sorted(required))
        self.shown = tuple(sorted(shown))
        self.facts = frozenset(required | shown)
        self.plain = self.formula is None and not self.zero_if

    @property
    def formula_text(self) -> str | None:
        return None if self.formula is None else self.formula.text

    def evaluate(self, ctx: Ctx, addr: str) -> Outcome:
        if self.plain:
            return self._judged(ctx, addr, self.points, Outcome(None), "评价人判定")
        facts = ctx.facts
        missing = _missing(self.required, facts)
        if missing:
            return Outcome(None, MISSING_FACTS, missing_facts=missing)
        out = Outcome(None, input_names=self.names)
        for z in self.zero_if:
            try:
                hit = bool(z.when(facts))
            except FormulaZeroDivision:
                out.status = PENDING
                out.note(f"条件“{z.when.text}”的分母为0，无法判断，需评价人以覆盖（override）给分")
                return out
            if hit:
                out.score = ZERO
                out.deduct(self.points, z.reason, "computed")
                return out
        f = self.formula
        if f is not None and _missing(self.shown, facts) is None:
            try:
                out.value(self.label, f(facts), self.percent)
            except FormulaZeroDivision:
                out.note(f"{self.label}的分母为0，无法计算")
        return self._judged(ctx, addr, self.points, out, "评价人判定")


@dataclass(slots=True)
class ChecklistItem:
    key: str
    text: str
    points: Decimal
    fact: str | None
    #: conditions that meet the item by themselves (``met_if``, ``nothing_to_count``): when their
    #: facts are present and they hold; otherwise the item is answered as usual
    conditions: tuple[Condition, ...] = ()


class Checklist(Rule):
    kind = "checklist"

    def __init__(self, spec: ff.ChecklistSpec, points: Decimal) -> None:
        self.points = points
        self.items: list[ChecklistItem] = []
        for item in spec.items:
            conditions = tuple(
                c for c in (_condition(item.met_if, "met_if", item.points, item.text),
                            _condition(item.nothing_to_count, NOTHING_TO_COUNT, item.points, item.text))
                if c is not None
            )
            self.items.append(ChecklistItem(item.key, item.text, item.points, item.fact, conditions))
        facts = spec.fact_names()
        self.facts = frozenset(facts)
        self._addrs: dict[str, list[str]] = {}

    def answer_addresses(self, addr: str) -> dict[str, str]:
        return {f"{addr}/{it.key}": "item" for it in self.items if it.fact is None}

    def evaluate(self, ctx: Ctx, addr: str) -> Outcome:
        out = Outcome(ZERO, input_names=self.names)
        score = ZERO
        addrs = self._addrs.get(addr)
        if addrs is None:
            addrs = self._addrs[addr] = [addr + "/" + it.key for it in self.items]
        for i, it in enumerate(self.items):
            if it.fact is not None:
                if it.fact not in ctx.facts:
                    if out.missing_facts is None:
                        out.missing_facts = []
                    out.missing_facts.append(it.fact)
                    continue
                met = bool(ctx.facts[it.fact])
                if met:
                    score += it.points
                else:
                    out.deduct(it.points, Text(_item_reason, it.text, "未达到"), "computed")
                continue
            if it.conditions and self._decided(ctx.facts, it.conditions, out):
                score += it.points
                continue
            item_addr = addrs[i]
            a = ctx.answers.get(item_addr)
            if a is None or (a.met is None and a.score is None):
                out.need_answer(item_addr)
                continue
            got = a.score if a.score is not None else (it.points if a.met else ZERO)
            got = min(got, it.points)
            score += got
            if got < it.points:
                why = a.reason or "未达到"
                out.deduct(it.points - got, Text(_item_reason, it.text, why), "evaluator")
        if out.missing_facts:
            out.status, out.score = MISSING_FACTS, None
        elif out.missing_answers:
            out.status, out.score = PENDING, None
        else:
            out.score = score
        return out


    @staticmethod
    def _decided(facts: Mapping[str, Any], conditions: tuple[Condition, ...], out: Outcome) -> bool:
        """Whether a condition meets the item; its facts are optional (absent: answered as usual)."""
        for cond in conditions:
            if _missing(cond.names, facts) is not None:
                continue
            try:
                hit = bool(cond.when(facts))
            except FormulaZeroDivision:
                hit = False
            if hit:
                out.note(cond.note)
                if cond.warning is not None:
                    out.warn(NOTHING_TO_COUNT, cond.warning)
                return True
        return False


class Rate(Rule):
    kind = "rate"
    accepts_judgment = True

    def __init__(self, spec: ff.RateSpec, points: Decimal) -> None:
        self.points = points
        self.label = spec.name
        self.formula = spec.formula
        self.cap = spec.cap
        self.zero_if = _zero_ifs(spec.zero_if)
        self.nothing_to_count = _condition(spec.nothing_to_count, NOTHING_TO_COUNT, points)
        self.percent = spec.display == "percent"
        self.facts = frozenset(spec.fact_names())
        self.monotonic_in = tuple(sorted(self.formula.names))

    @property
    def formula_text(self) -> str:
        return self.formula.text

    def evaluate(self, ctx: Ctx, addr: str) -> Outcome:
        facts = ctx.facts
        missing = _missing(self.names, facts)
        if missing:
            return Outcome(None, MISSING_FACTS, missing_facts=missing)
        out = Outcome(None, input_names=self.names)
        try:
            for z in self.zero_if:
                if z.when(facts):
                    out.score = ZERO
                    out.deduct(self.points, z.reason, "computed")
                    return out
            rate = self.formula(facts)
        except FormulaZeroDivision:
            # Nothing to count leaves the rate without a denominator: the condition is read here.
            vacuous = self.nothing_to_count
            if vacuous is not None and _holds(vacuous, facts):
                return _nothing_to_count(out, self.points, vacuous)
            return self._judged(ctx, addr, self.points, out, f"{self.label}的分母为0，无法计算，需评价人判定")
        out.value(self.label, rate, self.percent)
        raw = self.points * min(max(rate, ZERO), self.cap)
        score = self._rounded(ctx, raw)
        out.score = score
        if score < self.points:
            lost = self._lost(ctx, score)
            if lost:
                out.deduct(lost, Text(_rate_reason, self.label, rate, self.percent, lost), "computed")
        return out


@dataclass(slots=True)
class Band:
    gt: Decimal | None
    gte: Decimal | None
    lt: Decimal | None
    lte: Decimal | None
    score: Decimal
    judgment: bool

    def compile(self) -> Callable[[Decimal], bool]:
        """A predicate with only the comparisons this band needs."""
        checks: list[Callable[[Decimal], bool]] = []
        if self.gt is not None:
            gt = self.gt
            checks.append(lambda v: v > gt)
        if self.gte is not None:
            gte = self.gte
            checks.append(lambda v: v >= gte)
        if self.lt is not None:
            lt = self.lt
            checks.append(lambda v: v < lt)
        if self.lte is not None:
            lte = self.lte
            checks.append(lambda v: v <= lte)
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        a, b = checks[0], checks[1]
        return lambda v: a(v) and b(v)

    def text(self, percent: bool) -> str:
        show = pct if percent else fmt
        parts = []
        if self.gt is not None:
            parts.append(f">{show(self.gt)}")
        if self.gte is not None:
            parts.append(f"≥{show(self.gte)}")
        if self.lt is not None:
            parts.append(f"<{show(self.lt)}")
        if self.lte is not None:
            parts.append(f"≤{show(self.lte)}")
        return "且".join(parts) or "任意值"

    def lower(self) -> tuple[Decimal, bool]:
        if self.gt is not None:
            return self.gt, False
        if self.gte is not None:
            return self.gte, True
        return Decimal("-Infinity"), True

    def upper(self) -> tuple[Decimal, bool]:
        if self.lt is not None:
            return self.lt, False
        if self.lte is not None:
            return self.lte, True
        return Decimal("Infinity"), True


def band_overlap(a: Band, b: Band) -> bool:
    """Whether two bands hold a value in common."""
    (alo, alo_in), (ahi, ahi_in) = a.lower(), a.upper()
    (blo, blo_in), (bhi, bhi_in) = b.lower(), b.upper()
    lo, lo_in = (alo, alo_in) if alo > blo else (blo, blo_in) if blo > alo else (alo, alo_in and blo_in)
    hi, hi_in = (ahi, ahi_in) if ahi < bhi else (bhi, bhi_in) if bhi < ahi else (ahi, ahi_in and bhi_in)
    return lo < hi or (lo == hi and lo_in and hi_in)


class Bands(Rule):
    kind = "bands"
    accepts_judgment = True

    def __init__(self, spec: ff.BandsSpec, points: Decimal) -> None:
        self.points = points
        self.label = spec.name
        self.formula = spec.formula
        self.zero_if = _zero_ifs(spec.zero_if)
        self.percent = spec.display == "percent"
        self.bands: list[Band] = [b.band() for b in spec.bands]
        #: the bands may leave values without a band (such a value goes to the evaluator)
        self.allow_gaps = spec.allow_gaps
        self.facts = frozenset(spec.fact_names())
        self._compiled = [(b, b.compile()) for b in self.bands]

    @property
    def formula_text(self) -> str:
        return self.formula.text

    def evaluate(self, ctx: Ctx, addr: str) -> Outcome:
        facts = ctx.facts
        missing = _missing(self.names, facts)
        if missing:
            return Outcome(None, MISSING_FACTS, missing_facts=missing)
        out = Outcome(None, input_names=self.names)
        try:
            for z in self.zero_if:
                if z.when(facts):
                    out.score = ZERO
                    out.deduct(self.points, z.reason, "computed")
                    return out
            value = self.formula(facts)
        except FormulaZeroDivision:
            return self._judged(ctx, addr, self.points, out, f"{self.label}的分母为0，无法计算，需评价人判定")
        out.value(self.label, value, self.percent)
        for band, holds in self._compiled:
            if holds(value):
                if band.score == self.points and not band.judgment:
                    out.score = band.score
                    return out
                if band.judgment:
                    shown = pct(value) if self.percent else fmt(value)
                    return self._judged(
                        ctx, addr, band.score, out,
                        f"{self.label}{shown}（{band.text(self.percent)}），该档由评价人视情评分",
                    )
                out.score = band.score
                if band.score < self.points:
                    out.deduct(self.points - band.score,
                               Text(_band_reason, self.label, value, self.percent, band, self.points), "computed")
                return out
        shown = pct(value) if self.percent else fmt(value)
        return self._judged(ctx, addr, self.points, out, f"{self.label}{shown}不在任何评分档内，需评价人判定")


@dataclass(slots=True)
class CountLine:
    """One counted finding of a deduction: how many (a number, or a condition counting 1 when it
    holds), the points per finding, and its label."""

    count: Formula
    per: Decimal
    finding: str
    #: label of the count among the shown values
    label: str = ""


class Deduction(Rule):
    """Points minus ``per`` for each finding, until zero ("扣完为止"). Findings are counted by
    formulas over facts (``count``, or several ``counts`` deducting from the same points), or
    listed by the evaluator (``findings`` answer)."""

    kind = "deduction"

    def __init__(self, spec: ff.DeductionSpec, points: Decimal) -> None:
        self.points = points
        self.finding = spec.finding
        self.lines: list[CountLine] = []
        if spec.counts is not None:
            for line in spec.counts:
                self.lines.append(CountLine(line.count, line.per, line.finding, line.finding + "数"))
            self.per = self.lines[0].per
        else:
            assert spec.per is not None  # the model requires per without counts
            self.per = spec.per
            if spec.count is not None:
                self.lines.append(CountLine(spec.count, self.per, self.finding, self.finding + "数"))
        self.count = self.lines[0].count if self.lines else None
        self.nothing_to_count = _condition(spec.nothing_to_count, NOTHING_TO_COUNT, points)
        self.facts = frozenset(spec.fact_names())

    @property
    def formula_text(self) -> str | None:
        if not self.lines:
            return None
        if len(self.lines) == 1:
            return self.lines[0].count.text
        return "；".join(f"{ln.finding}: {ln.count.text}" for ln in self.lines)

    def answer_addresses(self, addr: str) -> dict[str, str]:
        return {} if self.lines else {addr: "findings"}

    def evaluate(self, ctx: Ctx, addr: str) -> Outcome:
        out = Outcome(None)
        if self.lines:
            facts = ctx.facts
            missing = _missing(self.names, facts)
            if missing:
                return Outcome(None, MISSING_FACTS, missing_facts=missing)
            out.input_names = self.names
            remaining = self.points
            try:
                counted = [line.count(facts) for line in self.lines]
            except FormulaZeroDivision:
                out.status = PENDING
                out.note(f"{self.finding}数的公式分母为0，无法计算，需评价人以覆盖（override）给分")
                return out
            vacuous = self.nothing_to_count
            for i, line in enumerate(self.lines):
                v = counted[i]
                n = (ONE if v else ZERO) if isinstance(v, bool) else max(v, ZERO)
                out.value(line.label, n, False)
                take = min(remaining, n * line.per)
                if take:
                    out.deduct(take, Text(_count_reason, line.finding, n, line.per, take), "computed")
                remaining -= take
            # With nothing to count nothing is deducted: the condition is read only then.
            if vacuous is not None and remaining == self.points and _holds(vacuous, facts):
                out.values = None
                return _nothing_to_count(out, self.points, vacuous)
            out.score = remaining
            return out
        a = ctx.answers.get(addr)
        if a is None or a.findings is None:
            out.status = PENDING
            out.need_answer(addr)
            out.note("需评价人列出发现的问题（无问题时为空列表）")
            return out
        remaining = self.points
        for reason in a.findings:
            take = min(self.per, remaining)
            if take:
                out.deduct(take, Text(_finding_reason, reason, take), "evaluator")
            remaining -= take
        out.value(f"{self.finding}数", Decimal(len(a.findings)), False)
        out.score = remaining
        return out


class StepDeduction(Rule):
    kind = "step_deduction"
    accepts_judgment = True

    def __init__(self, spec: ff.StepDeductionSpec, points: Decimal) -> None:
        self.points = points
        self.label = spec.name
        self.formula = spec.formula
        self.threshold = spec.threshold
        self.step = spec.step
        self.per = spec.per
        self.steps = spec.steps
        self.zero_if = _zero_ifs(spec.zero_if)
        self.percent = spec.display == "percent"
        self.facts = frozenset(spec.fact_names())

    @property
    def formula_text(self) -> str:
        return self.formula.text

    def evaluate(self, ctx: Ctx, addr: str) -> Outcome:
        facts = ctx.facts
        missing = _missing(self.names, facts)
        if missing:
            return Outcome(None, MISSING_FACTS, missing_facts=missing)
        out = Outcome(None, input_names=self.names)
        try:
            for z in self.zero_if:
                if z.when(facts):
                    out.score = ZERO
                    out.deduct(self.points, z.reason, "computed")
                    return out
            value = self.formula(facts)
        except FormulaZeroDivision:
            return self._judged(ctx, addr, self.points, out, f"{self.label}的分母为0，无法计算，需评价人判定")
        out.value(self.label, value, self.percent)
        excess = value - self.threshold
        if excess <= 0:
            out.score = self.points
            return out
        n = excess / self.step
        if self.steps == "floor":
            n = Decimal(math.floor(n))
        elif self.steps == "ceil":
            n = Decimal(math.ceil(n))
        # Rounding applies to the indicator's score (as everywhere), not to the deduction.
        out.score = self._rounded(ctx, self.points - min(self.points, n * self.per))
        lost = self._lost(ctx, out.score)
        if lost:
            out.deduct(lost, Text(_step_reason, self.label, value, self.percent, self.threshold, self.step,
                                  self.per, lost), "computed")
        return out


_QUARTERS = ("一季度", "二季度", "三季度", "四季度")


class Quarterly(Rule):
    kind = "quarterly"
    accepts_judgment = False

    def __init__(self, spec: ff.QuarterlySpec, points: Decimal) -> None:
        self.points = points
        self.label = spec.name
        self.progress = list(spec.progress)
        self.targets = list(spec.targets)
        self.quarter_points = list(spec.quarter_points)
        self.average_points = spec.average_points
        self.cap = spec.cap
        names = spec.fact_names()
        self.facts = frozenset(names)
        self.monotonic_in = tuple(sorted(names))

    @property
    def formula_text(self) -> str:
        return (
            "Σ 季度分值×min(季度支出进度/序时进度, cap) + 平均分值×min(Σ(季度支出进度/序时进度)÷4, cap)；"
            f"序时进度 {'/'.join(pct(t) for t in self.targets)}"
        )

    def evaluate(self, ctx: Ctx, addr: str) -> Outcome:
        facts = ctx.facts
        missing = _missing(self.names, facts)
        if missing:
            return Outcome(None, MISSING_FACTS, missing_facts=missing)
        out = Outcome(None, input_names=self.names)
        raw = ZERO
        ratios = []
        cap = self.cap
        for q, f, target, qp in zip(_QUARTERS, self.progress, self.targets, self.quarter_points, strict=True):
            r = f(facts) / target
            ratios.append(r)
            out.value(f"{q}预算执行率", r)
            raw += qp * min(r, cap)
        avg = sum(ratios, ZERO) / 4
        out.value("全年平均执行率", avg)
        raw += self.average_points * min(avg, cap)
        score = self._rounded(ctx, max(raw, ZERO))
        out.score = score
        if score < self.points:
            lost = self._lost(ctx, score)
            if lost:
                out.deduct(lost, Text(_quarter_reason, ratios, avg, lost), "computed")
        return out


class CohortRelative(Rule):
    kind = "cohort_relative"
    accepts_judgment = True

    def __init__(self, spec: ff.CohortRelativeSpec, points: Decimal) -> None:
        self.points = points
        self.label = spec.name
        self.formula = spec.formula
        self.mean = spec.mean
        self.at_or_above = spec.at_or_above
        self.below = spec.below
        self.facts = frozenset(spec.fact_names())

    @property
    def formula_text(self) -> str:
        return f"{self.formula.text} 对比 {self.mean}"

    def evaluate(self, ctx: Ctx, addr: str) -> Outcome:
        facts = ctx.facts
        missing = _missing(self.names, facts)
        if missing:
            return Outcome(None, MISSING_FACTS, missing_facts=missing)
        out = Outcome(None, input_names=self.names)
        try:
            value = self.formula(facts)
        except FormulaZeroDivision:
            return self._judged(ctx, addr, self.points, out, f"{self.label}的分母为0，无法计算，需评价人判定")
        mean = facts[self.mean]
        out.value(self.label, value)
        out.value("同类单位均值", mean)
        if value >= mean:
            out.score = self.at_or_above
        else:
            out.score = self.below
        if out.score < self.points:
            out.deduct(self.points - out.score, Text(_cohort_reason, self.label, value, mean, self.points - out.score),
                       "computed")
        return out


@dataclass(slots=True)
class Part:
    key: str
    name: str
    points: Decimal
    rule: Rule


class Composite(Rule):
    kind = "composite"

    def __init__(self, spec: ff.CompositeSpec, points: Decimal) -> None:
        self.points = points
        self.parts: list[Part] = [Part(p.key, p.label, p.points, build_rule(p.rule, p.points)) for p in spec.parts]
        self.zero_if = _zero_ifs(spec.zero_if)
        self.facts = frozenset(spec.fact_names())
        self._addrs: dict[str, list[str]] = {}

    @property
    def formula_text(self) -> str | None:
        texts = [f"{p.name}: {p.rule.formula_text}" for p in self.parts if p.rule.formula_text]
        return "；".join(texts) or None

    def answer_addresses(self, addr: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for p in self.parts:
            out.update(p.rule.answer_addresses(f"{addr}/{p.key}"))
        return out

    def evaluate(self, ctx: Ctx, addr: str) -> Outcome:
        facts = ctx.facts
        out = Outcome(ZERO, input_names=self.names)
        missing_facts: list[str] = []
        for z in self.zero_if:
            absent = _missing(z.names, facts)
            if absent:
                missing_facts.extend(absent)
                continue
            try:
                hit = bool(z.when(facts))
            except FormulaZeroDivision:
                out.status, out.score = PENDING, None
                out.note(f"条件“{z.when.text}”的分母为0，无法判断，需评价人以覆盖（override）给分")
                return out
            if hit:
                out.deduct(self.points, z.reason, "computed")
                return out
        total = ZERO
        pending = False
        addrs = self._addrs.get(addr)
        if addrs is None:
            addrs = self._addrs[addr] = [addr + "/" + p.key for p in self.parts]
        subs: list[tuple[str, Outcome]] = []
        # The parts are added unrounded (Rule.exact) and the indicator's sum is rounded once, by
        # the scoring, unless the ruleset rounds each part (rounding.parts).
        for part, part_addr in zip(self.parts, addrs, strict=False):
            sub = part.rule.evaluate(ctx, part_addr)
            subs.append((part.name, sub))
            if sub.warnings:
                for code, message in sub.warnings:
                    out.warn(code, f"{part.name}：{message}")
            if sub.missing_facts:
                missing_facts.extend(f for f in sub.missing_facts if f not in missing_facts)
            if sub.missing_answers:
                for a in sub.missing_answers:
                    out.need_answer(a)
            if sub.messages:
                for m in sub.messages:
                    out.note(f"{part.name}：{m}")
            if sub.score is None:
                pending = True
            else:
                total += sub.score
        out.parts = subs
        if missing_facts:
            out.missing_facts = missing_facts
            out.status, out.score = MISSING_FACTS, None
        elif pending:
            out.status, out.score = PENDING, None
        else:
            out.score = total
        return out


def mark_parts(rule: Rule, exact: bool) -> None:
    """Make the parts of a composite (and of composites within it) exact or rounded."""
    if isinstance(rule, Composite):
        for part in rule.parts:
            part.rule.exact = exact
            mark_parts(part.rule, exact)


RULE_KINDS: dict[str, Callable[[Any, Decimal], Rule]] = {
    "judgment": Judgment,
    "checklist": Checklist,
    "rate": Rate,
    "bands": Bands,
    "deduction": Deduction,
    "step_deduction": StepDeduction,
    "quarterly": Quarterly,
    "cohort_relative": CohortRelative,
    "composite": Composite,
}


def build_rule(spec: ff.RuleBase, points: Decimal) -> Rule:
    """The compiled rule of a validated rule entry (``points``: its indicator's or part's)."""
    kind: str = spec.kind  # type: ignore[attr-defined]  # every rule kind's model has one
    rule = RULE_KINDS[kind](spec, points)
    rule.kind = kind
    rule.names = tuple(sorted(rule.facts))
    if not hasattr(rule, "label"):
        rule.label = ""
    return rule
