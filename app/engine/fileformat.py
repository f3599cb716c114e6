"""The ruleset file format: one set of Pydantic models, the one definition of what a file may say.

The loader (:func:`app.engine.ruleset.load_ruleset_text`) validates a parsed file through
:class:`RulesetFile` and then builds the compiled rules from the validated models;
``rulesets/ruleset.schema.json`` is generated from the same models (``make schemas``) and the
API's ``POST /v1/rulesets`` and ``rulesets:validate`` carry them as their ``document``.

The semantic checks (codes unique, points add up, facts exist, formulas parse, bands neither
overlap nor leave gaps unless the file says so, ...) are validators of these models. A validator
that finds problems raises one :func:`problems` error whose context lists each problem with a
JSON pointer relative to the model that found it; :func:`app.engine.ruleset.load_ruleset_text`
turns every error into a :class:`~app.engine.errors.Problem` with its pointer and line.

This module is not compiled with mypyc (Pydantic builds its validators from the annotations at
import): scoring never touches it, only loading does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.api.enums import request_schema
from app.engine.cases import RulesetCase
from app.engine.errors import FormulaError, FormulaZeroDivision, LimitExceeded
from app.engine.formula import Formula, parse
from app.engine.rules import ROUNDING_MODES, ZERO, Band, band_overlap, fmt, pct

NAME_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
CODE_RE = re.compile(r"^[0-9A-Za-z]+(\.[0-9A-Za-z]+)*$")

#: Error type of a semantic check; its context's ``problems`` are (relative pointer, message).
CHECK = "ruleset_check"
#: Error type of a document over a limit (a formula too long or too deep): refused as a whole.
LIMIT = "ruleset_limit"

#: What the JSON Schema cannot say; the schema's description repeats it (it promises no more).
SEMANTIC_CHECKS = (
    "every indicator and adjustment code is unique and a child's code starts with its parent's code and '.'; "
    "part keys and checklist item keys are unique within their rule",
    "the 一级 indicators add up to total_points, children to their parent, composite parts, checklist items, "
    "and quarterly quarter_points plus average_points to their rule's points; a rule's own points equal its "
    "indicator's; no points are negative",
    "every fact a rule reads (its formulas and conditions, a checklist item's fact, a cohort mean) is in "
    "rulesets/facts.yaml",
    "formulas parse in the restricted formula language, conditions are comparisons or yes/no facts and "
    "other formulas are numbers; a number given as text is a constant formula (\"85%\", \"1/3\")",
    "bands do not overlap and leave no gap (unless allow_gaps: true), each has at most one lower and one upper "
    "bound; band and cohort scores lie within the rule's points",
    "grades are listed from the highest min down and the lowest starts at or below bounds.min; bounds.min is "
    "not above bounds.max",
    "only a leaf indicator has not_applicable, and its transfer_to names another leaf indicator",
    "a deduction has either count and per, or counts (nothing_to_count only with counted findings); a checklist "
    "item decided by a fact has no met_if or nothing_to_count",
    "step is positive and quarterly targets are positive",
)


class Problems(list[tuple[str, str]]):
    """(pointer relative to the model, message) pairs found by one validator."""

    def add(self, pointer: str, message: str) -> None:
        self.append((pointer, message))

    def raise_any(self) -> None:
        if self:
            raise problems(self)


def problems(found: list[tuple[str, str]]) -> PydanticCustomError:
    return PydanticCustomError(CHECK, "{summary}", {"summary": found[0][1], "problems": list(found)})


def _fail(message: str, pointer: str = "") -> PydanticCustomError:
    return problems([(pointer, message)])


# --------------------------------------------------------------------------- value types


def _number(value: Any) -> Decimal:
    """A number: a YAML/JSON number, or text holding a constant formula ("85%", "1/3")."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise _fail("must be a number")
    if isinstance(value, str):
        f = _parse(value)
        if f.names or f.is_boolean:
            raise _fail(f"'{value}' must be a constant number")
        try:
            value = f({})
        except FormulaZeroDivision:
            raise _fail(f"'{value}' divides by zero") from None
    return Decimal(value)


def _parse(value: Any) -> Formula:
    try:
        return parse(value)
    except LimitExceeded as exc:
        raise PydanticCustomError(LIMIT, "{message}", {"message": exc.problems[0].message}) from None
    except FormulaError as exc:
        raise _fail(str(exc)) from None


def _numeric_formula(value: Any) -> Formula:
    f = _formula_value(value)
    if f.is_boolean:
        raise _fail(f"'{f.text}' must be a number, not a condition")
    return f


def _condition_formula(value: Any) -> Formula:
    f = _formula_value(value)
    if not (f.is_boolean or f.is_name):
        raise _fail(f"'{f.text}' must be a condition (a comparison or yes/no fact)")
    return f


def _formula_value(value: Any) -> Formula:
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise _fail("a formula is text (or a number)")
    return _parse(value)


