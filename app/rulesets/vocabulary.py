"""Which rulesets and indicators read each fact of the vocabulary (``GET /v1/facts``)."""

from __future__ import annotations

from typing import Any

from app.engine.ruleset import Indicator, Ruleset

# Per ruleset version, by content hash (a version never changes): fact key → its indicators.
_READERS: dict[str, dict[str, list[dict[str, str]]]] = {}
_READERS_MAX = 1024


def leaf_facts(leaf: Indicator) -> set[str]:
    """Every fact a scored indicator reads: its rule's and its not-applicable condition's."""
    names: set[str] = set(leaf.rule.facts) if leaf.rule is not None else set()
    if leaf.not_applicable is not None and leaf.not_applicable.when is not None:
        names |= leaf.not_applicable.when.names
    return names


def _readers_of(rs: Ruleset) -> dict[str, list[dict[str, str]]]:
    cached = _READERS.get(rs.content_hash)
    if cached is not None:
        return cached
    out: dict[str, list[dict[str, str]]] = {}
    for leaf in rs.leaves:
        for key in sorted(leaf_facts(leaf)):
            out.setdefault(key, []).append({"code": leaf.code, "name": leaf.name})
    if len(_READERS) >= _READERS_MAX:
        _READERS.clear()
    _READERS[rs.content_hash] = out
    return out


def fact_readers(rulesets: list[Ruleset]) -> dict[str, list[dict[str, Any]]]:
    """Fact key → [{ruleset: NAME@VERSION, indicators: [{code, name}]}], in the order of
    ``rulesets``; a fact no ruleset reads is absent."""
    readers: dict[str, list[dict[str, Any]]] = {}
    for rs in rulesets:
        for key, indicators in _readers_of(rs).items():
            readers.setdefault(key, []).append({"ruleset": rs.ref, "indicators": indicators})
    return readers
