"""Shared fixtures for the engine tests: the built-in registry and a tiny ruleset builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest

from app.engine import builtin_registry
from app.engine.facts import Vocabulary
from app.engine.ruleset import Ruleset, RulesetRegistry, load_ruleset_text
from app.engine.scoring import Assessment, IndicatorResult, flatten, prepare, score, to_dict

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


class Found:
    """One indicator of an assessment: the engine's IndicatorResult (``score``, ``status``, ``points``,
    ``computed``, ``note`` …) plus ``shown``, the same indicator in to_dict's shape (what the API and the
    CLI print: deductions, values, inputs, messages, missing facts/answers)."""

    def __init__(self, result: IndicatorResult, shown: dict[str, Any]) -> None:
        self.result = result
        self.shown = shown

    def __getattr__(self, name: str) -> Any:
        return getattr(self.result, name)


def _find_node(nodes: list[dict[str, Any]], code: str) -> dict[str, Any] | None:
    for node in nodes:
        if node["code"] == code:
            return node
        found = _find_node(node.get("children") or [], code)
        if found is not None:
            return found
    return None


def result(a: Assessment, code: str) -> Found:
    for r in flatten(a):
        if r.indicator.code == code:
            node = _find_node(to_dict(a, builtin_registry().vocabulary)["indicators"], code)
            assert node is not None
            return Found(r, node)
    raise KeyError(code)


@pytest.fixture(scope="session")
def by_code() -> Callable[[Assessment, str], Found]:
    return result
