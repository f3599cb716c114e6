"""JSON documents stored LZ4-compressed (``bytea``): an assessment's breakdown and input snapshot.

An assessment writes a ~14 KB breakdown and a ~3 KB input snapshot once and reads them whole;
nothing queries inside them (the figures callers filter on, total, grade, status, have columns
of their own). Stored as ``json``, PostgreSQL either compresses them with pglz (slow: more than
the rest of the insert together) or, uncompressed, splits the breakdown into eight TOAST
chunks, each a tuple and an index entry of its own: together ~0.13 ms of the server's time per
assessment, the largest part of a batch's database work. Compressed here with LZ4 (~15 µs, to
about a quarter), both documents fit in the row itself (see migration 0005).

Pure functions (the scoring workers pack breakdowns without importing SQLAlchemy); the column
type is app.db.models.PackedJSON. The stored form is an LZ4 frame of the document's UTF-8 JSON text. Rows written before migration
0005 hold the JSON text itself, uncompressed: :func:`unpack` reads both.
"""

from __future__ import annotations

from typing import Any

import lz4.frame
import orjson

#: the first bytes of an LZ4 frame (its magic number, little-endian)
LZ4_MAGIC = b"\x04\x22\x4d\x18"


def pack_json(text: bytes) -> bytes:
    """The stored form of a document given as JSON text."""
    return bytes(lz4.frame.compress(text))


def pack(document: Any) -> bytes:
    """The stored form of a document."""
    return pack_json(orjson.dumps(document))


def unpack_json(stored: bytes) -> bytes:
    """A stored document's JSON text."""
    if stored[:4] == LZ4_MAGIC:
        return bytes(lz4.frame.decompress(stored))
    return stored  # written before migration 0005: the JSON text itself


def unpack(stored: bytes) -> Any:
    """A stored document."""
    return orjson.loads(unpack_json(stored))
