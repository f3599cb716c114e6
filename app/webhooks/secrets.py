"""Webhook signing secrets: made here, shown once, kept encrypted.

A Standard Webhooks secret is symmetric (HMAC-SHA256): the service needs the secret itself to
sign every delivery, so unlike an API key it cannot be kept as a hash. It is stored encrypted
with Fernet (``cryptography``: AES-128-CBC with an HMAC-SHA256, authenticated) under a key that is
not in the database: ``JIXIAO_WEBHOOK_SECRET_KEYS``, one or more Fernet keys separated by commas
(the first encrypts; every one decrypts, so the key itself can be rotated: put the new key
first, and re-encrypt with ``jixiao webhooks reencrypt``, then drop the old one). A copy of the
database alone (a backup, a replica, a dump) does not reveal any endpoint's secret.

Unset, a key is made on first use and kept in ``.data/webhook-secret.key`` (mode 0600) beside the
embedded database: enough for one machine. API and workers on several machines must all be given
the same ``JIXIAO_WEBHOOK_SECRET_KEYS``.

The secret itself is ``whsec_`` and 32 random bytes in base64, as the specification writes it
(what the ``standardwebhooks`` library's ``Webhook`` takes on both sides).
"""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "whsec_"
_KEY_FILE = "webhook-secret.key"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key_file() -> Path:
    from app.settings import ROOT

    return ROOT / ".data" / _KEY_FILE


def _local_key() -> bytes:
    path = _key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: two processes starting at once agree on the first one's key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
    return path.read_bytes().strip()


@lru_cache(maxsize=4)
def _fernet(spec: str) -> MultiFernet:
    keys = [k.strip().encode() for k in spec.split(",") if k.strip()] or [_local_key()]
    return MultiFernet([Fernet(k) for k in keys])


def _cipher() -> MultiFernet:
    from app.settings import get_settings

    return _fernet(get_settings().webhook_secret_keys)


def seal(secret: str) -> bytes:
    """The stored form of a secret."""
    return _cipher().encrypt(secret.encode())


def unseal(stored: bytes) -> str:
    """The secret of its stored form; ValueError when no configured key opens it."""
    try:
        return _cipher().decrypt(bytes(stored)).decode()
    except InvalidToken:
        raise ValueError("no key of JIXIAO_WEBHOOK_SECRET_KEYS decrypts this endpoint's secret") from None


def reseal(stored: bytes) -> bytes:
    """The stored form under the first configured key (after a rotation of the keys)."""
    return _cipher().rotate(bytes(stored))
