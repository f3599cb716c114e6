"""The enumerations of the API, each a named schema in the OpenAPI document (``$ref`` everywhere it
is used), so that generated clients get one enum type per concept, not one per field. The values
are the codes of app/engine/labels.py (tests/api/test_enums.py checks that they agree)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic.config import JsonDict
from typing_extensions import TypeAliasType

AssessmentKind = TypeAliasType("AssessmentKind", Literal["self", "third_party"])
AssessmentStatus = TypeAliasType("AssessmentStatus", Literal["complete", "incomplete"])
IndicatorStatus = TypeAliasType(
    "IndicatorStatus", Literal["scored", "missing_facts", "not_applicable", "judgment_pending", "overridden"])
GradeCode = TypeAliasType("GradeCode", Literal["excellent", "good", "fair", "poor"])
Scope = TypeAliasType("Scope", Literal["read", "submit", "assess", "admin"])
BreakdownView = TypeAliasType("BreakdownView", Literal["tree", "flat"])
Judgments = TypeAliasType("Judgments", Literal["submission", "assessment"])
AuditResource = TypeAliasType(
    "AuditResource",
    Literal["unit", "submission", "project", "project_submission", "assessment", "batch", "key", "engagement",
            "ruleset", "tenant", "job", "webhook_endpoint"])
JobKind = TypeAliasType("JobKind", Literal["assessments", "rescore"])
JobState = TypeAliasType("JobState", Literal["queued", "running", "succeeded", "failed", "cancelled"])
AuditOutcome = TypeAliasType("AuditOutcome", Literal["succeeded", "refused", "failed"])


def request_schema(schema: JsonDict) -> None:
    """``json_schema_extra`` of a request body model: an optional field is simply not required.

    Its default moves into the description and ``X | null`` with a null default becomes ``X``
    (leaving it out means the default), because generators read a ``default`` as "always present"
    (openapi-typescript makes such a field required, so ``tsc --strict`` refuses a body without it)
    and turn ``X | null`` into types named ``…Type0``."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    listed = schema.get("required")
    required = set(listed) if isinstance(listed, list) else set()
    for name, prop in properties.items():
        if name in required or not isinstance(prop, dict) or "default" not in prop:
            continue
        default = prop.pop("default")
        variants = prop.get("anyOf")
        if default is None and isinstance(variants, list):
            kept = [v for v in variants if v != {"type": "null"}]
            if len(kept) == 1 and isinstance(kept[0], dict):
                prop.pop("anyOf")
                prop.update(kept[0])
        if default is not None and default != {} and default != []:
            text = prop.get("description")
            shown: object = str(default).lower() if isinstance(default, bool) else default
            prop["description"] = (f"{text} " if text else "") + f"Default: `{shown}`."


def request_body(*examples: JsonDict) -> Callable[[JsonDict], None]:
    """:func:`request_schema` with the model's own whole-object examples."""

    def extra(schema: JsonDict) -> None:
        request_schema(schema)
        if examples:
            schema["examples"] = list(examples)

    return extra

#: how an indicator (or 加减分项) of one ruleset version relates to another (GET …/diff)
DiffChange = TypeAliasType("DiffChange", Literal["added", "removed", "changed"])
#: how a changed indicator was matched across the two versions: by its code, or (code changed) by its name
DiffMatch = TypeAliasType("DiffMatch", Literal["code", "name"])
