from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from app.api.enums import (
    AssessmentKind,
    AssessmentStatus,
    BreakdownView,
    GradeCode,
    IndicatorStatus,
    Judgments,
    request_body,
    request_schema,
)
from app.api.limits import Answers, Facts, Overrides
from app.api.problems import ProblemDetail

Kind = AssessmentKind
KIND_LABEL = Field(description="自评 or 第三方评价: the label of `kind`, as the reports print it", examples=["自评"])


class AssessmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body({
        "unit_id": "6f1c2d1e-8a55-4a0c-9d0e-3b2f1f7d9a10", "fiscal_year": 2023, "ruleset": "shenzhen-yantian",
        "kind": "self", "evaluator": "深圳市盐港中学"}))

    unit_id: uuid.UUID
    fiscal_year: int = Field(ge=1990, le=2100)
    ruleset: str = Field(min_length=1, max_length=100, description="`NAME` (the version covering the year) or `NAME@VERSION`",
                         examples=["shenzhen-yantian@2023"])
    kind: Kind = Field(description="self: 自评; third_party: 第三方评价")
    evaluator: str = Field(min_length=1, max_length=200, description="Who evaluated (unit, firm, person)")
    strict: bool = Field(default=False, description="Refuse (422) instead of storing an incomplete assessment")
    answers: Answers | None = Field(
        default=None,
        description="The evaluator's own answers for this assessment (checklist items, judgments with reasons, "
                    "findings, events; keyed like a submission's). When given they replace the submission's "
                    "answers: a third-party evaluation scores the unit's facts with its own judgments, and the "
                    "unit's submission is not changed. Omitted: the submission's answers are used.")
    overrides: Overrides | None = Field(
        default=None,
        description="The evaluator's own overrides (indicator code → {score, reason}); when given they replace "
                    "the submission's.")
    project_id: uuid.UUID | None = Field(
        default=None,
        description="The subject is this project of the unit (项目支出绩效自评): its current 自评表 for the year is "
                    "scored under a project ruleset (national-project …), and `overrides` (row code → {score, "
                    "reason}) are the evaluator's own scores of its rows. Omitted: the unit itself.")


class RulesetRef(BaseModel):
    ref: str = Field(examples=["shenzhen-yantian@2023"])
    name: str
    version: str
    title: str
    content_hash: str


class Deduction(BaseModel):
    points: str = Field(examples=["0.03"])
    reason: str = Field(examples=["政府采购执行率：政府采购执行率97.66%，扣0.03分"])
    source: str = Field(description="computed, evaluator or override")


class NamedValue(BaseModel):
    name: str
    value: str


FactValues = TypeAliasType("FactValues", dict[str, Any])


class IndicatorOverride(BaseModel):
    score: str = Field(examples=["2"])
    reason: str = Field(examples=["调整事项经区政府批准"])


class IndicatorResult(BaseModel):
    code: str = Field(examples=["2.1.1"])
    name: str
    level: int
    points: str = Field(description="分值 in the ruleset")
    points_available: str = Field(description="分值 after points moved from not-applicable indicators")
    score: str | None = Field(description="Adopted score (None while missing facts or judgment)")
    computed_score: str | None = Field(description="Score computed by the rule, before any override")
    status: IndicatorStatus
    status_label: str = Field(description="The label of `status` (已评分, 缺少数据, 不适用, 待评价人判定, 评价人调整)",
                              examples=["已评分"])
    points_lost: str | None = None
    rule: str | None = None
    formula: str | None = None
    inputs: FactValues | None = Field(default=None, description="The facts the rule read, as submitted")
    values: list[NamedValue] | None = None
    deductions: list[Deduction] | None = Field(default=None, description="扣分事由 of the adopted score")
    computed_deductions: list[Deduction] | None = None
    override: IndicatorOverride | None = Field(default=None, description="The evaluator's override of the computed score")
    missing_facts: list[str] | None = None
    missing_answers: list[str] | None = None
    messages: list[str] | None = None
    note: str | None = None
    children: list[IndicatorResult] | None = None


class AssessmentWarning(BaseModel):
    code: str = Field(examples=["total_clamped"])
    message: str


class AdjustmentResult(BaseModel):
    code: str
    name: str
    kind: str
    count: int
    points: str
    reasons: list[str]


class AssessmentSummary(BaseModel):
    id: uuid.UUID
    unit_id: uuid.UUID
    project_id: uuid.UUID | None = Field(default=None, description="The project scored, when the subject is a "
                                                                  "project of the unit (absent for the unit itself)")
    fiscal_year: int
    submission_version: int
    kind: Kind
    kind_label: str = KIND_LABEL
    evaluator: str
    created_at: datetime
    ruleset: RulesetRef
    status: AssessmentStatus
    status_label: str = Field(description="完整 or 不完整: the label of `status`", examples=["完整"])
    total: str = Field(examples=["93.97"])
    grade: str | None = Field(description="The grade as the ruleset names it (the national 优, 良, 中, 差); "
                                          "null while the assessment is incomplete", examples=["优"])
    grade_code: GradeCode | None = Field(description="The code of a national grade: excellent (优), good (良), "
                                                     "fair (中), poor (差); null for another scale's grade")
    points_total: str
    base_total: str
    adjustments_total: str
    warnings: list[AssessmentWarning]
    missing_facts: list[str]
    missing_answers: list[str]
    adjustments: list[AdjustmentResult]