def _key(value: Any) -> str:
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        value = fmt(Decimal(value))
    if not isinstance(value, str) or not value or "/" in value:
        raise _fail("'key' must be non-empty text without '/'")
    return value


def _code(value: Any) -> str:
    if not isinstance(value, str) or not CODE_RE.match(value):
        raise _fail("code must be quoted text such as \"2.1.1\"")
    return value


def _year(value: Any) -> int:
    if (isinstance(value, Decimal | int) and not isinstance(value, bool) and value == int(value)
            and 1990 <= value <= 2100):
        return int(value)
    raise _fail("a fiscal year is a whole number such as 2023")


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail("must be non-empty text")
    return value


def _reason(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail("'reason' is required text")
    return value.strip()


_FORMULA_TEXT = {"type": "string", "minLength": 1, "maxLength": 1000}
_FORMULA_SCHEMA = {"anyOf": [_FORMULA_TEXT, {"type": "number"}],
                   "description": "A formula in the restricted formula language over fact keys (docs/rulesets.md)"}
_as_text = PlainSerializer(lambda f: f.text, return_type=str)

#: A number, exact: a YAML number (read as Decimal), or a constant formula as text.
Num = Annotated[Decimal, PlainValidator(_number), PlainSerializer(fmt, return_type=str), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {**_FORMULA_TEXT, "description": "A constant formula: \"85%\", \"1/3\""}]})]
#: A formula that gives a number.
NumericFormula = Annotated[Formula, PlainValidator(_numeric_formula), _as_text, WithJsonSchema(_FORMULA_SCHEMA)]
#: A formula that gives yes/no: a comparison, or a yes/no fact.
ConditionFormula = Annotated[Formula, PlainValidator(_condition_formula), _as_text, WithJsonSchema(
    {**_FORMULA_SCHEMA, "description": "A condition: a comparison or a yes/no fact (restricted formula language)"})]
#: Any formula (a count: a number, or a condition counting 1 when it holds).
AnyFormula = Annotated[Formula, PlainValidator(_formula_value), _as_text, WithJsonSchema(_FORMULA_SCHEMA)]
#: A part's or a checklist item's key: the last segment of its answer address.
Key = Annotated[str, PlainValidator(_key), WithJsonSchema(
    {"anyOf": [{"type": "string", "minLength": 1, "pattern": "^[^/]+$"}, {"type": "number"}],
     "description": "The last segment of the answer address (a number is read as its text)"})]
Code = Annotated[str, PlainValidator(_code), WithJsonSchema(
    {"type": "string", "pattern": CODE_RE.pattern, "description": "Quoted, e.g. \"2.1.1\""})]
Year = Annotated[int, PlainValidator(_year), WithJsonSchema({"type": "integer", "minimum": 1990, "maximum": 2100})]
Text = Annotated[str, PlainValidator(_text), WithJsonSchema({"type": "string", "minLength": 1, "pattern": "\\S"})]
Display = Literal["percent", "number"]


