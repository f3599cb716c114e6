from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.api.enums import request_body

CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,63}$"


class UnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body({
        "code": "91440300MB2C12345X", "name": "深圳市盐港中学", "kind": "school", "region": "广东省深圳市盐田区"}))

    code: str = Field(pattern=CODE_PATTERN, description="预算单位编码 or 统一社会信用代码")
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=32, description="school, bureau, centre, department ...")
    region: str = Field(min_length=1, max_length=100)
    parent_id: uuid.UUID | None = Field(default=None, description="The supervising unit (a bureau for its schools)")


class UnitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: str | None = Field(default=None, min_length=1, max_length=32)
    region: str | None = Field(default=None, min_length=1, max_length=100)
    parent_id: uuid.UUID | None = None


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    kind: str
    region: str
    parent_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class UnitPage(BaseModel):
    items: list[UnitOut]
    next_cursor: str | None = None
