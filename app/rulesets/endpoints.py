"""Rulesets and the fact vocabulary."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.api.deps import RawBody, Route, SessionDep, parse_body
from app.api.problems import NotFound, Unprocessable, responses
from app.auth.deps import ADMIN, ASSESS, READ, SUBMIT  # noqa: F401
from app.engine.project import ProjectRuleset
from app.engine.rules import fmt
from app.engine.ruleset import Indicator
from app.rulesets import project_contract, requirements, service
from app.rulesets.diff import diff_rulesets
from app.rulesets.schemas import (
    AnyRulesetDetail,
    AnyRulesetRequirements,
    FactDefinition,
    FactVocabulary,
    ProjectScoreRequest,
    ProjectScoreResult,
    RulesetDiff,
    RulesetDocument,
    RulesetList,
    RulesetSummary,
    ScoreRequest,
    ScoreResult,
    SubmissionSchema,
    ValidationReport,
)
from app.rulesets.vocabulary import fact_readers

router = APIRouter(route_class=Route, tags=["rulesets"])


class SchemaJSONResponse(JSONResponse):
    """A JSON Schema document: documented (and sent) as ``application/schema+json``, its body
    described by the route's response model (a JSONResponse subclass, so FastAPI documents it)."""

    media_type = "application/schema+json"

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


def detail(rs: service.AnyRuleset) -> dict[str, Any]:
    """The detail of either kind (RulesetDetail or ProjectRulesetDetail)."""
    if isinstance(rs, ProjectRuleset):
        return project_contract.detail(rs, service.is_builtin(rs))
    return {
        "kind": "unit", "ref": rs.ref, "name": rs.name, "version": rs.version, "title": rs.title, "region": rs.region,
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
    """Every ruleset name with its kind (`unit`: 部门整体, `project`: 项目支出自评), versions, title, region and
    fiscal years (built-in and registered)."""
    groups: dict[str, list[service.AnyRuleset]] = {}
    for rs in service.every_ruleset(session):
        groups.setdefault(rs.name, []).append(rs)
    items = []
    for name, versions in sorted(groups.items()):
        latest = versions[-1]
        items.append(RulesetSummary(
            kind=service.kind_of(latest), name=name, versions=[v.version for v in versions], title=latest.title, region=latest.region,
            fiscal_years=sorted({y for v in versions for y in v.fiscal_years}),
            builtin=all(service.is_builtin(v) for v in versions),
        ))
    return {"items": items}


@router.get("/v1/rulesets/{name}/{version}", dependencies=[READ], operation_id="getRuleset", summary="Get one ruleset version",
            response_model=AnyRulesetDetail, responses=responses(404))
def get_ruleset(name: NamePath, version: VersionPath, session: SessionDep, response: Response) -> dict[str, Any]:
    """One version, by `kind`. A 部门整体 ruleset (`unit`): the full indicator tree with points, 指标说明,
    评分标准, rule kind and formula. A project ruleset (`project`): its 一级 / 二级 with their points, the
    execution rate, the rule of each 指标性质, the qualitative bands, row 分值, not-applicable rows,
    偏差原因, rounding and grades."""
    rs = service.get(session, name, version)
    response.headers["ETag"] = f'"{rs.content_hash}"'
    return detail(rs)


@router.get("/v1/rulesets/{name}/{version}/requirements", dependencies=[READ], operation_id="getRulesetRequirements",
            summary="What a submission needs for one ruleset version", response_model=AnyRulesetRequirements,
            responses=responses(404))
def get_requirements(name: NamePath, version: VersionPath, session: SessionDep) -> Response:
    """Everything a client needs to collect a complete submission for this version, with nothing
    else to read. A 部门整体 ruleset (`kind: unit`): every fact it reads (unit, JSON type and pattern,
    bounds, the indicators and formulas that read it, whether any can score without it), every answer
    at its exact address (kind, points, checklist items, whether and when a reason is required, allowed
    values), the indicators computed from facts only, and those that may be overridden. A project
    ruleset (`kind: project`): the 一级 / 二级 a row may name and how, the 分值 rule, 指标性质 and their
    scoring, the bands, the units that compare, the row's columns, overrides, and what is checked only
    when the table is scored."""
    c = _contract(service.get(session, name, version))
    return Response(c.description_json, media_type="application/json", headers={"ETag": c.description_etag})


@router.get("/v1/rulesets/{name}/{version}/submission.schema.json", dependencies=[READ],
            operation_id="getSubmissionSchema", summary="JSON Schema of a submission for one ruleset version",
            response_model=SubmissionSchema, response_class=SchemaJSONResponse, responses=responses(404))
def get_submission_schema(name: NamePath, version: VersionPath, session: SessionDep) -> Response:
    """A JSON Schema (2020-12) of a submission valid for this version. A 部门整体 ruleset: facts and answers
    both, generated from its requirements; `PUT /v1/units/{id}/submissions/{year}?ruleset=NAME@VERSION`
    validates with this very schema and refuses what it refuses, with the same JSON pointers. A project
    ruleset: the 自评表 (funds, goals, rows) with the ruleset's 一级 / 二级 and terms;
    `PUT /v1/units/{id}/projects/{pid}/submissions/{year}?ruleset=NAME@VERSION` validates with it."""
    c = _contract(service.get(session, name, version))
    return Response(c.schema_json, media_type="application/schema+json", headers={"ETag": c.schema_etag})


def _contract(rs: service.AnyRuleset) -> requirements.Contract:
    if isinstance(rs, ProjectRuleset):
        return project_contract.contract(rs)
    return requirements.contract(rs, service.vocabulary())


_SCORE_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "oneOf": [{"$ref": "#/components/schemas/ScoreRequest"}, {"$ref": "#/components/schemas/ProjectScoreRequest"}],
    "description": "ScoreRequest for a 部门整体 ruleset, ProjectScoreRequest for a project ruleset"}}}}}