class AssessmentOut(AssessmentSummary):
    indicators: list[IndicatorResult]


class AssessmentPage(BaseModel):
    items: list[AssessmentSummary]
    next_cursor: str | None = None


class AssessmentInputs(BaseModel):
    """What an assessment was scored with, as stored with it: enough to score it again offline
    against the pinned ruleset version (``ruleset`` in the summary) and get the same breakdown."""

    assessment_id: uuid.UUID
    submission_version: int = Field(description="The version of the unit's submission whose facts were scored")
    submission_hash: str = Field(description="Content hash of that submission version (facts, answers, overrides)",
                                 examples=["sha256:3f1a…"])
    judgments: Judgments = Field(
        description="Whose answers and overrides were used: the submission's, or the evaluator's own, sent "
                    "with the assessment (a third-party evaluation)")
    facts: dict[str, Any] = Field(description="The facts, in stored form (amounts as decimal text, percentages "
                                              "as \"97.67%\")", examples=[{"procurement_actual": "318.98"}])
    answers: dict[str, Any]
    overrides: dict[str, Any]
    content: dict[str, Any] | None = Field(
        default=None, description="A project's assessment: the 自评表 data scored (funds, goals, rows, claims), as "
                                  "stored with its submission version (facts and answers are then empty)")


class Breakdown(BaseModel):
    assessment_id: uuid.UUID
    view: BreakdownView
    items: list[IndicatorResult]


class IndicatorDiff(BaseModel):
    code: str
    name: str
    level: int
    points: str | None
    score_a: str | None
    score_b: str | None
    difference: str | None = Field(description="score_b − score_a")
    status_a: IndicatorStatus | None
    status_b: IndicatorStatus | None
    deductions_a: list[Deduction] = []
    deductions_b: list[Deduction] = []


class Comparison(BaseModel):
    a: AssessmentSummary
    b: AssessmentSummary
    total_difference: str
    differing: int
    same_ruleset: bool
    indicators: list[IndicatorDiff]


class CohortMember(BaseModel):
    rank: int
    unit_id: uuid.UUID
    unit_code: str
    unit_name: str
    assessment_id: uuid.UUID
    total: str
    grade: str | None
    grade_code: GradeCode | None
    project_id: uuid.UUID | None = Field(default=None, description="The project, in a cohort of projects")
    project_code: str | None = None
    project_name: str | None = None


class Cohort(BaseModel):
    ruleset: str
    fiscal_year: int
    region: str | None
    parent_id: uuid.UUID | None
    unit_id: uuid.UUID | None = Field(default=None, description="The unit filter, when given")
    count: int
    mean: str | None
    minimum: str | None = Field(description="The lowest total")
    maximum: str | None = Field(description="The highest total")
    grades: dict[str, int]
    ranking: list[CohortMember]


class BatchUnit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,63}$")
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=32)
    region: str = Field(min_length=1, max_length=100)


class BatchItem(BaseModel):
    """One unit's submission and assessment in a batch."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=request_schema)
    unit: BatchUnit = Field(description="Found by code, created when new")
    fiscal_year: int = Field(ge=1990, le=2100)
    facts: Facts = Field(default_factory=dict)
    answers: Answers = Field(default_factory=dict)
    overrides: Overrides = Field(default_factory=dict)
    ruleset: str = Field(min_length=1, max_length=100)
    kind: Kind
    evaluator: str = Field(min_length=1, max_length=200)
    strict: bool = False


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000,
        description="Up to 1,000 items, each a BatchItem (validated one by one, so a malformed item "
                    "fails alone with its own problem and pointers)",
    )


class BatchItemOutcome(BaseModel):
    """What became of one item of a batch (of units here, of projects in app.projects.schemas):
    the fields both share; each subclass adds its subject's id."""

    index: int
    status: int = Field(description="201 when stored, else the problem's status")
    assessment_id: uuid.UUID | None = None
    location: str | None = None
    total: str | None = None
    grade: str | None = None
    grade_code: GradeCode | None = None
    assessment_status: AssessmentStatus | None = None
    problem: ProblemDetail | None = Field(default=None, description="Why the item was refused (nothing of it is stored)")


class BatchItemResult(BatchItemOutcome):
    unit_id: uuid.UUID | None = None


class BatchResult(BaseModel):
    succeeded: int
    failed: int
    items: list[BatchItemResult]