class Spec(BaseModel):
    """Every part of a ruleset file: unknown keys are refused, and so is a key without a value (an
    optional key is left out, never null: the schema says so too, see request_schema)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=request_schema)

    @model_validator(mode="before")
    @classmethod
    def _keys_and_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            found = Problems()
            for k, v in data.items():
                if not isinstance(k, str):  # YAML's yes/no/on/off keys; Pydantic would skip them
                    found.add(f"/{_escape(str(k))}", f"unknown key '{k}'")
                elif v is None and k in cls.model_fields:
                    found.add(f"/{_escape(k)}", f"'{k}' has no value; give one or leave the key out")
            found.raise_any()
        return data


# --------------------------------------------------------------------------- conditions


class ZeroIfSpec(Spec):
    """A condition that scores the rule 0, with the reason shown."""

    when: ConditionFormula
    reason: str


class ConditionSpec(Spec):
    """A condition over facts and the reason shown when it holds."""

    when: ConditionFormula
    reason: Annotated[str, PlainValidator(_reason), WithJsonSchema({"type": "string", "minLength": 1, "pattern": "\\S"})]


def _condition_names(*conds: ConditionSpec | ZeroIfSpec | None) -> set[str]:
    names: set[str] = set()
    for c in conds:
        if c is not None:
            names |= c.when.names
    return names


# --------------------------------------------------------------------------- rules


class RuleBase(Spec):
    """What every rule kind has: ``points``, if given, repeats its indicator's (or part's)."""

    points: Num | None = None

    def fact_names(self) -> set[str]:
        """Every fact the rule may read."""
        return set()

    def check_points(self, points: Decimal) -> Problems:
        """Problems that need the points of the indicator or part holding the rule."""
        found = Problems()
        if self.points is not None and self.points != points:
            found.add("/points", f"rule points {fmt(self.points)} differ from the indicator's {fmt(points)}")
        return found


class JudgmentSpec(RuleBase):
    """The evaluator scores. ``zero_if`` conditions (facts required) score 0 first; a
    ``formula`` is only shown, computed with its inputs when its facts are present."""

    kind: Literal["judgment"]
    name: str = "指标值"
    formula: NumericFormula | None = Field(default=None, description="Shown with its inputs when its facts are present; never scored")
    display: Display = "percent"
    zero_if: list[ZeroIfSpec] = []

    def fact_names(self) -> set[str]:
        return (set(self.formula.names) if self.formula else set()) | _condition_names(*self.zero_if)


class ChecklistItemSpec(Spec):
    key: Key
    text: str
    points: Num
    fact: str | None = Field(default=None, description="A yes/no fact that decides the item (no answer then)")
    met_if: ConditionSpec | None = Field(default=None, description="Meets the item when its facts are present and it holds")
    nothing_to_count: ConditionSpec | None = Field(
        default=None, description="Meets the item, with a warning, when the set its clause is about is empty")

    @model_validator(mode="after")
    def _decided_once(self) -> ChecklistItemSpec:
        if self.fact is not None and (self.met_if is not None or self.nothing_to_count is not None):
            raise _fail("an item decided by a 'fact' takes no met_if / nothing_to_count")
        return self


class ChecklistSpec(RuleBase):
    """Items met or not (or scored) by the evaluator, or decided by a yes/no fact."""

    kind: Literal["checklist"]
    items: list[ChecklistItemSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_keys(self) -> ChecklistSpec:
        _unique([it.key for it in self.items], "/items", "item").raise_any()
        return self

    def fact_names(self) -> set[str]:
        names: set[str] = set()
        for it in self.items:
            if it.fact is not None:
                names.add(it.fact)
            names |= _condition_names(it.met_if, it.nothing_to_count)
        return names

    def check_points(self, points: Decimal) -> Problems:
        found = super().check_points(points)
        total = sum((it.points for it in self.items), ZERO)
        if total != points:
            found.add("/items", f"items add up to {fmt(total)} points, the rule has {fmt(points)}")
        return found


class RateSpec(RuleBase):
    """points × min(rate, cap)."""

    kind: Literal["rate"]
    name: str = "比率"
    formula: NumericFormula
    cap: Num = Decimal(1)
    zero_if: list[ZeroIfSpec] = []
    display: Display = "percent"
    nothing_to_count: ConditionSpec | None = None

    def fact_names(self) -> set[str]:
        return set(self.formula.names) | _condition_names(*self.zero_if, self.nothing_to_count)


class BandSpec(Spec):
    """One band: at most one lower bound (gt or gte), at most one upper bound (lt or lte)."""

    gt: Num | None = None
    gte: Num | None = None
    lt: Num | None = None
    lte: Num | None = None
    score: Num
    judgment: bool = Field(default=False, description="The evaluator scores a value in this band, up to its score.")

    @model_validator(mode="after")
    def _one_bound_each_side(self) -> BandSpec:
        if (self.gt is not None and self.gte is not None) or (self.lt is not None and self.lte is not None):
            raise _fail("use one lower bound (gt or gte) and one upper bound (lt or lte)")
        return self

    def band(self) -> Band:
        return Band(self.gt, self.gte, self.lt, self.lte, self.score, self.judgment)


class BandsSpec(RuleBase):
    """The score of the band the value falls in."""

    kind: Literal["bands"]
    name: str = "指标值"
    formula: NumericFormula
    bands: list[BandSpec] = Field(min_length=1)
    allow_gaps: bool = Field(default=False, description=(
        "The bands may leave values without a band (the evaluator judges such a value); "
        "without it, the bands must cover every value."))
    zero_if: list[ZeroIfSpec] = []
    display: Display = "percent"

    @property
    def percent(self) -> bool:
        return self.display == "percent"

    @model_validator(mode="after")
    def _bands_partition(self) -> BandsSpec:
        found = Problems()
        bands = [b.band() for b in self.bands]
        for i, band in enumerate(bands):
            for j in range(i):
                if band_overlap(band, bands[j]):
                    found.add(f"/bands/{i}", f"band {i} ({band.text(self.percent)}) overlaps band {j} "
                                             f"({bands[j].text(self.percent)})")
                    break
        if not found and not self.allow_gaps:
            gap = _first_gap(bands, pct if self.percent else fmt)
            if gap is not None:
                found.add("/bands", f"the bands leave {gap} without a band; add a band, or say allow_gaps: true "
                                    "to have the evaluator judge such values")
        found.raise_any()
        return self

    def fact_names(self) -> set[str]:
        return set(self.formula.names) | _condition_names(*self.zero_if)

    def check_points(self, points: Decimal) -> Problems:
        found = super().check_points(points)
        for i, b in enumerate(self.bands):
            if b.score < 0 or b.score > points:
                found.add(f"/bands/{i}/score", f"band score {fmt(b.score)} is outside [0, {fmt(points)}]")
        return found


def _first_gap(bands: list[Band], show: Callable[[Decimal], str]) -> str | None:
    """The first range of values no band holds, as text (bands known not to overlap), or None."""
    # By lower bound, an inclusive bound before an exclusive one at the same value.
    spans = sorted(((b.lower(), b.upper()) for b in bands), key=lambda s: (s[0][0], not s[0][1]))
    (lo, lo_in), _ = spans[0]
    if lo != Decimal("-Infinity"):
        return f"values below {show(lo)}" if lo_in else f"values up to {show(lo)}"
    reach, reach_in = spans[0][1]
    for (lo, lo_in), (hi, hi_in) in spans[1:]:
        if lo > reach or (lo == reach and not lo_in and not reach_in):
            left = ">" if reach_in else "≥"
            right = "<" if lo_in else "≤"
            return f"values {left}{show(reach)} and {right}{show(lo)}"
        if hi > reach or (hi == reach and hi_in):
            reach, reach_in = hi, hi_in
    if reach != Decimal("Infinity"):
        return f"values above {show(reach)}" if reach_in else f"values from {show(reach)} up"
    return None


class CountSpec(Spec):
    count: AnyFormula
    per: Num
    finding: str


class DeductionSpec(RuleBase):
    """Points minus ``per`` for each finding, until zero: findings counted by formulas over
    facts (``count``, or several ``counts``), or listed by the evaluator."""

    kind: Literal["deduction"]
    per: Num | None = None
    count: NumericFormula | None = None
    counts: list[CountSpec] | None = Field(default=None, min_length=1)
    finding: str = "发现问题"
    nothing_to_count: ConditionSpec | None = None

    @model_validator(mode="after")
    def _one_way_to_count(self) -> DeductionSpec:
        if self.counts is not None:
            if self.count is not None or self.per is not None:
                raise _fail("give either 'count' and 'per', or 'counts'", "/counts")
        elif self.per is None:
            raise _fail("'per' is required", "/per")
        if self.nothing_to_count is not None and self.counts is None and self.count is None:
            raise _fail("'nothing_to_count' needs findings counted from facts", "/nothing_to_count")
        return self

    def fact_names(self) -> set[str]:
        names = _condition_names(self.nothing_to_count)
        for line in self.counts or []:
            names |= line.count.names
        if self.count is not None:
            names |= self.count.names
        return names


class StepDeductionSpec(RuleBase):
    """Points minus ``per`` for every ``step`` the value is above ``threshold``."""

    kind: Literal["step_deduction"]
    name: str = "指标值"
    formula: NumericFormula
    threshold: Num
    step: Num
    per: Num
    steps: Literal["exact", "floor", "ceil"] = "exact"
    zero_if: list[ZeroIfSpec] = []
    display: Display = "percent"

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, v: Any) -> Any:
        if v not in {"exact", "floor", "ceil"}:
            raise _fail("'steps' must be exact, floor or ceil")
        return v

    @field_validator("step")
    @classmethod
    def _positive(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise _fail("'step' must be positive")
        return v

    def fact_names(self) -> set[str]:
        return set(self.formula.names) | _condition_names(*self.zero_if)


_FOUR = {"minItems": 4, "maxItems": 4}


class QuarterlySpec(RuleBase):
    """Each quarter's spending progress against its target (序时进度), and the average."""

    kind: Literal["quarterly"]
    name: str = "预算执行率"
    progress: Annotated[list[NumericFormula], Field(json_schema_extra=_FOUR)]
    targets: Annotated[list[Num], Field(json_schema_extra=_FOUR)] = [
        Decimal("0.25"), Decimal("0.5"), Decimal("0.75"), Decimal(1)]
    quarter_points: Annotated[list[Num], Field(json_schema_extra=_FOUR)]
    average_points: Num
    cap: Num = Decimal(1)

    @model_validator(mode="after")
    def _four_quarters(self) -> QuarterlySpec:
        if len(self.progress) != 4:
            raise _fail("'progress' must list four formulas, one per quarter", "/progress")
        if len(self.targets) != 4 or len(self.quarter_points) != 4:
            raise _fail("'targets' and 'quarter_points' must each have four entries")
        if any(t <= 0 for t in self.targets):
            raise _fail("targets must be positive", "/targets")
        return self

    def fact_names(self) -> set[str]:
        names: set[str] = set()
        for f in self.progress:
            names |= f.names
        return names

    def check_points(self, points: Decimal) -> Problems:
        found = super().check_points(points)
        total = sum(self.quarter_points, ZERO) + self.average_points
        if total != points:
            found.add("", f"quarter_points and average_points add up to {fmt(total)}, the rule has {fmt(points)}")
        return found