@router.post("/v1/rulesets/{name}/{version}:score", dependencies=[READ], operation_id="scoreDryRun",
             summary="Score a submission without storing anything", response_model=ScoreResult | ProjectScoreResult,
             responses=responses(404, 422), openapi_extra=_SCORE_BODY)
def score_dry_run(name: NamePath, version: VersionPath, raw: RawBody, session: SessionDep,
                  request: Request) -> Response:
    """A dry run (`read` scope): a submission is scored as an assessment would score it (the same
    code path, and `jixiao score`'s) and the full breakdown is answered, warnings and missing items
    included; no assessment, no submission and no audit entry is stored. For a 部门整体 ruleset the
    body is facts, answers and overrides in a submission's shape (ScoreRequest; a cohort mean,
    `cohort_relative` rules, is read from the facts only); for a project ruleset it is a project's
    自评表 as `PUT …/projects/{pid}/submissions/{year}` takes it, with an evaluator's row overrides
    (ProjectScoreRequest). Bad input: 422 with pointers into the body (`/rows/3/actual_unit`)."""
    from app.assessments import workers
    from app.assessments.service import strict_refusal

    rs = service.get(session, name, version)
    request.state.audited = True  # a read: nothing changed, nothing to audit
    content_type = request.headers.get("content-type")
    if isinstance(rs, ProjectRuleset):
        from app.projects import assess

        sheet = parse_body(ProjectScoreRequest, raw, content_type)
        content = sheet.model_dump(mode="json", exclude_none=True, exclude={"overrides", "strict"})
        _, breakdown = assess.score(rs, content, sheet.overrides, sheet.strict,
                                    f"the 自评表 or its overrides do not fit {rs.ref}")
        return Response(breakdown, media_type="application/json")
    body = parse_body(ScoreRequest, raw, content_type)
    with workers.Busy() as busy:
        outcome = workers.score_stored(rs.ref, rs.content_hash, rs.text, body.facts, body.answers, body.overrides,
                                       {}, [], body.strict, busy.offload)
    if outcome[0] == "invalid":
        raise Unprocessable(f"the facts, answers or overrides do not fit {rs.ref}",
                            errors=[{"pointer": p, "message": m} for p, m in outcome[1]])
    if outcome[0] == "strict":
        raise strict_refusal(rs, outcome[1], outcome[2])
    return Response(outcome[1], media_type="application/json")


@router.post("/v1/rulesets:validate", dependencies=[ADMIN], operation_id="validateRuleset", summary="Validate a ruleset document",
             response_model=ValidationReport, responses=responses(422))
def validate_ruleset(body: RulesetDocument) -> ValidationReport:
    """Check a ruleset document without storing it (`admin` scope, like registering one: it is the
    same work). The ruleset comes as YAML text (`content`) or as a JSON object (`document`, schema
    `RulesetFile`). Problems point into the ruleset (JSON pointer, and the line of its text):
    200 with `valid: false`. A ruleset that loads is scored against its own `cases:` (docs/rulesets.md,
    Cases): each failing case is a problem pointing at what it expected (`/cases/2/expect/indicators/3.3.1`).
    A document over a limit (YAML anchors or aliases, nesting, formula length or depth; see
    docs/rulesets.md) is refused with 422."""
    rs, errors = service.validate_text(body.text())
    if rs is None:
        return ValidationReport(valid=False, errors=errors)
    return ValidationReport(valid=True, kind=service.kind_of(rs), ref=rs.ref, content_hash=rs.content_hash)


