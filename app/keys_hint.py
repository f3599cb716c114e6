"""Printed by `make serve` before the server starts."""

from __future__ import annotations

import os

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    db = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "the embedded PostgreSQL in .data/pg"
    print(f"jixiao: serving on http://{host}:{port} (docs at /docs, readiness at /readyz) using {db}")
    print("jixiao: every /v1 call needs an API key. Create the first admin key with:")
    print("  .venv/bin/jixiao keys create --tenant my-platform --scopes read,submit,assess,admin")
    print(f"  then: curl -H 'Authorization: Bearer <key>' http://{host}:{port}/v1/rulesets")