class CohortRelativeSpec(RuleBase):
    """One score at or above the cohort's mean (a fact), another below it."""

    kind: Literal["cohort_relative"]
    name: str = "指标值"
    formula: NumericFormula
    mean: str = Field(description="The key of the fact holding the cohort mean")
    at_or_above: Num
    below: Num

    def fact_names(self) -> set[str]:
        return set(self.formula.names) | {self.mean}

    def check_points(self, points: Decimal) -> Problems:
        found = super().check_points(points)
        for key, v in (("at_or_above", self.at_or_above), ("below", self.below)):
            if v < 0 or v > points:
                found.add(f"/{key}", f"{key} {fmt(v)} is outside [0, {fmt(points)}]")
        return found


class PartSpec(Spec):
    """One part of a composite: its own points and rule; answers at ``CODE/KEY``."""

    key: Key
    name: str | None = Field(default=None, description="Defaults to the key")
    points: Num
    rule: RuleSpec

    @property
    def label(self) -> str:
        return self.name if self.name is not None else self.key

    @model_validator(mode="after")
    def _rule_points(self) -> PartSpec:
        _under("/rule", self.rule.check_points(self.points)).raise_any()
        return self


class CompositeSpec(RuleBase):
    """The sum of its parts' scores; ``zero_if`` scores the whole indicator 0."""

    kind: Literal["composite"]
    parts: list[PartSpec] = Field(min_length=1)
    zero_if: list[ZeroIfSpec] = []

    @model_validator(mode="after")
    def _unique_keys(self) -> CompositeSpec:
        _unique([p.key for p in self.parts], "/parts", "part").raise_any()
        return self

    def fact_names(self) -> set[str]:
        names = _condition_names(*self.zero_if)
        for p in self.parts:
            names |= p.rule.fact_names()
        return names

    def check_points(self, points: Decimal) -> Problems:
        found = super().check_points(points)
        total = sum((p.points for p in self.parts), ZERO)
        if total != points:
            found.add("/parts", f"parts add up to {fmt(total)} points, the rule has {fmt(points)}")
        return found


