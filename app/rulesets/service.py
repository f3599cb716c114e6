"""Rulesets: built-ins from ``rulesets/`` plus versions registered through the API.

Two kinds share the resource and its table: 部门整体 rulesets (``Ruleset``, app.engine.ruleset) and
project rulesets (``kind: project``, ``ProjectRuleset``, app.engine.project). A name belongs to one
kind only. ``all_rulesets``/``resolve`` answer the 部门整体 ones (what a unit's submission and
assessment read), ``project_rulesets``/``resolve_project`` the project ones, ``every_ruleset``/``get``
both (the ruleset API)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api.problems import Conflict, NotFound, Unprocessable
from app.db.models import RulesetVersion
from app.engine import builtin_registry
from app.engine.cases import run_cases
from app.engine.errors import LimitExceeded, RulesetError
from app.engine.facts import Vocabulary
from app.engine.project import ProjectRuleset, load_project_ruleset_text
from app.engine.project_format import is_project_ruleset_text
from app.engine.ruleset import Ruleset, RulesetRegistry, content_hash, load_ruleset_text
from app.engine.yamlio import YamlError, loads_yaml

#: a ruleset of either kind
AnyRuleset = Ruleset | ProjectRuleset


def registry() -> RulesetRegistry:
    return builtin_registry()


def vocabulary() -> Vocabulary:
    return builtin_registry().vocabulary


def kind_of(rs: AnyRuleset) -> str:
    """``project`` or ``unit`` (部门整体)."""
    return "project" if isinstance(rs, ProjectRuleset) else "unit"


def document_kind(text: str) -> str:
    """The kind of a ruleset document: ``project`` when its top level says ``kind: project`` (as YAML
    text or as the JSON text of a ``document``), else ``unit``. A document that does not parse is a
    unit one here: its loader reports why (and a document over a limit is refused by either)."""
    if is_project_ruleset_text(text):
        return "project"
    try:
        data, _ = loads_yaml(text, "document")
    except (YamlError, LimitExceeded):
        return "unit"
    return "project" if isinstance(data, dict) and data.get("kind") == "project" else "unit"


def load_text(text: str, source: str) -> AnyRuleset:
    """Load a document of either kind; raise :class:`RulesetError` (:class:`LimitExceeded` over a limit)."""
    if document_kind(text) == "project":
        return load_project_ruleset_text(text, source=source)
    return load_ruleset_text(text, vocabulary(), source=source)


@lru_cache(maxsize=256)
def _load_custom(text: str, hash_: str) -> AnyRuleset:
    # Cached by content hash: a registered version never changes.
    return load_text(text, "registered ruleset")


def _custom_rows(session: Session, name: str | None = None) -> list[RulesetVersion]:
    stmt = select(RulesetVersion).order_by(RulesetVersion.name, RulesetVersion.version)
    if name is not None:
        stmt = stmt.where(RulesetVersion.name == name)
    return list(session.scalars(stmt))


def _registered(session: Session) -> list[AnyRuleset]:
    """The versions the caller's tenant registered (row-level security scopes the table)."""
    reg = registry()
    out: list[AnyRuleset] = []
    for row in _custom_rows(session):
        ref = f"{row.name}@{row.version}"
        if reg.get(ref) is None and reg.project(ref) is None:
            out.append(_load_custom(row.content, row.content_hash))
    return out


def all_rulesets(session: Session) -> list[Ruleset]:
    """The 部门整体 rulesets, built-in and registered."""
    out = list(registry().all()) + [r for r in _registered(session) if isinstance(r, Ruleset)]
    return sorted(out, key=lambda r: (r.name, r.version))


def project_rulesets(session: Session) -> list[ProjectRuleset]:
    """The project rulesets, built-in and registered."""
    out = list(registry().projects()) + [r for r in _registered(session) if isinstance(r, ProjectRuleset)]
    return sorted(out, key=lambda r: (r.name, r.version))


def every_ruleset(session: Session) -> list[AnyRuleset]:
    """Rulesets of both kinds, built-in and registered, by name and version."""
    out: list[AnyRuleset] = [*registry().all(), *registry().projects(), *_registered(session)]
    return sorted(out, key=lambda r: (r.name, r.version))


def resolve_project(session: Session, ref: str, year: int | None = None) -> ProjectRuleset | None:
    """``NAME@VERSION`` exactly, or ``NAME`` with its latest version covering ``year``; None when unknown."""
    quick = registry().resolve_project(ref, year) if "@" in ref else None
    if quick is not None:
        return quick  # built-in, exact version: no database round trip
    if "@" in ref:
        return next((r for r in project_rulesets(session) if r.ref == ref), None)
    covering = [r for r in project_rulesets(session) if r.name == ref and (year is None or r.covers(year))]
    return max(covering, key=lambda r: r.version) if covering else None


def available_refs(session: Session) -> list[str]:
    return [r.ref for r in all_rulesets(session)]


