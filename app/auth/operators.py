"""Operator keys: the deployment's owner, above tenants (``jixiao operators create|list|revoke``).

An operator key manages tenants through ``/v1/tenants`` (create, list, suspend, reactivate, make
a tenant's first admin key) and nothing else: it belongs to no tenant and no tenant's data is
visible to it. Keys look like ``jxop_1a2b3c4d_…``, are random, shown once and stored as a SHA-256
hash only, exactly like API keys (app.auth.keys)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import OperatorKey

PREFIX = "jxop_"


@dataclass(frozen=True, slots=True)
class Operator:
    key_id: uuid.UUID
    prefix: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def is_operator_key(presented: str) -> bool:
    return presented.startswith(PREFIX)


def create(session: Session, name: str) -> tuple[OperatorKey, str]:
    prefix = PREFIX + secrets.token_hex(4)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = OperatorKey(id=uuid.uuid4(), name=name, prefix=prefix, secret_hash=_hash(key))
    session.add(row)
    session.flush()
    return row, key


def verify(session: Session, presented: str) -> Operator | None:
    """The operator of a presented key, or None when it is not a valid, unrevoked operator key."""
    if not is_operator_key(presented) or presented.count("_") < 2:
        return None
    prefix = presented[: len(PREFIX) + 8]
    row = session.execute(select(OperatorKey.id, OperatorKey.secret_hash, OperatorKey.revoked_at)
                          .where(OperatorKey.prefix == prefix)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _hash(presented)):
        return None
    return Operator(row.id, prefix)


operators_app = typer.Typer(no_args_is_help=True,
                            help="Create, list and revoke operator keys (they manage tenants through /v1/tenants).")


def _session() -> Session:
    from app.db.session import get_sessionmaker

    return get_sessionmaker()()


@operators_app.command("create")
def create_command(name: Annotated[str, typer.Option("--name", "-n", help="Who or what the key is for")]) -> None:
    """Create an operator key and print it once (only its hash is stored)."""
    with _session() as session, session.begin():
        row, key = create(session, name)
        typer.echo(f"operator key {row.prefix} ({row.id})", err=True)
        typer.echo("store this key now; it is not shown again:", err=True)
        typer.echo(key)


@operators_app.command("list")
def list_command() -> None:
    """List operator keys (never their secrets)."""
    with _session() as session:
        for row in session.scalars(select(OperatorKey).order_by(OperatorKey.created_at)):
            state = "revoked" if row.revoked_at else "active"
            typer.echo(f"{row.prefix:<14} {row.id}  {state:<8} {row.name}")


@operators_app.command("revoke")
def revoke_command(key: Annotated[str, typer.Argument(help="Key id or prefix")]) -> None:
    """Revoke an operator key; it is refused from the next request on."""
    from app.auth.cli import revoke_row

    with _session() as session, session.begin():
        revoke_row(session, OperatorKey, key, "operator key")
