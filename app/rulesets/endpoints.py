"""Rulesets and the fact vocabulary."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status

from app.api.deps import Route, SessionDep
from app.api.problems import responses
from app.auth.deps import ADMIN, ASSESS, READ, SUBMIT  # noqa: F401
from app.engine.rules import fmt
from app.engine.ruleset import Indicator, Ruleset
from app.rulesets import service
from app.rulesets.schemas import (
    FactDefinition,
    FactVocabulary,
    RulesetDetail,
    RulesetDocument,
    RulesetList,
    RulesetSummary,
    ValidationReport,
)

router = APIRouter(route_class=Route, tags=["rulesets"])

NamePath = Annotated[str, Path(description="Ruleset name", examples=["shenzhen-yantian"])]
VersionPath = Annotated[str, Path(description="Ruleset version", examples=["2023"])]


def _node(ind: Indicator) -> dict[str, Any]:
    na = None
    if ind.not_applicable is not None:
        na = {"when": ind.not_applicable.when.text if ind.not_applicable.when else None,
              "transfer_to": ind.not_applicable.transfer_to}
    return {
        "code": ind.code, "name": ind.name, "level": ind.level, "points": fmt(ind.points),
        "description": ind.description, "criteria": ind.criteria,
        "rule": ind.rule.kind if ind.rule else None,
        "formula": ind.rule.formula_text if ind.rule else None,
        "not_applicable": na,
        "children": [_node(c) for c in ind.children],
    }


def detail(rs: Ruleset) -> dict[str, Any]:
    return {
        "ref": rs.ref, "name": rs.name, "version": rs.version, "title": rs.title, "region": rs.region,
        "fiscal_years": rs.fiscal_years, "source": {k: str(v) for k, v in rs.source.items()},
        "total_points": fmt(rs.total_points),
        "rounding": {"places": rs.places, "mode": rs.rounding_mode},
        "bounds": {"min": fmt(rs.bounds[0]), "max": fmt(rs.bounds[1])},
        "grades": [{"grade": g.grade, "min": fmt(g.min)} for g in rs.grades],
        "content_hash": rs.content_hash, "builtin": service.is_builtin(rs),
        "indicators": [_node(i) for i in rs.indicators],
        "adjustments": [{"code": a.code, "name": a.name, "kind": a.kind, "per": fmt(a.per), "maximum": fmt(a.max),
                         "criteria": a.criteria} for a in rs.adjustments],
    }


@router.get("/v1/rulesets", dependencies=[READ], operation_id="listRulesets", summary="List rulesets", response_model=RulesetList,
            responses=responses())
def list_rulesets(session: SessionDep) -> dict[str, Any]:
    """Every ruleset name with its versions, title, region and fiscal years (built-in and registered)."""
    groups: dict[str, list[Ruleset]] = {}
    for rs in service.all_rulesets(session):
        groups.setdefault(rs.name, []).append(rs)
    items = []
    for name, versions in sorted(groups.items()):
        latest = versions[-1]
        items.append(RulesetSummary(
            name=name, versions=[v.version for v in versions], title=latest.title, region=latest.region,
            fiscal_years=sorted({y for v in versions for y in v.fiscal_years}),
            builtin=all(service.is_builtin(v) for v in versions),
        ))
    return {"items": items}


@router.get("/v1/rulesets/{name}/{version}", dependencies=[READ], operation_id="getRuleset", summary="Get one ruleset version",
            response_model=RulesetDetail, responses=responses(404))
def get_ruleset(name: NamePath, version: VersionPath, session: SessionDep, response: Response) -> dict[str, Any]:
    """The full indicator tree of one version: points, 指标说明, 评分标准, rule kind and formula."""
    rs = service.get(session, name, version)
    response.headers["ETag"] = f'"{rs.content_hash}"'
    return detail(rs)


@router.post("/v1/rulesets:validate", dependencies=[ADMIN], operation_id="validateRuleset", summary="Validate a ruleset document",
             response_model=ValidationReport, responses=responses(422))
def validate_ruleset(body: RulesetDocument) -> ValidationReport:
    """Check a ruleset document without storing it (`admin` scope, like registering one: it is the
    same work). The ruleset comes as YAML text (`content`) or as a JSON object (`document`, schema
    `RulesetFile`). Problems point into the ruleset (JSON pointer, and the line of its text):
    200 with `valid: false`.
    A document over a limit (YAML anchors or aliases, nesting, formula length or depth; see
    docs/rulesets.md) is refused with 422."""
    rs, errors = service.validate_text(body.text())
    if rs is None:
        return ValidationReport(valid=False, errors=errors)
    return ValidationReport(valid=True, ref=rs.ref, content_hash=rs.content_hash)


@router.post("/v1/rulesets", dependencies=[ADMIN], operation_id="registerRuleset", summary="Register a ruleset version",
             status_code=status.HTTP_201_CREATED, response_model=RulesetDetail, responses=responses(409, 422))
def register_ruleset(
    body: RulesetDocument, session: SessionDep, response: Response, request: Request,
) -> dict[str, Any]:
    """Store a new, immutable ruleset version, sent as YAML text (`content`, stored as sent) or as a
    JSON object (`document`, schema `RulesetFile`, stored as its JSON text). Registering identical
    content again answers 200."""
    rs, created = service.register(session, body.text())
    response.headers["Location"] = f"/v1/rulesets/{rs.name}/{rs.version}"
    request.state.created_id = rs.ref
    if not created:
        response.status_code = status.HTTP_200_OK
    request.state.audit_status = 201 if created else 200
    return detail(rs)


@router.get("/v1/facts", dependencies=[READ], operation_id="listFacts", summary="The fact vocabulary", response_model=FactVocabulary, responses=responses(),
            tags=["facts"])
def list_facts() -> dict[str, Any]:
    """Every fact a submission may carry: key, Chinese name, unit and allowed range. Shared by all rulesets."""
    vocab = service.vocabulary()
    return {"items": [FactDefinition(**f.as_dict()) for f in vocab.facts.values()]}