AnyRule = Union[  # noqa: UP007 - a discriminated union is spelled with Union for Pydantic's schema
    JudgmentSpec, ChecklistSpec, RateSpec, BandsSpec, DeductionSpec, StepDeductionSpec, QuarterlySpec,
    CohortRelativeSpec, CompositeSpec,
]
RULE_KINDS = ("judgment", "checklist", "rate", "bands", "deduction", "step_deduction", "quarterly",
              "cohort_relative", "composite")


#: A rule: one of the kinds, told apart by ``kind``.
RuleSpec = Annotated[AnyRule, Discriminator("kind")]


def _unique(keys: list[str], pointer: str, what: str) -> Problems:
    found = Problems()
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if key in seen:
            found.add(f"{pointer}/{i}/key", f"duplicate {what} key '{key}'")
        seen.add(key)
    return found


def _under(prefix: str, found: Problems) -> Problems:
    return Problems((prefix + p, m) for p, m in found)


# --------------------------------------------------------------------------- the tree


class NotApplicableSpec(Spec):
    """When a leaf indicator does not apply; its points then go to another leaf, or out of the total."""

    when: ConditionFormula | None = Field(default=None, description="Without it, the evaluator says (answer not_applicable)")
    transfer_to: str | None = Field(default=None, description="Code of the leaf indicator that takes its points")


def _children_or_rule(schema: dict[str, Any]) -> None:
    request_schema(schema)
    schema["oneOf"] = [{"required": ["children"], "not": {"required": ["rule"]}},
                       {"required": ["rule"], "not": {"required": ["children"]}}]


