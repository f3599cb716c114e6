from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

from app.api.enums import AssessmentStatus, DiffChange, DiffMatch, GradeCode, request_body
from app.api.limits import Answers, Facts, Overrides
from app.assessments.schemas import AdjustmentResult, AssessmentWarning, IndicatorResult, RulesetRef
from app.engine.fileformat import EXAMPLE, examples
from app.engine.project_format import ProjectSubmission

#: the kind of a ruleset: 部门整体 (unit) or 项目支出 (project)
RulesetKind = Literal["unit", "project"]


class RulesetSummary(BaseModel):
    kind: RulesetKind = Field(description="unit: scores a unit's 部门整体 submission; project: scores a project's "
                                          "自评表 (GET …/{name}/{version} answers the detail of its kind)")
    name: str = Field(examples=["shenzhen-yantian"])
    versions: list[str] = Field(examples=[["2023"]])
    title: str
    region: str
    fiscal_years: list[int]
    builtin: bool


class RulesetList(BaseModel):
    items: list[RulesetSummary]


class IndicatorNode(BaseModel):
    code: str = Field(examples=["2.1.1"])
    name: str = Field(examples=["政府采购执行情况"])
    level: int
    points: str = Field(examples=["2"])
    description: str | None = None
    criteria: str | None = None
    rule: str | None = Field(default=None, description="Rule kind of a scored indicator", examples=["composite"])
    formula: str | None = None
    not_applicable: dict[str, Any] | None = None
    children: list[IndicatorNode] = []


class AdjustmentItem(BaseModel):
    code: str
    name: str
    kind: str
    per: str = Field(description="Points per event")
    maximum: str = Field(description="At most this many points in all")
    criteria: str | None = None


class RulesetDetail(BaseModel):
    """A 部门整体 ruleset version: its indicator tree."""

    kind: Literal["unit"] = Field(default="unit", description="A 部门整体 ruleset (unit)")
    ref: str = Field(examples=["shenzhen-yantian@2023"])
    name: str
    version: str
    title: str
    region: str
    fiscal_years: list[int]
    source: dict[str, Any]
    total_points: str
    rounding: dict[str, Any]
    bounds: dict[str, str]
    grades: list[dict[str, str]]
    content_hash: str
    builtin: bool
    indicators: list[IndicatorNode]
    adjustments: list[AdjustmentItem]


class ProjectRounding(BaseModel):
    places: int = Field(description="Decimal places of every row's score")
    mode: str = Field(description="down, half_up, half_even or up", examples=["half_up"])
    text: str = Field(description="The same in words")


class ProjectGrade(BaseModel):
    grade: str = Field(examples=["优"])
    min: str = Field(examples=["90"])


class ProjectExecution(BaseModel):
    """预算执行率: 全年执行数 / 全年预算数 × points, at most points."""

    code: str = Field(examples=["0"])
    name: str = Field(examples=["预算执行率"])
    points: str = Field(examples=["10"])
    description: str | None = None
    criteria: str | None = None
    formula: str


class ProjectWhenEmpty(BaseModel):
    """What happens to a 一级 a 自评表 has no row under."""

    rule: Literal["refuse", "not_applicable", "transfer"] = Field(
        description="refuse: the table is refused (422); not_applicable: its points are left out and the total "
                    "rescaled; transfer: its points go to transfer_to, in proportion to their own")
    transfer_to: list[str] = Field(description="一级 codes taking its points (transfer)")


class ProjectLevel2(BaseModel):
    code: str = Field(examples=["1.1"])
    name: str = Field(examples=["数量指标"])
    description: str | None = None
    criteria: str | None = None


class ProjectLevel1(BaseModel):
    code: str = Field(examples=["1"])
    name: str = Field(examples=["产出指标"])
    points: str = Field(examples=["50"])
    description: str | None = None
    criteria: str | None = None
    when_empty: ProjectWhenEmpty
    children: list[ProjectLevel2]


