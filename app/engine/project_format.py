"""Project self-evaluations (项目支出绩效自评, 财预〔2020〕10号): the two documents, as Pydantic models.

* :class:`ProjectSubmission` is what a unit sends for one project and year: the funds block
  (年初预算数 / 全年预算数 / 全年执行数), the 年度总体目标 (预期 / 实际), and the indicator rows it
  wrote itself when the budget was set (绩效目标申报表), each with its 一级 / 二级, 三级 name,
  指标性质, 年度指标值 and 实际完成值 with their 度量单位, and what the unit printed (自评得分).
* :class:`ProjectRulesetFile` is a ruleset file with ``kind: project`` at the top
  (``rulesets/national-project/2020.yaml``): it fixes the 一级 / 二级 structure and weights, the
  execution-rate rule, how rows are scored by 指标性质, not-applicable rescaling, rounding and
  grades; the 三级 rows come from the submission.

This module is plain Python (not compiled by mypyc: Pydantic models), imported by the scorer
(:mod:`app.engine.project`) and by the HTTP layer. Amounts and points are Decimal; a float is
refused (it has already lost the digits the unit typed), nothing is evaluated.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

# --------------------------------------------------------------------------- values

#: the largest magnitude and the most decimal places a value may have (as the facts' amounts)
VALUE_LIMIT = Decimal(10) ** 12
VALUE_PLACES = 6
_NUMBER_RE = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


def _decimal(value: Any) -> Decimal:
    """A JSON string or exactly-read number as a Decimal; refuses floats, booleans and NaN."""
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true/false")
    if isinstance(value, float):
        raise ValueError("send the number as a decimal string, e.g. \"97.5\" (a binary float is inexact)")
    if isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, Decimal):
        d = value
    elif isinstance(value, str):
        text = value.strip()
        if not _NUMBER_RE.match(text):
            raise ValueError(f"'{value}' is not a decimal number (a comma only as a thousands separator)")
        try:
            d = Decimal(text.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
            raise ValueError(f"'{value}' is not a decimal number") from None
    else:
        raise ValueError("a number is expected (a decimal string or a JSON number)")
    if not d.is_finite():
        raise ValueError("the number must be finite")
    if abs(d) >= VALUE_LIMIT:
        raise ValueError("the number must be below 10^12 in magnitude")
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -VALUE_PLACES:
        raise ValueError(f"at most {VALUE_PLACES} decimal places")
    return d + 0  # -0 is 0


def _number_schema(signs: str) -> dict[str, Any]:
    """What :func:`_decimal` takes, as JSON Schema: a JSON number below 10^12 in magnitude, or its text
    (spaces around it, a comma only as a thousands separator, at most VALUE_PLACES decimal places)."""
    text = (f"^\\s*[{signs}]?(?:[0-9]{{1,3}}(?:,[0-9]{{3}}){{1,3}}|0*[0-9]{{1,12}})(?:\\.[0-9]{{1,{VALUE_PLACES}}})?\\s*$")
    low: dict[str, Any] = {"minimum": 0} if "-" not in signs else {"exclusiveMinimum": -10**12}
    return {"anyOf": [{"type": "number", **low, "exclusiveMaximum": 10**12}, {"type": "string", "pattern": text}]}


#: the JSON Schema of a Dec value, and of one that may not be negative (_non_negative)
DEC_SCHEMA = _number_schema("+-")
NON_NEGATIVE_SCHEMA = _number_schema("+")

Dec = Annotated[Decimal, BeforeValidator(_decimal), WithJsonSchema(DEC_SCHEMA)]


def _json_schema(non_negative: tuple[str, ...] = (), stripped: bool = False,
                 all_of: list[dict[str, Any]] | None = None) -> Any:
    """A model's ``json_schema_extra``: its JSON Schema says what its validators check, so that a
    client validating with it is refused what the model refuses (app.rulesets.project_contract
    derives each project ruleset's submission schema from it, with ROW_CHECKS). ``non_negative``:
    Dec fields that :func:`_non_negative` checks; ``stripped``: the model strips text
    (str_strip_whitespace), so text of spaces only is empty; ``all_of``: cross-field checks."""

    def extra(schema: dict[str, Any]) -> None:
        props = schema.get("properties", {})
        for name in non_negative:
            # an optional Dec's anyOf holds DEC_SCHEMA's own alternatives (pydantic flattens them) and null
            swap = {orjson.dumps(a): b for a, b in zip(DEC_SCHEMA["anyOf"], NON_NEGATIVE_SCHEMA["anyOf"], strict=True)}
            prop = props[name]
            prop["anyOf"] = [swap.get(orjson.dumps(s), s) for s in prop.get("anyOf", [])]
        if stripped:
            for prop in props.values():
                for s in [prop, *prop.get("anyOf", [])]:
                    if s.get("type") == "string" and s.get("minLength"):
                        s["pattern"] = "\\S"
        if all_of:
            schema["allOf"] = all_of

    return extra


def _non_negative(value: Decimal | None, what: str) -> Decimal | None:
    if value is not None and value < 0:
        raise ValueError(f"{what} cannot be negative")
    return value


Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Text2000 = Annotated[str, Field(min_length=1, max_length=2000)]

# --------------------------------------------------------------------------- 指标性质

#: 指标性质 codes and the sign the 自评表 prints for each
NATURE_LABELS = {"gte": "≥", "lte": "≤", "eq": "=", "qualitative": "定性"}
NATURE_ALIASES = {
    "gte": "gte", "≥": "gte", ">=": "gte", "正向": "gte", ">": "gte",
    "lte": "lte", "≤": "lte", "<=": "lte", "反向": "lte", "<": "lte",
    "eq": "eq", "=": "eq", "==": "eq",
    "qualitative": "qualitative", "定性": "qualitative",
}
Nature = Literal["gte", "lte", "eq", "qualitative"]


def _alias_pattern(aliases: list[str]) -> str:
    """A pattern of the texts :func:`_nature` reads as one of ``aliases`` (spaces around, full-width ASCII)."""
    wide = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}
    forms = dict.fromkeys(aliases + ["".join(wide.get(c, c) for c in a) for a in aliases])
    return "^\\s*(?:" + "|".join(re.escape(f) for f in forms) + ")\\s*$"


#: 指标性质 as written (every alias), by code
NATURE_PATTERNS = {code: _alias_pattern([a for a, c in NATURE_ALIASES.items() if c == code]) for code in NATURE_LABELS}
QUANTITATIVE_PATTERN = _alias_pattern([a for a, c in NATURE_ALIASES.items() if c != "qualitative"])


def _nature(value: Any) -> Any:
    if isinstance(value, str):
        key = unicodedata.normalize("NFKC", value).strip()
        return NATURE_ALIASES.get(key, NATURE_ALIASES.get(value.strip(), value))
    return value


#: the three qualitative bands of 财预〔2020〕10号 (their names and ranges are in the ruleset file)
Band = Literal["met", "partial", "missed"]

# --------------------------------------------------------------------------- 度量单位

#: units that convert exactly into one another: unit -> (dimension, factor to the dimension's base)
_UNIT_SCALES: dict[str, tuple[str, Decimal]] = {
    "元": ("amount", Decimal(1)), "万元": ("amount", Decimal(10_000)), "亿元": ("amount", Decimal(100_000_000)),
    "%": ("percent", Decimal(1)),
    "天": ("days", Decimal(1)), "日": ("days", Decimal(1)),
}
UNIT_ALIASES = {"百分比": "%", "百分率": "%", "％": "%", "个百分点": "%"}


@lru_cache(maxsize=1024)
def normalise_unit(unit: str | None) -> str | None:
    """The unit as compared: width-normalised (％ → %), the spelled-out 百分比 as %."""
    if unit is None:
        return None
    u = unicodedata.normalize("NFKC", unit).strip()
    if not u:
        return None
    return UNIT_ALIASES.get(u, u)


def unit_factor(target_unit: str | None, actual_unit: str | None) -> Decimal | None:
    """The factor that brings an actual in ``actual_unit`` to the target's unit, or None when the
    two do not compare (人次 against 个, % against 万元): those are refused, never guessed."""
    t, a = normalise_unit(target_unit), normalise_unit(actual_unit)
    if t == a:
        return Decimal(1)
    if t is None or a is None:
        return None
    ts, as_ = _UNIT_SCALES.get(t), _UNIT_SCALES.get(a)
    if ts is None or as_ is None or ts[0] != as_[0]:
        return None
    return as_[1] / ts[1]


def _unit_pattern(units: list[str]) -> str:
    forms = dict.fromkeys(units + [a for a, u in UNIT_ALIASES.items() if u in units])
    return "^\\s*(?:" + "|".join(re.escape(f) for f in forms) + ")\\s*$"


#: the units that convert into one another (unit_factor), as patterns of how they are written
UNIT_GROUPS: dict[str, list[str]] = {}
for _unit, (_dim, _) in _UNIT_SCALES.items():
    UNIT_GROUPS.setdefault(_dim, []).append(_unit)
_UNIT_PATTERNS = {dim: _unit_pattern(units) for dim, units in UNIT_GROUPS.items()}
_NO_UNIT: dict[str, Any] = {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^\\s*$"}]}


def _present(name: str, value: dict[str, Any] | None = None) -> dict[str, Any]:
    """JSON Schema: ``name`` is given, not null (and fits ``value``)."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}, **(value or {})}}}


def _row_checks() -> list[dict[str, Any]]:
    """ProjectRow's validators as JSON Schema conditionals (each failing at the field its validator names)."""
    quantitative = {"type": "string", "pattern": QUANTITATIVE_PATTERN}
    qualitative = {"type": "string", "pattern": NATURE_PATTERNS["qualitative"]}
    applies = {"not": {"const": True}}
    checks: list[dict[str, Any]] = [
        {"if": _present("not_applicable", {"const": True}), "then": _present("not_applicable_reason")},
        {"if": {"required": ["nature"], "properties": {"nature": quantitative, "not_applicable": applies}},
         "then": _present("target")},
        {"if": {"required": ["nature"], "properties": {"nature": qualitative}},
         "then": {"properties": {"target": {"type": "null"}}}},
        {"if": {"not": {"required": ["nature"], "properties": {"nature": qualitative}}},
         "then": {"properties": {"band": {"type": "null"}, "band_score": {"type": "null"}, "band_reason": {"type": "null"}}}},
        {"if": _present("band_score"), "then": _present("band")},
    ]
    # units: an actual's unit compares with the target's (unit_factor); a unit of no group compares only
    # with itself, which JSON Schema cannot say: the service refuses it, the schema lets it through
    grouped = [{"type": "string", "pattern": p} for p in _UNIT_PATTERNS.values()]
    for pattern in _UNIT_PATTERNS.values():
        checks.append({"if": _present("unit", {"type": "string", "pattern": pattern}),
                       "then": {"properties": {"actual_unit": {"anyOf": [{"type": "null"},
                                                                         {"type": "string", "pattern": pattern}]}}}})
    checks.append({"if": {"anyOf": [{"not": {"required": ["unit"]}}, {"properties": {"unit": _NO_UNIT}}]},
                   "then": {"properties": {"actual_unit": _NO_UNIT}}})
    checks.append({"if": _present("unit", {"not": {"anyOf": [*grouped, _NO_UNIT]}}),
                   "then": {"properties": {"actual_unit": {"not": {"anyOf": grouped}}}}})
    return checks


#: ProjectRow's validators as JSON Schema (its schema's ``allOf`` in a submission schema)
ROW_CHECKS = _row_checks()

NATURE_SCHEMA: dict[str, Any] = {"type": "string", "pattern": _alias_pattern(list(NATURE_ALIASES)),
                                 "examples": ["gte"]}

# --------------------------------------------------------------------------- the submission


class ProjectRow(BaseModel):
    """One 三级指标 row of the 自评表, as the unit wrote it."""

    # (the cross-field checks, ROW_CHECKS, join the row's schema in each project ruleset's submission
    # schema, app.rulesets.project_contract, not the OpenAPI document: ten conditionals together are
    # more than request generators such as schemathesis can model)
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_json_schema(
        ("points", "band_score", "claimed"), stripped=True))

    level1: Text200 = Field(description="一级指标, by name (产出指标, or 产出) or by the ruleset's code (1).",
                            examples=["产出指标"])
    level2: Text200 = Field(description="二级指标, by name (数量指标, or 数量) or code (1.1).", examples=["数量指标"])
    name: Text200 = Field(description="三级指标 as the unit wrote it.", examples=["培训人次"])
    nature: Annotated[Nature, BeforeValidator(_nature), WithJsonSchema(NATURE_SCHEMA)] = Field(
        description="指标性质: gte (≥, 正向), lte (≤, 反向), eq (=) or qualitative (定性); the signs are accepted too.")
    not_applicable: bool = Field(default=False, description="The row does not apply this year; it is left out and "
                                 "the remaining points are rescaled when the ruleset says so.")
    not_applicable_reason: Text2000 | None = Field(default=None, validate_default=True,
                                                   description="Why the row does not apply (required with not_applicable).")
    target: Dec | None = Field(default=None, validate_default=True,
                               description="年度指标值 (required for gte, lte and eq rows).", examples=["2000"])
    target_text: Text2000 | None = Field(default=None, description="年度指标值 as printed, for a qualitative row "
                                         "(e.g. 效果明显) or to keep the table's own wording.")
    unit: Annotated[str, Field(max_length=32)] | None = Field(default=None, description="度量单位 of the target (人次, %, 万元, 天, 个 …).",
                                                              examples=["人次"])
    actual: Dec | None = Field(default=None, description="实际完成值 (a quantitative row without it is not scored: "
                               "the assessment is incomplete, never 0).", examples=["1850"])
    actual_unit: Annotated[str, Field(max_length=32)] | None = Field(
        default=None, validate_default=True,
        description="度量单位 of the actual; defaults to the target's. Units that do not compare are refused (422).")
    actual_text: Text2000 | None = Field(default=None, description="实际完成值 as printed (qualitative rows).")
    points: Dec | None = Field(default=None, description="分值 the unit set for the row; when no row of a 一级 has one, "
                               "the ruleset spreads the 一级's points evenly.")
    band: Band | None = Field(default=None, validate_default=True,
                              description="Qualitative rows: met (达成年度指标), partial (部分达成年度指标并具有一定效果) "
                              "or missed (未达成年度指标且效果较差).")
    band_score: Dec | None = Field(default=None, description="Qualitative rows: the points the evaluator picks inside "
                                   "the band.")
    band_reason: Text2000 | None = Field(default=None, description="Qualitative rows: why this band and these points.")
    claimed: Dec | None = Field(default=None, description="自评得分 the unit printed for the row (compared with the "
                                "rules' score).")
    deviation_reason: Text2000 | None = Field(default=None, description="偏差原因分析 (required, or warned, for a row "
                                              "that misses its target, as the ruleset says).")
    improvement: Text2000 | None = Field(default=None, description="改进措施.")

    @field_validator("not_applicable_reason")
    @classmethod
    def _na_reason(cls, v: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("not_applicable") and v is None:
            raise ValueError("a row that does not apply needs its reason (not_applicable_reason)")
        return v

    @field_validator("target")
    @classmethod
    def _target(cls, v: Decimal | None, info: ValidationInfo) -> Decimal | None:
        nature = info.data.get("nature")
        if v is None and nature in {"gte", "lte", "eq"} and not info.data.get("not_applicable"):
            raise ValueError(f"a {NATURE_LABELS[nature]} row needs its 年度指标值 (target)")
        if v is not None and nature == "qualitative":
            raise ValueError("a qualitative row has no numeric target; put its wording in target_text")
        return v

    @field_validator("actual_unit")
    @classmethod
    def _units(cls, v: str | None, info: ValidationInfo) -> str | None:
        unit = info.data.get("unit")
        actual_unit = v if v is not None else unit
        if unit_factor(unit, actual_unit) is None:
            raise ValueError(f"the actual's unit '{actual_unit or '（无）'}' does not compare with the target's unit "
                             f"'{unit or '（无）'}'")
        return v

    @field_validator("points", "band_score", "claimed")
    @classmethod
    def _points(cls, v: Decimal | None, info: ValidationInfo) -> Decimal | None:
        return _non_negative(v, info.field_name or "points")

    @field_validator("band")
    @classmethod
    def _band(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("nature") != "qualitative":
            raise ValueError("only a qualitative row has a band")
        return v

    @model_validator(mode="after")
    def _qualitative(self) -> ProjectRow:
        if self.nature != "qualitative" and (self.band_score is not None or self.band_reason is not None):
            raise ValueError("band_score and band_reason belong to qualitative rows")
        if self.band_score is not None and self.band is None:
            raise ValueError("band_score needs its band")
        return self

    @property
    def quantitative(self) -> bool:
        return self.nature != "qualitative"


class ProjectFunds(BaseModel):
    """项目资金（万元）: the funds block of the 自评表."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_json_schema(
        ("initial_budget", "full_year_budget", "executed")))

    initial_budget: Dec | None = Field(default=None, description="年初预算数 (万元).", examples=["120"])
    full_year_budget: Dec | None = Field(default=None, description="全年预算数 (万元, after adjustments): the "
                                         "execution rate's denominator.", examples=["118.5"])
    executed: Dec | None = Field(default=None, description="全年执行数 (万元).", examples=["112.3"])

    @field_validator("initial_budget", "full_year_budget", "executed")
    @classmethod
    def _amounts(cls, v: Decimal | None, info: ValidationInfo) -> Decimal | None:
        return _non_negative(v, info.field_name or "amount")


class ProjectGoals(BaseModel):
    """年度总体目标."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_json_schema(stripped=True))

    expected: Text2000 | None = Field(default=None, description="预期目标.")
    actual: Text2000 | None = Field(default=None, description="实际完成情况.")


class ProjectSubmission(BaseModel):
    """A project's self-evaluation table for one year, as the unit fills it in."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_json_schema(("claimed_execution", "claimed_total")))

    funds: ProjectFunds = Field(default_factory=ProjectFunds)
    goals: ProjectGoals = Field(default_factory=ProjectGoals)
    rows: list[ProjectRow] = Field(min_length=1, max_length=200, description="The 三级指标 rows, in the table's order.")
    claimed_execution: Dec | None = Field(default=None, description="The 预算执行率 得分 the unit printed.")
    claimed_total: Dec | None = Field(default=None, description="The 总分 the unit printed.")

    @field_validator("claimed_execution", "claimed_total")
    @classmethod
    def _claims(cls, v: Decimal | None, info: ValidationInfo) -> Decimal | None:
        return _non_negative(v, info.field_name or "claim")


class RowOverride(BaseModel):
    """An evaluator's own score for one row (a third party's judgment), with its reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    score: Dec
    reason: Text2000


# --------------------------------------------------------------------------- the ruleset file

RoundingMode = Literal["down", "half_up", "half_even", "up"]
RowRule = Literal["proportional", "inverse_proportional", "deviation", "all_or_nothing"]

_CODE = r"^[0-9A-Za-z]+(\.[0-9A-Za-z]+)*$"


class Rounding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    places: int = Field(ge=0, le=6, description="Decimal places of every row's score (0: whole points).")
    mode: RoundingMode


class GradeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grade: Text200
    min: Dec


class Level2Spec(BaseModel):
    """A 二级指标: the rows of the submission hang under it."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=_CODE)]
    name: Text200
    description: str | None = None
    criteria: str | None = None


class WhenEmpty(BaseModel):
    """What happens to a 一级 the submission has no row for."""

    model_config = ConfigDict(extra="forbid")

    transfer_to: list[Annotated[str, Field(pattern=_CODE)]] = Field(
        min_length=1, description="Other 一级 codes that take its points, in proportion to their own.")


class Level1Spec(BaseModel):
    """A 一级指标 with its weight and its 二级."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=_CODE)]
    name: Text200
    points: Dec
    description: str | None = None
    criteria: str | None = None
    children: list[Level2Spec] = Field(min_length=1)
    when_empty: WhenEmpty | Literal["refuse", "not_applicable"] = Field(
        default="refuse", description="No row under this 一级: refuse the submission (422), treat its points as not "
        "applicable (rescaled), or move them to other 一级.")


class ExecutionSpec(BaseModel):
    """预算执行率: 全年执行数 / 全年预算数 × points, at most points."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=_CODE)]
    name: Text200
    points: Dec
    description: str | None = None
    criteria: str | None = None


class NatureRules(BaseModel):
    """How a quantitative row that misses its target is scored, by 指标性质."""

    model_config = ConfigDict(extra="forbid")

    gte: RowRule = "proportional"
    lte: RowRule = "inverse_proportional"
    eq: RowRule = "deviation"


class BandSpec(BaseModel):
    """A qualitative band as a share of the row's points: [min, max] with the source's inclusivity."""

    model_config = ConfigDict(extra="forbid")

    band: Band
    name: Text200
    min: Dec = Field(ge=0, le=1)
    max: Dec = Field(ge=0, le=1)
    min_inclusive: bool = True
    max_inclusive: bool = True


class ProjectRulesetFile(BaseModel):
    """A project ruleset file (``kind: project``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["project"]
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$")]
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$")]
    title: Text200
    region: Text200
    description: str | None = None
    fiscal_years: list[Annotated[int, Field(ge=1990, le=2100)]] = Field(min_length=1)
    source: dict[str, Any]
    total_points: Dec
    rounding: Rounding
    grades: list[GradeSpec] = Field(min_length=1)
    execution: ExecutionSpec
    levels: list[Level1Spec] = Field(min_length=1)
    row_points: Literal["even", "submitted", "either"] = Field(
        default="either", description="even: the ruleset spreads a 一级's points over its rows; submitted: every row "
        "carries its 分值; either: the rows' 分值 when all of a 一级's rows give one, else even.")
    natures: NatureRules = Field(default_factory=NatureRules)
    bands: list[BandSpec] = Field(min_length=3, max_length=3)
    not_applicable: Literal["rescale", "refuse"] = Field(
        default="rescale", description="rescale: rows that do not apply are left out and the total is brought back to "
        "total_points (按百分制折算); refuse: a row may not be marked not applicable.")
    deviation_reason: Literal["required", "warn"] = Field(
        default="required", description="A row that misses its target without 偏差原因 and 改进措施: refused (422) or "
        "a warning.")


def is_project_ruleset_text(text: str) -> bool:
    """Whether a ruleset document is a project ruleset (``kind: project`` at the top level)."""
    return re.search(r"^kind:\s*['\"]?project['\"]?\s*(#.*)?$", text, re.MULTILINE) is not None


def ruleset_json_schema() -> dict[str, Any]:
    """The JSON Schema of a project ruleset file, as ``rulesets/project-ruleset.schema.json`` holds it
    (``tests/test_ruleset_schema.py`` fails when the file drifts and says how to regenerate it)."""
    schema = ProjectRulesetFile.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://jixiao.dev/schemas/project-ruleset.schema.json", **schema}

