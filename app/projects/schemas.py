"""Projects (项目支出) of a unit: the resource, its listing and the summary of its assessments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.api.enums import AssessmentKind, GradeCode, request_body
from app.api.limits import REASON_MAX
from app.assessments.schemas import BatchItemOutcome
from app.engine.project_format import ProjectSubmission as ProjectSheet
from app.units.schemas import CODE_PATTERN

Year = Annotated[int, Field(ge=1990, le=2100)]
Years = Annotated[list[Year], Field(min_length=1, max_length=50,
                                    description="The fiscal years the project runs (each gets a 自评表)")]

EXAMPLE: dict[str, Any] = {"code": "YT2023-017", "name": "校园安全管理服务项目", "department": "深圳市盐田区教育局",
           "implementer": "深圳市盐港中学", "fund_nature": "一般公共预算", "fiscal_years": [2023]}


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body(EXAMPLE))

    code: str = Field(pattern=CODE_PATTERN, description="项目编码, unique within the unit")
    name: str = Field(min_length=1, max_length=200, description="项目名称")
    department: str = Field(min_length=1, max_length=200, description="主管部门")
    implementer: str = Field(min_length=1, max_length=200, description="实施单位")
    fund_nature: str = Field(min_length=1, max_length=100, description="资金性质 (一般公共预算, 政府性基金 ...)")
    fiscal_years: Years


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body())

    name: str | None = Field(default=None, min_length=1, max_length=200)
    department: str | None = Field(default=None, min_length=1, max_length=200)
    implementer: str | None = Field(default=None, min_length=1, max_length=200)
    fund_nature: str | None = Field(default=None, min_length=1, max_length=100)
    fiscal_years: Years | None = None


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    unit_id: uuid.UUID
    code: str
    name: str
    department: str = Field(description="主管部门")
    implementer: str = Field(description="实施单位")
    fund_nature: str = Field(description="资金性质")
    fiscal_years: list[int]
    created_at: datetime
    updated_at: datetime


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    next_cursor: str | None = None


class LostRow(BaseModel):
    """A 三级 row of one of the unit's project assessments, with the points it lost."""

    project_id: uuid.UUID
    project_code: str
    project_name: str
    assessment_id: uuid.UUID
    code: str = Field(description="The row's indicator code in the breakdown")
    name: str = Field(description="三级指标")
    points: str = Field(description="分值 (after rescaling)")
    score: str
    points_lost: str
    reasons: list[str] = Field(description="扣分事由 and 偏差原因 of the row")


class ProjectsSummary(BaseModel):
    unit_id: uuid.UUID
    fiscal_year: int
    ruleset: str | None = Field(description="The ruleset filter, when given")
    kind: str | None = Field(description="The kind filter, when given")
    projects: int = Field(description="Projects of the unit running in the year")
    assessed: int = Field(description="Projects with a complete assessment (the latest of each counts)")
    budget_full_year: str | None = Field(description="全年预算数 of the assessed projects, 万元")
    executed: str | None = Field(description="全年执行数 of the assessed projects, 万元")
    execution_rate: str | None = Field(description="executed / budget_full_year", examples=["93.5%"])
    mean: str | None = Field(description="Mean 总分 of the assessed projects")
    grades: dict[str, int] = Field(description="Assessed projects by grade")
    grade_codes: dict[GradeCode, int] = Field(description="The same by national grade code")
    lost_most: list[LostRow] = Field(description="The rows that lost the most points, largest loss first")


SHEET_EXAMPLE: dict[str, Any] = {
    "funds": {"initial_budget": "120", "full_year_budget": "118.5", "executed": "112.3"},
    "goals": {"expected": "完成校园安全巡查与培训，全年无重大安全事故", "actual": "完成巡查与培训1850人次，全年无重大安全事故"},
    "rows": [
        {"level1": "产出指标", "level2": "数量指标", "name": "安全培训人次", "nature": "gte", "target": "2000",
         "unit": "人次", "actual": "1850", "claimed": "50", "deviation_reason": "受场地改造影响，两期培训延后",
         "improvement": "下年度提前安排培训计划"},
        {"level1": "效益指标", "level2": "社会效益指标", "name": "校园安全事故发生率", "nature": "lte", "target": "1",
         "unit": "%", "actual": "0", "claimed": "30"},
        {"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "师生满意度", "nature": "gte", "target": "90",
         "unit": "%", "actual": "96", "claimed": "10"},
    ],
    "claimed_total": "100",
}


class ProjectSubmissionIn(ProjectSheet):
    """A project's 自评表 data for one fiscal year (the funds block, 年度总体目标, the 三级 rows the unit wrote,
    the scores it printed), and a note. Amounts in 万元 and values as decimal strings."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body(SHEET_EXAMPLE))

    note: str | None = Field(default=None, max_length=REASON_MAX)


class ProjectSubmissionOut(BaseModel):
    project_id: uuid.UUID
    unit_id: uuid.UUID
    fiscal_year: int
    version: int = Field(description="1 for the first submission, +1 for each replacement")
    content: dict[str, Any] = Field(description="The 自评表 data as stored (decimal values as strings)")
    note: str | None
    content_hash: str
    created_at: datetime
    etag: str


class ProjectSubmissionVersionList(BaseModel):
    items: list[ProjectSubmissionOut]


class BatchProject(BaseModel):
    """A project of the unit, found by its code or created (running in the item's fiscal year)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    department: str = Field(min_length=1, max_length=200)
    implementer: str = Field(min_length=1, max_length=200)
    fund_nature: str = Field(min_length=1, max_length=100)


class ProjectBatchItem(BaseModel):
    """One project's 自评表 for a year and the assessment to make of it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body())

    project: BatchProject = Field(description="Found by code within the unit; created when new")
    fiscal_year: Year
    submission: ProjectSheet = Field(description="The 自评表 data: stored as a new version of the project's submission")
    ruleset: str = Field(min_length=1, max_length=100, examples=["national-project"])
    kind: AssessmentKind
    evaluator: str = Field(min_length=1, max_length=200)
    strict: bool = Field(default=False, description="Refuse the item (422) instead of storing an incomplete assessment")


class ProjectBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000,
        description="Up to 1,000 items, each a ProjectBatchItem (validated one by one: a malformed item fails alone "
                    "with its own problem and pointers)")


class ProjectBatchItemResult(BatchItemOutcome):
    project_id: uuid.UUID | None = None


class ProjectBatchResult(BaseModel):
    succeeded: int
    failed: int
    items: list[ProjectBatchItemResult]
