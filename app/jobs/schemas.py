"""Request and response shapes of /v1/jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.api.enums import AssessmentKind, JobKind, JobState, request_schema
from app.assessments.schemas import BatchItemResult


class JobCreate(BaseModel):
    """``assessments``: ``items``, each a batch item (app.assessments.schemas.BatchItem, validated one by
    one when its chunk runs: a bad item is refused alone, with its `/items/N` pointers). The items can also
    be sent as NDJSON (`Content-Type: application/x-ndjson`, one item a line, no wrapper).
    ``rescore``: every unit of the caller's cohort (``region``, ``parent_id``: the units under that parent),
    scored from its current submission for ``fiscal_year`` under ``ruleset``, as POST /v1/assessments does."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=request_schema)
    kind: JobKind
    items: list[dict[str, Any]] | None = Field(
        default=None, min_length=1, description="assessments: the items (up to 100,000)")
    ruleset: str | None = Field(default=None, min_length=1, max_length=100,
                                description="rescore: `NAME` (the version covering the year) or `NAME@VERSION`")
    fiscal_year: int | None = Field(default=None, ge=1990, le=2100, description="rescore: the fiscal year")
    region: str | None = Field(default=None, min_length=1, max_length=100, description="rescore: only this region")
    parent_id: uuid.UUID | None = Field(default=None, description="rescore: only the units under this parent")
    assessment_kind: AssessmentKind | None = Field(default=None, description="rescore: the assessments' kind (self)")
    evaluator: str | None = Field(default=None, min_length=1, max_length=200,
                                  description="rescore: who evaluated")
    strict: bool | None = Field(default=None, description="rescore: refuse incomplete assessments (false)")


class JobCounts(BaseModel):
    total: int = Field(description="Items (assessments) or units (rescore) of the job")
    stored: int = Field(description="Items stored so far (an assessment each)")
    refused: int = Field(description="Items refused so far (a problem each; nothing of them stored)")


class JobOut(BaseModel):
    id: uuid.UUID
    kind: JobKind
    state: JobState
    items: JobCounts
    progress: str = Field(description="Items done (stored or refused) of the total, as a percentage: `42.5%`")
    chunks_total: int
    chunks_done: int
    params: dict[str, Any] = Field(description="What a rescore scores ({} for assessments)")
    error: str | None = Field(description="Why the job failed")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    items_url: str = Field(description="The per-item results")


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


class JobItemPage(BaseModel):
    """Items in their order in the job; only those whose chunk is done."""

    items: list[BatchItemResult]
    next_cursor: str | None