class IndicatorSpec(Spec):
    """An indicator: a group with children, or a leaf with a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_children_or_rule)

    code: Code
    name: Text
    points: Num
    description: str | None = None
    criteria: str | None = None
    children: list[IndicatorSpec] | None = Field(default=None, min_length=1)
    rule: RuleSpec | None = None
    not_applicable: NotApplicableSpec | None = None

    @property
    def is_leaf(self) -> bool:
        return self.children is None

    @model_validator(mode="after")
    def _node(self, info: ValidationInfo) -> IndicatorSpec:
        found = Problems()
        code, points = self.code, self.points
        if points < 0:
            found.add("/points", "points cannot be negative")
        if self.children is not None and self.rule is not None:
            found.add("", f"indicator {code} has both children and a rule; a node has one or the other")
        elif self.children is None and self.rule is None:
            found.add("", f"indicator {code} needs either children or a rule")
        elif self.children is not None:
            for i, child in enumerate(self.children):
                if not child.code.startswith(code + "."):
                    found.add(f"/children/{i}/code", f"child code '{child.code}' must start with '{code}.'")
            total = sum((c.points for c in self.children), ZERO)
            if total != points:
                found.add("/children", f"the children of {code} {self.name.strip()} add up to {fmt(total)}, "
                                       f"the indicator has {fmt(points)}")
            if self.not_applicable is not None:
                found.add("/not_applicable", "only leaf indicators can be not applicable")
        elif self.rule is not None:
            found.extend(_under("/rule", self.rule.check_points(points)))
            vocabulary = info.context.get("vocabulary") if isinstance(info.context, dict) else None
            if vocabulary is not None:
                for n in sorted(self.fact_names()):
                    if n not in vocabulary:
                        found.add("", f"indicator {code} reads fact '{n}', which is not in the fact vocabulary "
                                      "(rulesets/facts.yaml)")
        found.raise_any()
        return self

    def fact_names(self) -> set[str]:
        """Every fact the leaf reads: its rule's and its not-applicable condition's."""
        names = self.rule.fact_names() if self.rule is not None else set()
        if self.not_applicable is not None and self.not_applicable.when is not None:
            names |= self.not_applicable.when.names
        return names

    def walk(self, pointer: str) -> Iterator[tuple[str, IndicatorSpec]]:
        """(pointer, indicator) for this indicator and everything below it, in file order."""
        yield pointer, self
        for i, c in enumerate(self.children or []):
            yield from c.walk(f"{pointer}/children/{i}")


class AdjustmentSpec(Spec):
    """A bonus (加分) or penalty (减分) outside the tree: ``per`` event, at most ``max`` in all."""

    code: Annotated[str, Field(min_length=1)]
    name: str | None = Field(default=None, description="Defaults to the code")
    kind: Literal["bonus", "penalty"]
    per: Num
    max: Num
    description: str | None = None
    criteria: str | None = None


class RoundingSpec(Spec):
    places: Annotated[int, Field(ge=0, le=6, strict=True)]
    mode: Literal["down", "half_up", "half_even", "up"]
    parts: bool = Field(default=False, description=(
        "Round each part of a composite before adding (otherwise the parts are added unrounded and the sum is "
        "rounded)."))

    @field_validator("places", mode="before")
    @classmethod
    def _whole(cls, v: Any) -> Any:
        if isinstance(v, Decimal | int) and not isinstance(v, bool) and v == int(v) and 0 <= v <= 6:
            return int(v)
        raise _fail("places must be a whole number from 0 to 6")

    @field_validator("parts", mode="before")
    @classmethod
    def _bool(cls, v: Any) -> Any:
        if not isinstance(v, bool):
            raise _fail("parts must be true or false")
        return v


class BoundsSpec(Spec):
    min: Num
    max: Num


class GradeSpec(Spec):
    grade: str
    min: Num


def _version(value: Any) -> str:
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        value = fmt(Decimal(value))
    if not isinstance(value, str) or not VERSION_RE.match(value):
        raise _fail("version must be text such as \"2023\" or \"2023.1\"")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise _fail("name must be lower-case letters, digits and '-' (e.g. shenzhen-yantian)")
    return value


class RulesetFile(Spec):
    """One version of an indicator framework (指标体系框架): ``rulesets/NAME/VERSION.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=request_schema)

    name: Annotated[str, PlainValidator(_name), WithJsonSchema({"type": "string", "pattern": NAME_RE.pattern})]
    version: Annotated[str, PlainValidator(_version), WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": VERSION_RE.pattern}, {"type": "number"}],
         "description": "Text such as \"2023\"; a number is read as its text"})]
    title: Text
    region: Text
    description: str | None = None
    fiscal_years: list[Year] = Field(min_length=1)
    source: dict[str, Any] = Field(description="Where the framework comes from: document, unit, note ...")
    total_points: Num
    rounding: RoundingSpec
    bounds: BoundsSpec
    grades: list[GradeSpec] = Field(min_length=1, description="From the highest min down")
    indicators: list[IndicatorSpec] = Field(min_length=1)
    adjustments: list[AdjustmentSpec] = []
    cases: list[RulesetCase] = Field(default=[], description="Worked examples the ruleset must score as stated")

    @property
    def rounding_mode(self) -> str:
        return ROUNDING_MODES[self.rounding.mode]

    def walk(self) -> Iterator[tuple[str, IndicatorSpec]]:
        for i, top in enumerate(self.indicators):
            yield from top.walk(f"/indicators/{i}")

    @model_validator(mode="after")
    def _whole(self) -> RulesetFile:
        found = Problems()
        lo, hi = self.bounds.min, self.bounds.max
        if lo > hi:
            found.add("/bounds", "bounds.min is above bounds.max")
        last: Decimal | None = None
        for i, g in enumerate(self.grades):
            if last is not None and g.min >= last:
                found.add(f"/grades/{i}/min", "grades must be listed from the highest min down")
            last = g.min
        if self.grades[-1].min > lo:
            found.add("/grades", f"the lowest grade must start at or below bounds.min ({fmt(lo)})")
        nodes = list(self.walk())
        seen: set[str] = set()
        for pointer, ind in nodes:
            if ind.code in seen:
                found.add(f"{pointer}/code", f"duplicate code '{ind.code}'")
            seen.add(ind.code)
        for i, adj in enumerate(self.adjustments):
            if adj.code in seen:
                found.add(f"/adjustments/{i}/code", f"duplicate code '{adj.code}'")
            seen.add(adj.code)
        tree_total = sum((i.points for i in self.indicators), ZERO)
        if tree_total != self.total_points:
            found.add("/indicators", f"the 一级 indicators add up to {fmt(tree_total)}, total_points is "
                                     f"{fmt(self.total_points)}")
        leaves = {ind.code: ind for _, ind in nodes if ind.is_leaf}
        for pointer, ind in nodes:
            na = ind.not_applicable
            if na is None or na.transfer_to is None:
                continue
            if na.transfer_to not in leaves:
                found.add(pointer, f"not_applicable.transfer_to '{na.transfer_to}' is not a leaf indicator")
            elif na.transfer_to == ind.code:
                found.add(pointer, "an indicator cannot transfer its points to itself")
        found.raise_any()
        return self


