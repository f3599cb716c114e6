"""Rulesets: built-ins from ``rulesets/`` plus versions registered through the API."""

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
from app.engine.ruleset import Ruleset, RulesetRegistry, content_hash, load_ruleset_text


def registry() -> RulesetRegistry:
    return builtin_registry()


def vocabulary() -> Vocabulary:
    return builtin_registry().vocabulary


@lru_cache(maxsize=256)
def _load_custom(text: str, hash_: str) -> Ruleset:
    # Cached by content hash: a registered version never changes.
    return load_ruleset_text(text, vocabulary(), source="registered ruleset")


def _custom_rows(session: Session, name: str | None = None) -> list[RulesetVersion]:
    stmt = select(RulesetVersion).order_by(RulesetVersion.name, RulesetVersion.version)
    if name is not None:
        stmt = stmt.where(RulesetVersion.name == name)
    return list(session.scalars(stmt))


def all_rulesets(session: Session) -> list[Ruleset]:
    out = list(registry().all())
    builtin = {r.ref for r in out}
    for row in _custom_rows(session):
        rs = _load_custom(row.content, row.content_hash)
        if rs.ref not in builtin:
            out.append(rs)
    return sorted(out, key=lambda r: (r.name, r.version))


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


def validate_text(text: str) -> tuple[Ruleset | None, list[dict[str, str]]]:
    """(the ruleset, []) or (None, its problems); a document over a limit that keeps reading it
    cheap (app.engine.errors.LimitExceeded) is refused as a request: 422 naming ``/content``.

    A document that loads is checked against its own cases (``cases:``, app.engine.cases): each
    failing case is a problem pointing at what it expected (``/cases/2/expect/total``)."""
    try:
        rs = load_ruleset_text(text, vocabulary(), source="document")
    except LimitExceeded as exc:
        raise Unprocessable("the ruleset document is over a limit of this API (see docs/rulesets.md, Limits)",
                            errors=[{"pointer": "/content", "message": p.message} for p in exc.problems]) from None
    except RulesetError as exc:
        return None, [p.as_dict() for p in exc.problems]
    result = run_cases(rs, vocabulary())
    if not result.passed:
        return None, [p.as_dict() for p in result.failures]
    return rs, []


def register(session: Session, text: str) -> tuple[Ruleset, bool]:
    """Register a new version; returns (ruleset, created). Same content again is a no-op."""
    rs, errors = validate_text(text)
    if rs is None:
        raise Unprocessable("the ruleset document does not load or its own cases fail", errors=[{"pointer": e["pointer"], "message": e["message"]} for e in errors])
    if registry().get(rs.ref) is not None:
        raise Conflict(f"{rs.ref} is a built-in ruleset; register a new version instead")
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


def get(session: Session, name: str, version: str) -> Ruleset:
    ref = f"{name}@{version}"
    found = next((r for r in all_rulesets(session) if r.ref == ref), None)
    if found is None:
        raise NotFound(f"unknown ruleset '{ref}'; available: {', '.join(available_refs(session))}")
    return found


def is_builtin(rs: Ruleset) -> bool:
    return registry().get(rs.ref) is rs
