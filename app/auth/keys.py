"""API keys: random, prefixed, stored as a hash only, shown once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import scoping
from app.db import sql
from app.db.models import ApiKey, Tenant

SCOPES = ("read", "submit", "assess", "admin")
KEY_PREFIX = "jx_"
# The lookup by prefix that row-level security lets through before any tenant is known (jixiao_key,
# migration 0009), with the tenant's suspension; it sets the key's tenant for the transaction
# (app.auth.scoping). One definition with the hot path's (app.db.sql.first_with_key).
_VERIFY = sql.KEY_LOOKUP


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a tenant, through one key, with some scopes."""

    tenant_id: uuid.UUID
    key_id: uuid.UUID
    scopes: frozenset[str]
    #: why the tenant is suspended (app.auth.tenants), None while it is active: its calls get 403
    suspended: str | None = None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """(prefix, full key). The prefix identifies the key in lists and logs; the rest is secret."""
    prefix = KEY_PREFIX + secrets.token_hex(4)
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def get_or_create_tenant(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        tenant = Tenant(id=uuid.uuid4(), name=name)
        session.add(tenant)
        session.flush()
    return tenant


def create_key(session: Session, tenant_id: uuid.UUID, name: str, scopes: list[str],
               expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    bad = sorted(set(scopes) - set(SCOPES))
    if bad or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {list(SCOPES)}; got {scopes}")
    prefix, key = new_key()
    scoping.set_tenant(session, tenant_id)  # row-level security: a key is written as its tenant
    row = ApiKey(id=uuid.uuid4(), tenant_id=tenant_id, name=name, prefix=prefix, secret_hash=_hash(key),
                 scopes=sorted(set(scopes), key=SCOPES.index), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, key


def key_prefix(presented: str) -> str | None:
    """The prefix (lookup id) of a presented key; None when it cannot be one of ours."""
    if not presented.startswith(KEY_PREFIX) or presented.count("_") < 2:
        return None
    return presented[: len(KEY_PREFIX) + 8]


#: the key columns :func:`check` needs, in its order (for statements that read the key themselves)
KEY_COLUMNS = ("id", "tenant_id", "secret_hash", "scopes", "expires_at", "revoked_at", "suspended")
assert len(KEY_COLUMNS) == sql.KEY_WIDTH  # the columns app.db.sql.KEY_LOOKUP reads


def check(row: Sequence[Any] | None, presented: str) -> Principal | None:
    """The principal of a presented key, given its row (:data:`KEY_COLUMNS`), or None when unknown,
    wrong, expired or revoked."""
    if row is None:
        return None
    key_id, tenant_id, secret_hash, scopes, expires_at, revoked_at, suspended = row
    if not hmac.compare_digest(secret_hash, _hash(presented)):
        return None
    if revoked_at is not None or (expires_at is not None and expires_at <= datetime.now(UTC)):
        return None
    return Principal(tenant_id, key_id, frozenset(scopes), suspended)


def verify(session: Session, presented: str) -> Principal | None:
    """The principal of a presented key, or None when unknown, wrong, expired or revoked."""
    prefix = key_prefix(presented)
    if prefix is None:
        return None
    # Fixed SQL on the session's connection (app.db.sql): no tenant scoping applies (nobody is known yet).
    row = sql.first(session, _VERIFY, {"jx_prefix": prefix})
    principal = check(row[: len(KEY_COLUMNS)] if row is not None else None, presented)
    if principal is not None:
        scoping.tenant_was_set(session, principal.tenant_id)
    return principal


def revoke(session: Session, tenant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    row = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id))
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.flush()
    return row
