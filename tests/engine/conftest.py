"""Shared fixtures for the engine tests: the built-in registry and a tiny ruleset builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest

from app.engine import builtin_registry
from app.engine.facts import Vocabulary
from app.engine.ruleset import Ruleset, RulesetRegistry, load_ruleset_text
from app.engine.scoring import Assessment, IndicatorResult, flatten, prepare, score

HEAD = """\
name: test-rules
version: "1"
title: 测试规则
region: 测试
fiscal_years: [2023]
source: {{document: test.txt}}
total_points: {total}
rounding: {{places: 2, mode: {mode}}}
bounds: {{min: 0, max: {total}}}
grades:
  - {{grade: 优, min: {top}}}
  - {{grade: 差, min: 0}}
"""


def ruleset_text(indicators: str, *, total: str = "10", mode: str = "down", extra: str = "", top: str | None = None) -> str:
    """A whole ruleset document around an ``indicators:`` block (YAML, indented by 2)."""
    head = HEAD.format(total=total, mode=mode, top=top or format(Decimal(total) * Decimal("0.9"), "f"))
    return head + "indicators:\n" + indicators.rstrip("\n") + "\n" + extra


@pytest.fixture(scope="session")
def registry() -> RulesetRegistry:
    return builtin_registry()


@pytest.fixture(scope="session")
def vocabulary(registry: RulesetRegistry) -> Vocabulary:
    return registry.vocabulary


@pytest.fixture(scope="session")
def make_ruleset(vocabulary: Vocabulary) -> Callable[..., Ruleset]:
    def make(indicators: str, **kw: Any) -> Ruleset:
        return load_ruleset_text(ruleset_text(indicators, **kw), vocabulary, source="<test>")

    return make


@pytest.fixture(scope="session")
def run(vocabulary: Vocabulary) -> Callable[..., Assessment]:
    def run_(
        rs: Ruleset,
        facts: Mapping[str, Any] | None = None,
        answers: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Assessment:
        return score(rs, prepare(rs, vocabulary, facts or {}, answers or {}, overrides or {}))

    return run_


def result(a: Assessment, code: str) -> IndicatorResult:
    for r in flatten(a):
        if r.indicator.code == code:
            return r
    raise KeyError(code)


@pytest.fixture(scope="session")
def by_code() -> Callable[[Assessment, str], IndicatorResult]:
    return result
