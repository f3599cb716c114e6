"""``jixiao webhooks reencrypt``: the endpoints' secrets under the first of ``JIXIAO_WEBHOOK_SECRET_KEYS``.

Rotating the key that encrypts the secrets: put the new key first in ``JIXIAO_WEBHOOK_SECRET_KEYS``
(the old one after it, so both still decrypt), run this, then drop the old key. It runs as the
database's owner (every tenant's endpoints: outside row-level security, like ``jixiao keys list``).
"""

from __future__ import annotations

import typer
from sqlalchemy import text

from app.webhooks import secrets

webhooks_app = typer.Typer(no_args_is_help=True, help="Webhook endpoints' secrets.")


@webhooks_app.command("reencrypt")
def reencrypt() -> None:
    """Encrypt every endpoint's secret (and previous secret) again under the first configured key."""
    from app.db.session import get_owner_engine

    count = 0
    with get_owner_engine().begin() as conn:
        rows = conn.execute(text("SELECT id, secret, previous_secret FROM webhook_endpoints FOR UPDATE")).all()
        for ident, secret, previous in rows:
            conn.execute(text("UPDATE webhook_endpoints SET secret = :s, previous_secret = :p WHERE id = :i"),
                         {"s": secrets.reseal(secret), "p": secrets.reseal(previous) if previous else None, "i": ident})
            count += 1
    typer.echo(f"{count} endpoint secrets encrypted under the first key")
