from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RulesetSummary(BaseModel):
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


class RulesetDocument(BaseModel):
    """A ruleset file, as YAML text."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"content": "name: my-district\nversion: \"2024\"\n..."}]})
    content: str = Field(min_length=1, max_length=500_000,
                         description="The ruleset file (YAML), see docs/rulesets.md: at most 500,000 characters, no "
                                     "anchors or aliases, nesting at most 32 levels, formulas at most 1,000 "
                                     "characters and 32 levels deep, numbers below 10^15 with at most 12 decimal places")


class ValidationReport(BaseModel):
    valid: bool
    ref: str | None = None
    content_hash: str | None = None
    errors: list[dict[str, str]] = Field(default_factory=list, description="Each problem with a JSON pointer into the document and a message naming the line")


class FactDefinition(BaseModel):
    key: str = Field(examples=["procurement_actual"])
    name: str = Field(examples=["实际政府采购金额合计数"])
    unit: str = Field(examples=["wan_yuan"])
    unit_label: str = Field(examples=["万元"])
    minimum: str | None = Field(default=None, description="The smallest value allowed (null for yes/no facts)")
    maximum: str | None = Field(default=None, description="The largest value allowed (null for yes/no facts)")
    places: int | None = Field(default=None, description="Most decimal places a value may have (percent: in %)")
    description: str | None = None


class FactVocabulary(BaseModel):
    items: list[FactDefinition]
