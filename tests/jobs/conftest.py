"""Jobs' test helpers: items, and a queue worker run in the test's own process until the queue is empty."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.factories import seed


def items(n: int, prefix: str = "J", start: int = 0) -> list[dict[str, Any]]:
    data = seed("001")
    return [{"unit": {"code": f"{prefix}{start + i:06d}", "name": f"单位{i}", "kind": "school", "region": "盐田区"},
             "fiscal_year": 2023, "facts": data["facts"], "answers": data["answers"],
             "overrides": data.get("overrides", {}), "ruleset": "shenzhen-yantian@2023", "kind": "self",
             "evaluator": "测试"} for i in range(n)]


def drain() -> None:
    """Run a worker until no task is left (procrastinate's wait=False)."""
    from app.jobs import worker

    asyncio.run(worker.run_async(wait=False))


@pytest.fixture
def chunk_size() -> Iterator[Any]:
    """Set the chunk size for a test (small chunks: several per job)."""
    from app.settings import get_settings

    settings = get_settings()
    before = settings.jobs_chunk_size

    def set_size(n: int) -> None:
        settings.jobs_chunk_size = n

    yield set_size
    settings.jobs_chunk_size = before
