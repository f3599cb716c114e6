from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.api.enums import request_body
from app.api.limits import REASON_MAX, Answers, Facts, Overrides

EXAMPLE: dict[str, Any] = {
    "facts": {"procurement_planned": "326.61", "procurement_actual": "318.98", "staff_authorized": 226,
              "satisfaction_rate": "96%", "financial_violation": False},
    "answers": {"1.1.1/1": True, "3.3.1": {"score": "22", "reason": "履职效果基本实现年初绩效目标，仍有提升空间"}},
    "overrides": {},
}


class SubmissionIn(BaseModel):
    """A unit's data for one fiscal year: facts, checklist answers, judgments, overrides."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body(EXAMPLE))

    facts: Facts = Field(default_factory=dict)
    answers: Answers = Field(default_factory=dict)
    overrides: Overrides = Field(default_factory=dict)
    note: str | None = Field(default=None, max_length=REASON_MAX)


class SubmissionWarning(BaseModel):
    """An answer or override stored that would not fit a ruleset covering the year (PUT without `ruleset`)."""

    code: str = Field(description="answer_does_not_fit (refused by that ruleset's submission.schema.json) or "
                                  "answer_not_read (no ruleset covering the year reads the address)",
                      examples=["answer_does_not_fit"])
    ruleset: str | None = Field(description="NAME@VERSION it does not fit (null: none reads it)",
                                examples=["shenzhen-yantian@2023"])
    pointer: str = Field(examples=["/answers/3.3.1/score"])
    message: str


class SubmissionOut(BaseModel):
    unit_id: uuid.UUID
    fiscal_year: int
    version: int = Field(description="1 for the first submission, +1 for each replacement")
    facts: dict[str, Any]
    answers: dict[str, Any]
    overrides: dict[str, Any]
    note: str | None
    content_hash: str
    created_at: datetime
    etag: str
    warnings: list[SubmissionWarning] = Field(
        default_factory=list, description="Answered by PUT without `ruleset`: what would not fit the rulesets "
                                          "covering the year (empty on reads)")


class SubmissionVersionList(BaseModel):
    items: list[SubmissionOut]