def resolve(session: Session, ref: str, year: int | None = None) -> Ruleset:
    """Resolve ``NAME@VERSION`` or ``NAME`` (+ year) to a ruleset, or raise a 404/422 problem."""
    reg = registry()
    name = ref.split("@", 1)[0]
    quick = reg.get(ref) if "@" in ref else None
    if quick is not None and (year is None or quick.covers(year)):
        return quick  # built-in, exact version: no database round trip
    candidates = [r for r in all_rulesets(session) if r.name == name]
    if "@" in ref:
        found = next((r for r in candidates if r.ref == ref), None)
    else:
        covering = [r for r in candidates if year is None or r.covers(year)]
        found = max(covering, key=lambda r: r.version) if covering else None
        if found is None and candidates:
            years = sorted({y for r in candidates for y in r.fiscal_years})
            raise Unprocessable(
                f"ruleset '{name}' has no version covering fiscal year {year}; it covers {years}",
                errors=[{"pointer": "/fiscal_year", "message": f"not covered by {name}; covered years: {years}"}],
            )
    if found is None:
        refs = available_refs(session)
        raise NotFound(
            f"unknown ruleset '{ref}'; available: {', '.join(refs)}",
            errors=[{"pointer": "/ruleset", "message": f"unknown ruleset; available: {', '.join(refs)}"}],
            extra={"available": refs},
        )
    if year is not None and not found.covers(year):
        raise Unprocessable(
            f"{found.ref} applies to fiscal years {found.fiscal_years}, not {year}",
            errors=[{"pointer": "/fiscal_year", "message": f"{found.ref} covers {found.fiscal_years}"}],
        )
    return found


def validate_text(text: str) -> tuple[AnyRuleset | None, list[dict[str, str]]]:
    """(the ruleset, []) or (None, its problems); a document over a limit that keeps reading it
    cheap (app.engine.errors.LimitExceeded) is refused as a request: 422 naming ``/content``.

    A document that loads is checked against its own cases (``cases:``, app.engine.cases): each
    failing case is a problem pointing at what it expected (``/cases/2/expect/total``). A project
    ruleset (``kind: project``) is validated by its own file model (app.engine.project_format)."""
    try:
        rs = load_text(text, "document")
    except LimitExceeded as exc:
        raise Unprocessable("the ruleset document is over a limit of this API (see docs/rulesets.md, Limits)",
                            errors=[{"pointer": "/content", "message": p.message} for p in exc.problems]) from None
    except RulesetError as exc:
        return None, [p.as_dict() for p in exc.problems]
    if isinstance(rs, ProjectRuleset):
        return rs, []  # a project file has no cases: its rows come from each submission
    result = run_cases(rs, vocabulary())
    if not result.passed:
        return None, [p.as_dict() for p in result.failures]
    return rs, []


def register(session: Session, text: str) -> tuple[AnyRuleset, bool]:
    """Register a new version; returns (ruleset, created). Same content again is a no-op."""
    rs, errors = validate_text(text)
    if rs is None:
        raise Unprocessable("the ruleset document does not load or its own cases fail", errors=[{"pointer": e["pointer"], "message": e["message"]} for e in errors])
    if registry().get(rs.ref) is not None or registry().project(rs.ref) is not None:
        raise Conflict(f"{rs.ref} is a built-in ruleset; register a new version instead")
    kind = kind_of(rs)
    other = next((r for r in every_ruleset(session) if r.name == rs.name and kind_of(r) != kind), None)
    if other is not None:
        label = {"unit": "a 部门整体 (unit)", "project": "a project"}
        raise Conflict(f"the name '{rs.name}' belongs to {label[kind_of(other)]} ruleset ({other.ref}); a name "
                       f"belongs to one kind only: give this {kind} ruleset another name",
                       errors=[{"pointer": "/name", "message": f"already the name of {label[kind_of(other)]} ruleset"}])
    existing = session.scalar(select(RulesetVersion).where(RulesetVersion.name == rs.name, RulesetVersion.version == rs.version))
    if existing is not None:
        if existing.content_hash == rs.content_hash:
            return rs, False
        raise Conflict(f"{rs.ref} is already registered with different content; ruleset versions are immutable, register a new version")
    from app.auth.scoping import current_tenant

    row = RulesetVersion(tenant_id=current_tenant(session), name=rs.name, version=rs.version, title=rs.title, region=rs.region,
                         fiscal_years=rs.fiscal_years, content=text, content_hash=content_hash(text))
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"{rs.ref} was registered concurrently") from None
    return rs, True


def get(session: Session, name: str, version: str) -> AnyRuleset:
    """One version of either kind, or 404 naming those there are."""
    ref = f"{name}@{version}"
    reg = registry()
    quick = reg.get(ref) or reg.project(ref)
    if quick is not None:
        return quick
    every = every_ruleset(session)
    found = next((r for r in every if r.ref == ref), None)
    if found is None:
        raise NotFound(f"unknown ruleset '{ref}'; available: {', '.join(r.ref for r in every)}")
    return found


def is_builtin(rs: AnyRuleset) -> bool:
    reg = registry()
    return (reg.project(rs.ref) if isinstance(rs, ProjectRuleset) else reg.get(rs.ref)) is rs
