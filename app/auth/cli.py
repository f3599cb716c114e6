"""`jixiao keys create|list|revoke`: bootstrap and manage API keys from the shell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys (talks to the database).")


def _session() -> Session:
    # as the login role (the owner): these operator commands span tenants, which the service's
    # role, under row-level security, cannot (app.db.session.get_owner_sessionmaker)
    from app.db.session import get_owner_sessionmaker

    return get_owner_sessionmaker()()


@keys_app.command("create")
def create(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant name (created when new)")],
    name: Annotated[str, typer.Option("--name", "-n", help="What the key is for")] = "bootstrap",
    scopes: Annotated[str, typer.Option("--scopes", "-s", help="Comma-separated: read,submit,assess,admin")] = "read,submit,assess,admin",
    expires_in_days: Annotated[int | None, typer.Option(help="Expire after this many days")] = None,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from app.auth.keys import create_key, get_or_create_tenant

    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    with _session() as session, session.begin():
        t = get_or_create_tenant(session, tenant)
        try:
            row, key = create_key(session, t.id, name, wanted, expires)
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        typer.echo(f"tenant  {t.name} ({t.id})", err=True)
        typer.echo(f"key id  {row.id}  prefix {row.prefix}  scopes {','.join(row.scopes)}", err=True)
        typer.echo("store this key now; it is not shown again:", err=True)
        typer.echo(key)


@keys_app.command("list")
def list_keys(tenant: Annotated[str | None, typer.Option("--tenant", "-t")] = None) -> None:
    """List keys (never their secrets)."""
    from app.db.models import ApiKey, Tenant

    with _session() as session:
        stmt = select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id).order_by(Tenant.name, ApiKey.created_at)
        if tenant:
            stmt = stmt.where(Tenant.name == tenant)
        for key, tname in session.execute(stmt):
            state = "revoked" if key.revoked_at else ("expired" if key.expires_at and key.expires_at <= datetime.now(UTC) else "active")
            typer.echo(f"{tname:<20} {key.prefix:<12} {key.id}  {','.join(key.scopes):<24} {state:<8} {key.name}")


def revoke_row(session: Session, model: Any, key: str, what: str) -> None:
    """Revoke the key (an API key, an operator key) with this id or prefix; refused from the next
    request on. Revoking twice changes nothing."""
    import uuid

    cond = model.prefix == key
    try:
        cond = or_(cond, model.id == uuid.UUID(key))
    except ValueError:
        pass
    row = session.scalar(select(model).where(cond))
    if row is None:
        typer.echo(f"no {what} {key}", err=True)
        raise typer.Exit(1)
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    typer.echo(f"revoked {row.prefix} ({row.id})")


@keys_app.command("revoke")
def revoke(key: Annotated[str, typer.Argument(help="Key id or prefix")]) -> None:
    """Revoke a key; it is refused from the next request on."""
    from app.db.models import ApiKey

    with _session() as session, session.begin():
        revoke_row(session, ApiKey, key, "key")