class ProjectNature(BaseModel):
    """How a row of one 指标性质 is scored."""

    nature: Literal["gte", "lte", "eq", "qualitative"]
    label: str = Field(examples=["≥"])
    aliases: list[str] = Field(description="How a row may write it")
    rule: str = Field(description="proportional, inverse_proportional, deviation, all_or_nothing or qualitative_band")
    formula: str


class ProjectBand(BaseModel):
    """A qualitative band, as a share of the row's points."""

    band: Literal["met", "partial", "missed"]
    name: str = Field(examples=["达成年度指标"])
    min: str = Field(examples=["0.8"])
    max: str = Field(examples=["1"])
    min_inclusive: bool
    max_inclusive: bool


class ProjectRulesetDetail(BaseModel):
    """A project ruleset version (项目支出绩效自评): its 一级 / 二级 structure with their points, the
    execution rate, how rows are scored by 指标性质, the qualitative bands and the table's terms."""

    kind: Literal["project"] = Field(description="A project ruleset")
    ref: str = Field(examples=["national-project@2020"])
    name: str
    version: str
    title: str
    region: str
    description: str | None
    fiscal_years: list[int]
    source: dict[str, Any]
    total_points: str
    rounding: ProjectRounding
    grades: list[ProjectGrade]
    content_hash: str
    builtin: bool
    execution: ProjectExecution
    levels: list[ProjectLevel1] = Field(description="一级 with their 二级; the 三级 rows come from each submission")
    row_points: Literal["even", "submitted", "either"] = Field(
        description="even: the ruleset spreads a 一级's points over its rows; submitted: every row carries its 分值; "
                    "either: the rows' 分值 when all of a 一级's rows give one, else even")
    natures: list[ProjectNature]
    bands: list[ProjectBand]
    not_applicable: Literal["rescale", "refuse"] = Field(description="rescale: rows that do not apply are left out "
                                                                     "and the total rescaled; refuse: not allowed")
    deviation_reason: Literal["required", "warn"] = Field(description="A missed target without 偏差原因 and 改进措施: "
                                                                      "refused (required) or a warning (warn)")


#: GET /v1/rulesets/{name}/{version}: the detail of either kind, told apart by ``kind``
#: A ruleset version's detail, by its kind: one named schema in the OpenAPI document (clients get
#: one type with its discriminator, not an inline union per operation).
AnyRulesetDetail = TypeAliasType(
    "AnyRulesetDetail", Annotated[RulesetDetail | ProjectRulesetDetail, Field(discriminator="kind")])


class RulesetDocument(BaseModel):
    """A ruleset file: as YAML text (`content`, kept byte for byte), or as a JSON object of the
    ruleset file format (`document`, the schema RulesetFile, the same as rulesets/ruleset.schema.json;
    kept as its JSON text). Exactly one of the two."""

    model_config = ConfigDict(json_schema_extra=request_body(
        {"content": EXAMPLE}, {"document": examples()["RulesetFile"]}))
    content: str | None = Field(
        default=None, min_length=1, max_length=500_000,
        description="The ruleset file (YAML), see docs/rulesets.md: at most 500,000 characters, no "
                    "anchors or aliases, nesting at most 32 levels, formulas at most 1,000 "
                    "characters and 32 levels deep, numbers below 10^15 with at most 12 decimal places")
    # Validated by the loader (with the fact vocabulary, pointers and lines), not by the request
    # parser: a JSON fraction arrives as an exact Decimal (app.api.deps.load_json).
    # The OpenAPI document points it at the schema RulesetFile (app.main).
    document: Annotated[dict[str, Any] | None, WithJsonSchema({"type": "object"})] = Field(
        default=None, description="The ruleset file as a JSON object (the schema RulesetFile); stored as its JSON text, "
                                  "numbers as sent")

    @model_validator(mode="after")
    def _one_of(self) -> RulesetDocument:
        if (self.content is None) == (self.document is None):
            raise PydanticCustomError("one_of", "give the ruleset either as YAML text (content) or as a JSON object (document)")
        return self

    def text(self) -> str:
        """The ruleset file's text: ``content`` as sent, or ``document`` written as JSON (which is YAML)."""
        if self.content is not None:
            return self.content
        return json_text(self.document)


