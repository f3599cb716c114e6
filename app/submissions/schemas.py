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


class SubmissionVersionList(BaseModel):
    items: list[SubmissionOut]
