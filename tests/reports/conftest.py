"""Helpers for the report tests: seeded, scored assessments and artifact files."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from tests.api.factories import SEED_RULESETS, assess, seed_unit_with_submission

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "reports"


def walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for n in nodes:
        yield n
        yield from walk(n.get("children") or [])


def leaves(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in walk(nodes) if not n.get("children")]


@pytest.fixture
def assessed(client) -> Callable[..., tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """Seed a fixture unit with its submission and score it: (assessment, unit, seed data)."""

    def make(name: str, kind: str = "self", evaluator: str | None = None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        unit, data = seed_unit_with_submission(client, name)
        r = assess(client, unit["id"], data["fiscal_year"], SEED_RULESETS[name], kind=kind,
                   evaluator=evaluator or data.get("evaluator") or "测试")
        assert r.status_code == 201, r.text
        return r.json(), unit, data

    return make


def workbook(content: bytes) -> Workbook:
    return load_workbook(io.BytesIO(content))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