# --------------------------------------------------------------------------- examples

#: A small ruleset using every rule kind: the example of the schemas (ruleset.schema.json and the
#: OpenAPI document's ``document``); tests/test_ruleset_schema.py loads it, tests/api/test_rulesets.py
#: registers it.
EXAMPLE = """\
name: example-district
version: "2024"
title: 某区部门整体支出绩效评价指标（示例）
region: 某省某市某区
fiscal_years: [2024]
source: {document: 示例, note: every rule kind once}
total_points: 30
rounding: {places: 2, mode: half_up}
bounds: {min: 0, max: 30}
grades:
  - {grade: 优, min: 27}
  - {grade: 良, min: 24}
  - {grade: 中, min: 18}
  - {grade: 差, min: 0}
indicators:
  - code: "1"
    name: 预算管理
    points: 18
    children:
      - code: "1.1"
        name: 预算执行率
        points: 3
        criteria: 预算执行率=支出决算数/调整预算数×100%，得分=分值×执行率；有违规的不得分。
        rule:
          kind: rate
          name: 预算执行率
          formula: expenditure_actual / budget_adjusted
          zero_if:
            - {when: financial_violation, reason: 存在财务违规}
      - code: "1.2"
        name: 专项资金提前下达率
        points: 3
        rule:
          kind: bands
          name: 提前下达率
          formula: special_funds_advanced / special_funds_total
          bands:
            - {gte: 100%, score: 3}
            - {gte: 90%, lt: 100%, score: 2, judgment: true}
            - {lt: 90%, score: 0}
      - code: "1.3"
        name: 预算调整率
        points: 2
        rule:
          kind: step_deduction
          name: 预算调整率
          formula: budget_adjustment_amount / budget_initial
          threshold: 10%
          step: 1%
          per: 0.1
      - code: "1.4"
        name: 支出进度
        points: 4
        rule:
          kind: quarterly
          progress: [budget_progress_q1, budget_progress_q2, budget_progress_q3, budget_progress_q4]
          quarter_points: [0.5, 0.5, 0.5, 0.5]
          average_points: 2
      - code: "1.5"
        name: 资产管理
        points: 4
        rule:
          kind: composite
          parts:
            - key: use
              name: 固定资产利用率
              points: 2
              rule:
                kind: cohort_relative
                formula: fixed_assets_in_use / fixed_assets_total
                mean: fixed_asset_utilization_cohort_mean
                at_or_above: 2
                below: 0
            - key: reports
              name: 资产报告
              points: 2
              rule:
                kind: deduction
                counts:
                  - {count: asset_report_annual_late, per: 2, finding: 资产年报未按时报送}
                  - {count: asset_report_monthly_late_count, per: 0.5, finding: 资产月报未按时报送}
      - code: "1.6"
        name: 预决算公开
        points: 2
        rule:
          kind: checklist
          items:
            - key: "1"
              text: 按时公开部门预算
              points: 1
              met_if: {when: classified_unit, reason: 涉密单位，按规定不需公开}
            - key: "2"
              text: 按时公开部门决算
              points: 1
  - code: "2"
    name: 效益
    points: 12
    children:
      - code: "2.1"
        name: 满意度
        points: 4
        rule: {kind: judgment, name: 满意度, formula: satisfaction_rate}
      - code: "2.2"
        name: 项目按时完成率
        points: 4
        rule:
          kind: rate
          formula: projects_completed_on_time / projects_planned
          nothing_to_count: {when: projects_planned == 0, reason: 本年度无计划项目}
      - code: "2.3"
        name: 问题整改
        points: 4
        not_applicable: {transfer_to: "2.2"}
        rule: {kind: deduction, per: 1, finding: 未整改问题}
adjustments:
  - {code: "A1", name: 创新工作加分, kind: bonus, per: 1, max: 2}
"""

_CASE_EXAMPLES: dict[str, Any] = {
    "CaseExpect": {"total": "27.5", "grade": "优", "status": "complete", "indicators": {"1.1": "3"}},
}
_CASE_EXAMPLES["RulesetCase"] = {"name": "全部达标", "facts": {"satisfaction_rate": "95%"},
                                 "answers": {"2.1": {"score": 4}}, "expect": _CASE_EXAMPLES["CaseExpect"]}