@router.post("/v1/rulesets", dependencies=[ADMIN], operation_id="registerRuleset", summary="Register a ruleset version",
             status_code=status.HTTP_201_CREATED, response_model=AnyRulesetDetail,
             responses={200: {"model": AnyRulesetDetail,
                              "description": "The same content is registered already: nothing stored, the version "
                                             "as registered"},
                        **responses(409, 422)})
def register_ruleset(
    body: RulesetDocument, session: SessionDep, response: Response, request: Request,
) -> dict[str, Any]:
    """Store a new, immutable ruleset version, sent as YAML text (`content`, stored as sent) or as a
    JSON object (`document`, schema `RulesetFile`, or `ProjectRulesetFile` with `kind: project`;
    stored as its JSON text). Registering identical content again answers 200; other content under a
    registered version, a built-in version, or a name of the other kind is a conflict (409). The
    version is the registering tenant's own, as are the assessments it scores. A ruleset that does not load, or whose own `cases:` fail, is refused
    with 422 and the pointers of its problems (`/cases/0/expect/total` for a failing case); nothing
    is stored."""
    rs, created = service.register(session, body.text())
    response.headers["Location"] = f"/v1/rulesets/{rs.name}/{rs.version}"
    request.state.created_id = rs.ref
    if not created:
        response.status_code = status.HTTP_200_OK
    request.state.audit_status = 201 if created else 200
    return detail(rs)


@router.get("/v1/facts", dependencies=[READ], operation_id="listFacts", summary="The fact vocabulary", response_model=FactVocabulary, responses=responses(),
            tags=["facts"])
def list_facts(session: SessionDep) -> dict[str, Any]:
    """Every fact a submission may carry: key, Chinese name, unit, JSON type and allowed range; its 口径
    (what the figure is), where a unit takes it from, an example and the source text it was defined
    from; and the rulesets (built-in and registered) and indicators that read it. Shared by all rulesets."""
    vocab = service.vocabulary()
    readers = fact_readers(service.all_rulesets(session))
    return {"items": [FactDefinition(**f.as_dict(), read_by=readers.get(f.key, [])) for f in vocab.facts.values()]}


# --------------------------------------------------------------------------- diff

AgainstQuery = Annotated[str, Query(
    min_length=1, max_length=200, pattern=r"^[a-z][a-z0-9-]*[a-z0-9](@[0-9A-Za-z][0-9A-Za-z._-]*)?$",
    description="The version to compare with, NAME@VERSION (NAME alone: its latest version); the answer "
                "lists what changed from it to this one",
    examples=["shenzhen@2021"])]


@router.get("/v1/rulesets/{name}/{version}/diff", dependencies=[READ], operation_id="diffRuleset",
            summary="Compare two ruleset versions", response_model=RulesetDiff, responses=responses(404, 422))
def diff_ruleset(name: NamePath, version: VersionPath, against: AgainstQuery, session: SessionDep) -> dict[str, Any]:
    """What changed from `against` to this version: indicators added, removed, renamed (matched by
    code) or moved (matched by name), points, rules term by term (kind, formula, bands, cap, items,
    parts, rounding of the ruleset, grades …), 加减分项 and the ruleset's own terms; `text` is the
    same as a readable Chinese report. Built-in and registered versions alike. Two project rulesets:
    the execution rate, the 一级 (points, `when_empty`) and 二级 as indicators, and the table's terms
    (row_points, natures, bands, not_applicable, deviation_reason, rounding, grades) as the ruleset's;
    a 部门整体 ruleset against a project ruleset is 422."""
    new = service.get(session, name, version)
    if isinstance(new, ProjectRuleset):
        old: service.AnyRuleset | None = service.resolve_project(session, against)
        if old is None:
            if any(r.name == against.split("@", 1)[0] for r in service.all_rulesets(session)):
                raise _kinds_differ(new, against)
            refs = [r.ref for r in service.project_rulesets(session)]
            message = f"unknown project ruleset '{against}'; available: {', '.join(refs)}"
            raise NotFound(message, errors=[{"parameter": "against", "message": message}], extra={"available": refs})
        return diff_rulesets(old, new)
    try:
        old = service.resolve(session, against)
    except NotFound as exc:
        if service.resolve_project(session, against) is not None:
            raise _kinds_differ(new, against) from None
        raise NotFound(str(exc), errors=[{"parameter": "against", "message": str(exc)}], extra=exc.extra) from None
    return diff_rulesets(old, new)


def _kinds_differ(new: service.AnyRuleset, against: str) -> Unprocessable:
    kinds = {"unit": "a 部门整体 ruleset", "project": "a project ruleset"}
    other = "project" if service.kind_of(new) == "unit" else "unit"
    return Unprocessable(f"{new.ref} is {kinds[service.kind_of(new)]} and {against} {kinds[other]}: a diff compares "
                         "two rulesets of one kind", errors=[{"parameter": "against", "message": f"{kinds[other]}"}])
