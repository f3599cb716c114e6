"""The bounds of what a request may carry, as Pydantic types (so the OpenAPI document shows them).

Facts are bounded value by value by the fact vocabulary (``app.engine.facts``: magnitude, decimal
places, separators); here are the shapes around them: how many facts, answers and overrides a
document holds, how long a code, reason or finding may be, and what an answer or an override may
contain (which also bounds their nesting: an answer is a value or an object of values and lists of
text, nothing deeper). Answers and overrides are checked against these types and then kept as
sent (``_as_sent``; a fraction as its exact decimal text): the engine reads them with the ruleset
at hand, and the stored form is what the caller sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from app.engine.facts import exact_numbers

#: Longest indicator code or answer address ("3.3.1", "1.1.1/2"), and longest fact key.
CODE_MAX = 64
#: Longest reason (扣分事由), finding or event, in characters.
REASON_MAX = 2000
#: Most findings or events in one answer.
FINDINGS_MAX = 200
#: Most facts, answers or overrides in one document.
ENTRIES_MAX = 1000
#: Highest score an answer or override may carry before the ruleset is known (it is then checked
#: against the indicator's own points); no ruleset has an indicator worth more.
SCORE_MAX = 1000
#: Longest text accepted as a score.
SCORE_TEXT_MAX = 40


def _short_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("score_type", "a score is a number, not true/false")
    if isinstance(value, str) and len(value) > SCORE_TEXT_MAX:
        raise PydanticCustomError("score_length", "a score has at most {max} characters", {"max": SCORE_TEXT_MAX})
    return value


Code = Annotated[str, Field(min_length=1, max_length=CODE_MAX)]
Reason = Annotated[str, Field(max_length=REASON_MAX)]
_SCORE_DESCRIPTION = (f"A number from 0 to the indicator's points (at most {SCORE_MAX}), at most 6 decimal "
                      "places; as a string (\"22.5\") or a JSON number")
Score = Annotated[Decimal, BeforeValidator(_short_number),
                  Field(ge=0, le=SCORE_MAX, decimal_places=6, allow_inf_nan=False),
                  WithJsonSchema({"anyOf": [
                      {"type": "number", "minimum": 0, "maximum": SCORE_MAX},
                      {"type": "string", "maxLength": SCORE_TEXT_MAX,
                       "pattern": r"^(1000(\.0{1,6})?|[0-9]{1,3}(\.[0-9]{1,6})?)$"}],
                      "description": _SCORE_DESCRIPTION})]
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class AnswerIn(BaseModel):
    """An evaluator's answer for one indicator (or one part or item of it): which keys apply
    depends on the indicator's rule (see GET /v1/rulesets/{name}/{version})."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"score": "22", "reason": "履职效果基本实现年初绩效目标，仍有提升空间"}]})

    score: Score | None = None
    reason: Reason | None = Field(default=None, description="扣分事由, needed when the score is below the full points")
    met: StrictBool | None = Field(default=None, description="A checklist item met or not")
    findings: Annotated[list[Reason], Field(max_length=FINDINGS_MAX)] | None = Field(
        default=None, description="Problems found, each costing the rule's points per finding")
    events: Annotated[list[Reason], Field(max_length=FINDINGS_MAX)] | None = Field(
        default=None, description="Events of a 加减分项 (bonus or penalty), one text each")
    count: Count | None = Field(default=None, description="Number of events of a 加减分项, when not listed")
    not_applicable: StrictBool | None = Field(default=None, description="The evaluator finds the indicator does not apply")


class OverrideIn(BaseModel):
    """An evaluator's override of one scored indicator: the score adopted and why."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"score": "1.5", "reason": "第三方复核：采购计划调整有上级批复，酌情给分"}]})

    score: Score | None = None
    reason: Reason | None = None


def _answer_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str | int | float | Decimal):
        return "score"
    return None


AnswerValue = Annotated[
    Annotated[StrictBool, Tag("flag")] | Annotated[Score, Tag("score")] | Annotated[AnswerIn, Tag("object")],
    Discriminator(_answer_kind, custom_error_type="answer_shape",
                  custom_error_message="an answer is true/false, a score, or an object such as {score, reason}"),
]


def _as_sent(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Check ``value`` against the declared type and keep it as sent, a number with a fraction as
    its exact decimal text (``21.5`` → ``"21.5"``: the stored form, see exact_numbers). The tag of
    the object form of an answer is left out of error locations (``/answers/3.3.1/reason``)."""
    try:
        handler(value)
    except ValidationError as exc:
        raise ValidationError.from_exception_data(exc.title, [
            InitErrorDetails(type=PydanticCustomError(e["type"], e["msg"]),
                             loc=tuple(p for i, p in enumerate(e["loc"]) if not (i == 1 and p == "object")),
                             input=e["input"])
            for e in exc.errors()]) from None
    return exact_numbers(value)


Facts = Annotated[dict[Code, Any], Field(
    max_length=ENTRIES_MAX,
    description="Fact key → value (see GET /v1/facts for each fact's unit, range and decimal places). Amounts "
                "in 万元 as decimal strings (a comma only as a thousands separator: \"12,128.9\"); percentages as "
                "strings ending in %; counts as integers; yes/no as booleans.")]
Answers = Annotated[dict[Code, AnswerValue], Field(
    max_length=ENTRIES_MAX,
    description="Evaluator answers keyed by indicator code or code/key: true/false for checklist items, a score "
                "or {score, reason} for judgments, {findings: [...]} for deductions, {events: [...]} for 加减分项."),
    WrapValidator(_as_sent)]
Overrides = Annotated[dict[Code, OverrideIn], Field(
    max_length=ENTRIES_MAX, description="Indicator code → {score, reason}"), WrapValidator(_as_sent)]
