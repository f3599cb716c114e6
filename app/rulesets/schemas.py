from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from app.api.enums import request_body
from app.engine.fileformat import EXAMPLE, examples


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