def json_text(value: Any, indent: str = "") -> str:
    """``value`` (parsed JSON, fractions as exact Decimals) as indented JSON text, every number as
    sent; one value a line, so that the loader's messages name a useful line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {json_text(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value:
        return "[\n" + ",\n".join(inner + json_text(v, inner) for v in value) + "\n" + indent + "]"
    if isinstance(value, Decimal):
        # Plain digits: YAML 1.1 (the loader) reads "1E+2" as text, "100" as the number.
        return format(value, "f")
    return json.dumps(value, ensure_ascii=False)


class ValidationReport(BaseModel):
    valid: bool
    kind: RulesetKind | None = Field(default=None, description="The kind of a valid document")
    ref: str | None = None
    content_hash: str | None = None
    errors: list[dict[str, str]] = Field(default_factory=list, description="Each problem with a JSON pointer into the document and a message naming the line")


class FactSource(BaseModel):
    """Where a fact's 口径 was written down from: a seed document's own words (`line` and `quote`),
    or a national rule the seed documents do not spell out (`url`)."""

    document: str = Field(description="The source document: a seed file name, or the title of a national rule",
                          examples=["001_b4d05a7bd3cc8c65.txt"])
    where: str = Field(description="The section or indicator of the document", examples=["四、部门整体支出绩效评价指标评分情况 · 2.1.1 政府采购执行情况"])
    line: int | None = Field(description="Line of the seed document holding the quote (null for a national rule)")
    quote: str | None = Field(description="The document's own words the fact was defined from (null for a national rule)")
    url: str | None = Field(description="Address of a national rule (null for a seed document)")


class FactIndicator(BaseModel):
    code: str = Field(examples=["2.1.1"])
    name: str = Field(examples=["政府采购执行情况"])


class FactRulesetReader(BaseModel):
    """A ruleset version that reads the fact, and which of its indicators do."""

    ruleset: str = Field(description="NAME@VERSION", examples=["shenzhen-yantian@2023"])
    indicators: list[FactIndicator]


class FactDefinition(BaseModel):
    key: str = Field(examples=["procurement_actual"])
    name: str = Field(examples=["实际政府采购金额合计数"])
    unit: str = Field(examples=["wan_yuan"], description="wan_yuan (万元), percent, count or boolean (yes/no)")
    unit_label: str = Field(examples=["万元"])
    json_type: list[str] = Field(description="The JSON types a submission may write the value in: an amount as a "
                                             "decimal string or a number, a percentage only as a string ending in %, "
                                             "a count as an integer or its digits, a yes/no as a boolean",
                                 examples=[["string", "number"]])
    minimum: str | None = Field(default=None, description="The smallest value allowed (null for yes/no facts)")
    maximum: str | None = Field(default=None, description="The largest value allowed (null for yes/no facts)")
    places: int | None = Field(default=None, description="Most decimal places a value may have (percent: in %)")
    description: str = Field(description="The figure's 口径: what it is, what it is measured against, what reads it")
    taken_from: str = Field(description="Where a unit takes the figure from (预算批复, 预算执行, 决算报表 and which table, "
                                        "资产报表, 人事编制 …)")
    example: bool | int | str = Field(description="A value as a submission writes it")
    sources: list[FactSource] = Field(description="The text the fact was defined from; at least one quotes a seed document")
    read_by: list[FactRulesetReader] = Field(description="The ruleset versions (built-in and registered) whose indicators read the "
                                                  "fact; empty when none does")


class FactVocabulary(BaseModel):
    items: list[FactDefinition]


# --------------------------------------------------------------------------- requirements (app.rulesets.requirements)


class FactReader(BaseModel):
    """One indicator that reads a fact, and how."""

    code: str = Field(examples=["2.1.1"])
    name: str = Field(examples=["政府采购执行情况"])
    role: str = Field(description="formula, count, zero_if, nothing_to_count, cohort_mean, checklist_item (the fact "
                                  "decides a checklist item), condition (met_if: absent, the item is answered), shown "
                                  "(displayed next to a judgment, never scored) or not_applicable (decides whether "
                                  "the indicator applies)", examples=["formula"])
    required: bool = Field(description="Whether the indicator cannot score without the fact (absent: the "
                                       "assessment is incomplete and lists it in missing_facts)")
    formula: str | None = Field(default=None, description="The formula or condition that reads it")


class FactRequirement(BaseModel):
    """A fact the ruleset reads, as a client writes it: its entry in the vocabulary (GET /v1/facts; any
    further field the vocabulary gives is passed through) with what this ruleset does with it."""

    key: str = Field(examples=["procurement_actual"])
    name: str = Field(examples=["实际政府采购金额合计数"], description="中文名称")
    unit: str = Field(examples=["wan_yuan"], description="wan_yuan (万元), percent, count or boolean (yes/no)")
    unit_label: str = Field(examples=["万元"])
    minimum: str | None = Field(default=None, description="The smallest value allowed (null for yes/no facts)")
    maximum: str | None = Field(default=None, description="The largest value allowed (null for yes/no facts)")
    places: int | None = Field(default=None, description="Most decimal places a value may have (percent: in %)")
    description: str | None = None

    json_type: list[str] = Field(description="JSON types a value may have (null: not known, the same as leaving it out)",
                                 examples=[["string", "number"]])
    pattern: str | None = Field(default=None, description="ECMA-262 regular expression of the text form "
                                                          "(an amount also takes thousands separators: 12,128.9)")
    example: Any = Field(default=None, description="An example value, as sent")
    read_by: list[FactReader]
    required_by: list[str] = Field(description="Indicators that cannot score without it")
    optional_for: list[str] = Field(description="Indicators that read it but can score without it")
    required: bool = Field(description="Whether some indicator cannot score without it")


class AnswerPart(BaseModel):
    key: str = Field(examples=["spending"])
    name: str = Field(examples=["政府采购执行率"])


class AnswerItem(BaseModel):
    key: str = Field(examples=["1"])
    text: str
    points: str


class AnswerCap(BaseModel):
    when: str = Field(description="The band that is scored by the evaluator", examples=["在职人员控制率>100%"])
    maximum: str = Field(description="The highest score the evaluator may give in that band", examples=["3"])


class ScoreRange(BaseModel):
    minimum: str = Field(examples=["0"])
    maximum: str = Field(examples=["25"])
    places: int = Field(description="Most decimal places a score may have", examples=[6])


class NotApplicableRule(BaseModel):
    when: str | None = Field(default=None, description="The condition under which the indicator does not apply")
    transfer_to: str | None = Field(default=None, description="The indicator that receives its points")


class AnswerRequirement(BaseModel):
    """One answer the ruleset reads, at its exact address (the key in a submission's `answers`)."""

    address: str = Field(examples=["2.1.2/spending"], description="Indicator code, code/part key, or code/item key")
    indicator_code: str = Field(examples=["2.1.2"])
    indicator_name: str
    criteria: str | None = Field(default=None, description="评分标准 of the indicator")
    rule: str | None = Field(default=None, description="The rule kind (of the part, in a composite)")
    part: AnswerPart | None = Field(default=None, description="The part of a composite rule the answer belongs to")
    item: AnswerItem | None = Field(default=None, description="The checklist item the answer belongs to")
    kind: str = Field(description="judgment (a score, {score, reason}), item (a checklist item: true/false, a score "
                                  "or {met|score, reason}), findings ({findings: [...]}), events (加减分项: {events} or "
                                  "{count}) or not_applicable ({not_applicable: true, reason})", examples=["judgment"])
    forms: list[str] = Field(description="JSON forms the answer may take: boolean, score, object", examples=[["score", "object"]])
    keys: list[str] = Field(description="Keys the object form may carry", examples=[["met", "reason", "score"]])
    points: str = Field(description="Points available at this address (an item's or a part's own)")
    needed: str = Field(description="always, unless_zero_if, unless_decided_by_facts, when_not_computable, "
                                    "in_judgment_band or optional", examples=["always"])
    needed_when: str = Field(description="When the answer is needed, in words")
    caps: list[AnswerCap] = Field(description="Lower ceilings of the score in the bands the evaluator scores")
    reason: str = Field(description="required_when_points_lost, optional, each_finding or each_event",
                        examples=["required_when_points_lost"])
    reason_when: str = Field(description="When a reason (扣分事由) is required, in words")
    score: ScoreRange | None = Field(default=None, description="Allowed scores (judgments and items)")
    not_applicable: NotApplicableRule | None = Field(default=None, description="When the indicator may not apply")
    per: str | None = Field(default=None, description="Points per finding or event")
    maximum: str | None = Field(default=None, description="At most this many points in all (加减分项)")
    max_items: int | None = Field(default=None, description="Most findings or events in one answer")


class ComputedIndicator(BaseModel):
    """A leaf indicator scored from the facts only (a form shows it read-only)."""

    code: str = Field(examples=["2.1.1"])
    name: str
    points: str
    rule: str | None = None
    formula: str | None = None
    fallback_answers: list[str] = Field(description="Addresses of answers read only when the facts cannot be "
                                                    "computed (a zero denominator, a value in no band)")


class OverrideRequirement(BaseModel):
    """An indicator that an evaluator may override ({score, reason}, reason always required)."""

    code: str = Field(examples=["2.1.1"])
    name: str
    points: str
    maximum: str = Field(description="The highest override (the points, plus those it may receive from "
                                     "not-applicable indicators)")


class RulesetRequirements(BaseModel):
    """Everything a client needs to collect a complete submission for one ruleset version."""

    kind: Literal["unit"] = Field(default="unit", description="A 部门整体 ruleset (unit)")
    ref: str = Field(examples=["shenzhen-yantian@2023"])
    name: str
    version: str
    title: str
    content_hash: str
    fiscal_years: list[int]
    facts: list[FactRequirement] = Field(description="Every fact the ruleset reads")
    answers: list[AnswerRequirement] = Field(description="Every answer the ruleset reads, by address")
    computed: list[ComputedIndicator] = Field(description="Indicators computed from facts only")
    overrides: list[OverrideRequirement] = Field(description="Indicators an evaluator may override")
    other_facts: str = Field(description="What a submission may carry besides")


class ScoreRequest(BaseModel):
    """Facts, answers and overrides in a submission's shape, scored without storing anything."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body({
        "facts": {"procurement_planned": "326.61", "procurement_actual": "318.98", "satisfaction_rate": "96%"},
        "answers": {"3.3.1": {"score": "22", "reason": "履职效果基本实现年初绩效目标，仍有提升空间"}},
        "overrides": {}}))

    facts: Facts = Field(default_factory=dict)
    answers: Answers = Field(default_factory=dict)
    overrides: Overrides = Field(default_factory=dict)
    strict: bool = Field(default=False, description="Refuse (422) an incomplete result, as an assessment with strict=true")


class ScoreResult(BaseModel):
    """The breakdown an assessment of the same inputs would store, byte for byte (without the
    assessment's identity: nothing is stored)."""

    ruleset: RulesetRef
    status: AssessmentStatus
    status_label: str = Field(examples=["完整"])
    total: str = Field(examples=["93.97"])
    grade: str | None = Field(examples=["优"])
    grade_code: GradeCode | None
    points_total: str
    base_total: str
    adjustments_total: str
    warnings: list[AssessmentWarning]
    missing_facts: list[str]
    missing_answers: list[str]
    indicators: list[IndicatorResult]
    adjustments: list[AdjustmentResult]


class ProjectRulesetRequirements(BaseModel):
    """Everything a client needs to fill in a project's 自评表 for one project ruleset version: the 一级 /
    二级 a row may name (and how), the 分值 rule, the 指标性质 and their scoring, the bands, the units
    that compare, the row's columns, overrides, and what is checked only when the table is scored."""

    kind: Literal["project"]
    ref: str = Field(examples=["national-project@2020"])
    name: str
    version: str
    title: str
    content_hash: str
    fiscal_years: list[int]
    levels: list[dict[str, Any]] = Field(description="一级 (code, name, points, accepted: how a row may name it, "
                                                     "when_empty) with their 二级 (code, name, accepted)")
    execution: dict[str, Any] = Field(description="The execution rate: code, name, points, formula and the funds "
                                                  "it reads (JSON pointers)")
    row_points: dict[str, Any] = Field(description="mode (even, submitted, either) and its text")
    not_applicable: dict[str, Any] = Field(description="mode (rescale, refuse), allowed, text")
    deviation_reason: dict[str, Any] = Field(description="mode (required, warn), required, text")
    natures: list[ProjectNature]
    bands: list[ProjectBand]
    units: list[dict[str, Any]] = Field(description="Groups of units that convert into one another")
    other_units: str
    rows: list[dict[str, Any]] = Field(description="The columns of a row (field, required, description)")
    overrides: dict[str, Any] = Field(description="What an evaluator may override, and how")
    rounding: ProjectRounding
    grades: list[ProjectGrade]
    total_points: str
    checked_when_scored: list[str] = Field(description="What the submission schema cannot state: checked when the "
                                                       "table is scored (an assessment, or POST …:score)")


#: GET …/requirements: the requirements of either kind, told apart by ``kind``
AnyRulesetRequirements = Annotated[RulesetRequirements | ProjectRulesetRequirements, Field(discriminator="kind")]


def _project_score_extra(schema: dict[str, Any]) -> None:
    extra = ProjectSubmission.model_config.get("json_schema_extra")
    if callable(extra):
        extra(schema)  # type: ignore[call-arg]
    request_body({"funds": {"full_year_budget": "118.5", "executed": "112.3"},
                  "rows": [{"level1": "产出指标", "level2": "数量指标", "name": "安全培训人次", "nature": "gte",
                            "target": "2000", "unit": "人次", "actual": "2000"}],
                  "overrides": {}})(schema)


class ProjectScoreRequest(ProjectSubmission):
    """A project's 自评表 (as `PUT …/projects/{pid}/submissions/{year}` takes it) and an evaluator's row
    overrides, scored under a project ruleset without storing anything."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_project_score_extra)

    # the type of an assessment's overrides (AssessmentCreate), which score a project's rows the same way
    overrides: Overrides = Field(default_factory=dict, description="An evaluator's own scores by row code "
                                 "(二级 code . n, or the execution rate's code): {score, reason}",
                                 examples=[{"1.1.1": {"score": "45", "reason": "年初指标值设定偏低，按偏离度调减"}}])
    strict: bool = Field(default=False, description="Refuse (422) an incomplete result, as an assessment with strict=true")


class ProjectScoreResult(BaseModel):
    """The breakdown a project assessment of the same 自评表 would store, byte for byte: the shape of a
    部门整体 breakdown (ScoreResult) with the project's own parts."""

    framework: Literal["project"]
    ruleset: RulesetRef
    status: AssessmentStatus
    status_label: str = Field(examples=["完整"])
    total: str = Field(examples=["95.5"])
    grade: str | None = Field(examples=["优"])
    grade_code: GradeCode | None
    points_total: str
    base_total: str
    adjustments_total: str
    warnings: list[AssessmentWarning]
    missing_facts: list[str] = Field(description="JSON pointers of missing 实际完成值 or funds")
    missing_answers: list[str] = Field(description="Rows waiting for an evaluator's judgment")
    indicators: list[dict[str, Any]] = Field(description="The execution rate and the 一级 → 二级 → 三级 rows, as "
                                                         "IndicatorResult, each 三级 row with its 自评表 columns under row")
    adjustments: list[AdjustmentResult]
    funds: dict[str, Any] = Field(description="项目资金: the funds, execution rate and its score")
    goals: dict[str, Any] = Field(description="年度总体目标: expected and actual")
    rescaled: dict[str, Any] | None = Field(description="How the total was brought back to total_points, when rows "
                                                        "did not apply")
    claims: dict[str, Any] = Field(description="What the unit printed against what the rules give")


class SubmissionSchema(RootModel[dict[str, Any]]):
    """A JSON Schema (2020-12) document (`$schema`, `$id`, `properties` …: JSON Schema's own keywords)."""
# --------------------------------------------------------------------------- diff (GET …/diff)

_FROM = "The value in the version compared against (null: absent there)"
_TO = "The value in this version (null: absent here)"


class _Pair(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(alias="from", description=_FROM)
    to: str | None = Field(description=_TO)


class RulesetSide(BaseModel):
    ref: str = Field(description="NAME@VERSION", examples=["shenzhen@2021"])
    content_hash: str


class RulesetFieldChange(_Pair):
    """A term of the ruleset itself: title, region, fiscal_years, source, total_points, rounding,
    bounds or grades (as text); of a project ruleset also row_points, natures, bands, not_applicable
    and deviation_reason."""

    field: str = Field(examples=["region"])


class RuleTermChange(_Pair):
    """One term of an indicator's rule, by its path: kind, formula, cap, bands, zero_if,
    nothing_to_count, threshold, step, per, steps, counts, finding, items/{key}/text|points|fact|met_if,
    parts/{key}/name|points|<term>, targets, quarter_points, average_points, mean, at_or_above, below,
    display, label, not_applicable, transfer_to; for a 加减分项: kind, per, maximum; for a project
    ruleset's 一级: when_empty."""

    path: str = Field(examples=["parts/adjustment/formula"])


class TextChange(_Pair):
    """指标说明 (description) or 评分标准 (criteria) whose wording changed (full-width against ASCII
    punctuation and whitespace are not changes)."""

    field: str = Field(examples=["criteria"])


class PointsChange(_Pair):
    pass


class IndicatorChange(BaseModel):
    change: DiffChange
    code: str = Field(description="The code in this version (in the other for a removed indicator)", examples=["2.2.2"])
    name: str = Field(examples=["项目管理"])
    level: int
    matched_by: DiffMatch | None = Field(description="How a changed indicator was matched (null when added or removed)")
    from_code: str | None
    to_code: str | None
    from_name: str | None
    to_name: str | None
    points: PointsChange | None = Field(description="Points before and after (null when unchanged)")
    rule: list[RuleTermChange] = Field(description="The rule's changed terms (an added or removed indicator: all of them)")
    texts: list[TextChange]


class AdjustmentChange(BaseModel):
    change: DiffChange
    code: str
    name: str
    matched_by: DiffMatch | None
    from_code: str | None
    to_code: str | None
    from_name: str | None
    to_name: str | None
    terms: list[RuleTermChange]
    texts: list[TextChange]


class DiffSummary(BaseModel):
    added: int
    removed: int
    renamed: int = Field(description="Matched indicators whose name changed")
    moved: int = Field(description="Indicators matched by name whose code changed")
    points_changed: int
    rules_changed: int
    texts_changed: int
    adjustments_changed: int


class RulesetDiff(BaseModel):
    """What changed from the version compared against (`from`) to this one (`to`)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: RulesetSide = Field(alias="from")
    to: RulesetSide
    identical: bool = Field(description="Nothing that scores or is shown differs")
    summary: DiffSummary
    ruleset: list[RulesetFieldChange]
    indicators: list[IndicatorChange] = Field(description="Changed, added and removed indicators (一级 to leaf), by code")
    adjustments: list[AdjustmentChange] = Field(description="Changed, added and removed 加减分项")
    text: str = Field(description="The same, as a readable Chinese report (one change a line)")
