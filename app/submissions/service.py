"""Submissions: every version kept; the newest is current. Optimistic concurrency via ETag."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Protocol

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api.problems import Conflict, NotFound, PreconditionFailed, PreconditionRequired, Unprocessable
from app.db.models import Submission
from app.engine.errors import InvalidInput
from app.engine.facts import exact_numbers
from app.rulesets.service import vocabulary
from app.units import service as units


class Versioned(Protocol):
    """A stored version of a submission (a unit's, or a project's: app.projects)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def version(self) -> int: ...


def etag(sub: Versioned) -> str:
    return f'"{sub.id}"'


def canonical_facts(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate facts against the vocabulary and store them in one canonical text form."""
    return parse_facts(raw)[0]


def parse_facts(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(canonical stored form, engine values) of validated facts; raises InvalidInput."""
    vocab = vocabulary()
    values, problems = vocab.parse(raw)
    if problems:
        raise InvalidInput(problems)
    return vocab.canonical(values), values


#: Numbers sent as JSON floats are stored as exact decimal text (what was sent).
_json_safe = exact_numbers


def content_hash(facts: dict[str, Any], answers: dict[str, Any], overrides: dict[str, Any]) -> str:
    doc = orjson.dumps({"facts": facts, "answers": answers, "overrides": overrides}, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(doc).hexdigest()


def current(session: Session, unit_id: uuid.UUID, year: int) -> Submission | None:
    return session.scalar(
        select(Submission).where(Submission.unit_id == unit_id, Submission.fiscal_year == year)
        .order_by(Submission.version.desc()).limit(1)
    )


def get_current(session: Session, unit_id: uuid.UUID, year: int) -> Submission:
    units.get(session, unit_id)
    sub = current(session, unit_id, year)
    if sub is None:
        raise NotFound(f"unit {unit_id} has no submission for fiscal year {year}")
    return sub


def versions(session: Session, unit_id: uuid.UUID, year: int) -> list[Submission]:
    units.get(session, unit_id)
    return list(session.scalars(
        select(Submission).where(Submission.unit_id == unit_id, Submission.fiscal_year == year)
        .order_by(Submission.version)
    ))


def version(session: Session, unit_id: uuid.UUID, year: int, number: int) -> Submission:
    sub = session.scalar(select(Submission).where(
        Submission.unit_id == unit_id, Submission.fiscal_year == year, Submission.version == number))
    if sub is None:
        raise NotFound(f"unit {unit_id} has no submission version {number} for fiscal year {year}")
    return sub


def build_values(unit_id: uuid.UUID, year: int, version_no: int, facts: dict[str, Any], answers: dict[str, Any],
                 overrides: dict[str, Any], note: str | None, *, tenant_id: uuid.UUID,
                 canonical: bool = False) -> dict[str, Any]:
    """The column values of a new submission version (for bulk writes)."""
    answers = _json_safe(answers)
    overrides = _json_safe(overrides)
    canon = facts if canonical else canonical_facts(facts)
    return {"id": uuid.uuid4(), "tenant_id": tenant_id, "unit_id": unit_id, "fiscal_year": year,
            "version": version_no, "facts": canon, "answers": answers, "overrides": overrides, "note": note,
            "content_hash": content_hash(canon, answers, overrides)}


def build(unit_id: uuid.UUID, year: int, version_no: int, facts: dict[str, Any], answers: dict[str, Any],
          overrides: dict[str, Any], note: str | None, *, tenant_id: uuid.UUID, canonical: bool = False) -> Submission:
    return Submission(**build_values(unit_id, year, version_no, facts, answers, overrides, note,
                                     tenant_id=tenant_id, canonical=canonical))


def check_answers(session: Session, year: int, ruleset: str | None, facts: dict[str, Any], answers: dict[str, Any],
                  overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """With ``ruleset``: refuse (422) answers and overrides that do not fit it, with the facts' own problems,
    each by JSON pointer (app.rulesets.requirements: the ruleset's submission.schema.json). Without: the
    warnings of what would not fit the rulesets covering the year."""
    from app.rulesets import requirements
    from app.rulesets import service as rulesets

    vocab = vocabulary()
    if ruleset is None:
        if not answers and not overrides:
            return []
        covering = [rs for rs in rulesets.all_rulesets(session) if rs.covers(year)]
        return requirements.fit_warnings(covering, vocab, answers, overrides, year)
    rs = rulesets.resolve(session, ruleset, year)
    problems = requirements.check(rs, vocab, {"answers": answers, "overrides": overrides}, facts=False)
    problems += vocab.parse(facts)[1]
    if problems:
        raise Unprocessable(f"the submission does not fit {rs.ref}",
                            errors=[p.as_dict() for p in sorted(problems, key=lambda p: p.pointer)])
    return []


def put(session: Session, unit_id: uuid.UUID, year: int, facts: dict[str, Any], answers: dict[str, Any],
        overrides: dict[str, Any], note: str | None, if_match: str | None, if_none_match: str | None) -> tuple[Submission, bool]:
    """Create (version 1) or replace (version n+1). Returns (submission, created)."""
    unit = units.get_owned(session, unit_id, for_update=True)  # also serialises writers of this unit
    existing = current(session, unit_id, year)
    check_preconditions(existing, if_match, if_none_match)
    sub = build(unit_id, year, 1 if existing is None else existing.version + 1, facts, answers, overrides, note,
                tenant_id=unit.tenant_id)
    session.add(sub)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("the submission was replaced concurrently; read it again") from None
    session.refresh(sub)
    return sub, existing is None


def check_preconditions(existing: Versioned | None, if_match: str | None, if_none_match: str | None) -> None:
    """The conditional-request rules of replacing a version: a replacement needs ``If-Match`` with the
    current version's ETag (428 when absent, 412 when stale); ``If-None-Match: *`` creates only."""
    if existing is None:
        if if_match is not None and if_match.strip() != "*":
            raise PreconditionFailed("there is no submission yet; If-Match cannot match")
    else:
        if if_none_match is not None and if_none_match.strip() == "*":
            raise PreconditionFailed("a submission already exists (If-None-Match: *)", headers={"ETag": etag(existing)})
        if if_match is None:
            raise PreconditionRequired(
                "replacing a submission requires If-Match with the ETag of the version you edited",
                headers={"ETag": etag(existing)},
            )
        tags = [t.strip() for t in if_match.split(",")]
        if etag(existing) not in tags and "*" not in tags:
            raise PreconditionFailed(
                f"the submission has changed since you read it; current version is {existing.version}",
                headers={"ETag": etag(existing)},
            )