def examples() -> dict[str, Any]:
    """One example of every model of the format, by schema name, taken from :data:`EXAMPLE` as written."""
    from app.engine.yamlio import loads_yaml

    data, _ = loads_yaml(EXAMPLE, "example")
    found: dict[str, Any] = dict(_CASE_EXAMPLES)

    def visit(value: Any) -> None:
        if isinstance(value, BaseModel):
            found.setdefault(type(value).__name__, value.model_dump(mode="json", exclude_unset=True))
            for name in type(value).model_fields:
                visit(getattr(value, name))
        elif isinstance(value, list):
            for v in value:
                visit(v)

    visit(RulesetFile.model_validate(data))
    return found


# --------------------------------------------------------------------------- errors


def error_problems(exc: ValidationError, data: Any) -> list[tuple[str, str]]:
    """Each error of a failed validation of ``data`` as (JSON pointer into data, message).

    A semantic check's problems keep their own pointers; a problem inside an indicator's rule
    names the indicator ("indicator 2.1.1: ..."). A formula over a limit raises
    :class:`~app.engine.errors.LimitExceeded`: the whole document is refused."""
    out: list[tuple[str, str]] = []
    for e in exc.errors(include_url=False):
        loc = _real_loc(e["loc"])
        pointer = "".join("/" + _escape(str(t)) for t in loc)
        kind, ctx = e["type"], e.get("ctx") or {}
        if kind == LIMIT:
            raise LimitExceeded(str(ctx["message"]))
        found: list[tuple[str, str]]
        if kind == CHECK:
            found = [(pointer + p, m) for p, m in ctx["problems"]]
        elif kind == "extra_forbidden":
            found = [(pointer, f"unknown key '{loc[-1]}'")]
        elif kind == "missing":
            found = [(pointer.rsplit("/", 1)[0], f"missing required key '{loc[-1]}'")]
        elif kind in {"union_tag_invalid", "union_tag_not_found"}:
            rule = _at(data, loc)
            if not isinstance(rule, dict):
                found = [(pointer, "a rule is a mapping with a 'kind'")]
            elif "kind" not in rule:
                found = [(pointer, f"a rule needs a 'kind'; known kinds: {sorted(RULE_KINDS)}")]
            else:
                found = [(pointer + "/kind", f"unknown rule kind {rule['kind']!r}; known kinds: {sorted(RULE_KINDS)}")]
        elif kind in {"model_type", "model_attributes_type", "dict_type"}:
            found = [(pointer, "must be a mapping")]
        elif kind == "list_type":
            found = [(pointer, "must be a list")]
        elif kind == "too_short" and isinstance(_at(data, loc), list):
            found = [(pointer, "must be a non-empty list")]
        else:
            found = [(pointer, e["msg"])]
        for p, m in found:
            out.append((p or "/", _in_rule_of(data, p) + m))
    return out


def _real_loc(loc: tuple[int | str, ...]) -> list[int | str]:
    """The error's location without the discriminator's tag (the kind after each ``rule``)."""
    out: list[int | str] = []
    for i, token in enumerate(loc):
        if i and loc[i - 1] == "rule" and token in RULE_KINDS:
            continue
        out.append(token)
    return out


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _at(data: Any, loc: list[int | str]) -> Any:
    node = data
    for token in loc:
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list) and isinstance(token, int) and 0 <= token < len(node):
            node = node[token]
        else:
            return None
    return node


def _in_rule_of(data: Any, pointer: str) -> str:
    """"indicator CODE: " when ``pointer`` is inside the rule of indicator CODE, else ""."""
    node, code = data, None
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            if token == "rule" and isinstance(node.get("code"), str):
                code = node["code"]
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            break
    return f"indicator {code}: " if code is not None else ""


def json_schema() -> dict[str, Any]:
    """``rulesets/ruleset.schema.json``: the JSON Schema (2020-12) of a ruleset file."""
    schema = RulesetFile.model_json_schema()
    known = examples()
    for name, sub in schema.get("$defs", {}).items():
        if name in known:
            sub.setdefault("examples", [known[name]])
    schema.setdefault("examples", [known["RulesetFile"]])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://jixiao.dev/schemas/ruleset.schema.json",
        "title": "jixiao ruleset file",
        "description": (
            "One version of an indicator framework (指标体系框架), see docs/rulesets.md. Generated from "
            "app/engine/fileformat.py (make schemas): the loader accepts exactly the documents this schema "
            "accepts and that pass these checks, which a JSON Schema cannot express: "
            + "; ".join(SEMANTIC_CHECKS) + "."),
        **{k: v for k, v in schema.items() if k not in {"title", "description"}},
    }


for _model in (PartSpec, CompositeSpec, IndicatorSpec, RulesetFile):
    _model.model_rebuild()


def render_schema() -> str:
    """The text of ``rulesets/ruleset.schema.json`` (``make schemas`` writes it)."""
    import json

    return json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"

