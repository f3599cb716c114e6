"""The floor for bench/api.py: a minimal FastAPI app that only inserts the JSON body into one table.

Same stack as the service (FastAPI, a sync SQLAlchemy 2 session per request committed by the
dependency, psycopg 3, the same pool settings) and none of its work: no lookups, no scoring,
no breakdown in the answer.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Column, MetaData, Table, create_engine, insert
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Session, sessionmaker

metadata = MetaData()
floor = Table("bench_floor", metadata, Column("id", UUID(as_uuid=True), primary_key=True), Column("body", JSONB))

# The service's pool settings (app/db/session.py): 10 + 20 connections, no pre-ping round trip.
engine = create_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=20, pool_pre_ping=False)
metadata.create_all(engine)
Sessions = sessionmaker(bind=engine, expire_on_commit=False)


def session_scope() -> Iterator[Session]:
    s = Sessions()
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()


app = FastAPI()


@app.post("/floor")
def insert_body(body: Annotated[dict[str, Any], Body()],
                session: Annotated[Session, Depends(session_scope, scope="function")]) -> JSONResponse:
    new_id = uuid.uuid4()
    session.execute(insert(floor).values(id=new_id, body=body))
    return JSONResponse({"id": str(new_id)}, status_code=201)
