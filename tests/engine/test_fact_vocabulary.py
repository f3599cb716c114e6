"""The fact vocabulary explains itself: every fact of rulesets/facts.yaml has its 口径, where a unit
takes it from, an example and the seed words it was defined from, and the loader refuses a fact
without them."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from app.engine import builtin_registry, rulesets_dir
from app.engine.facts import JSON_TYPES, Vocabulary
from app.engine.yamlio import load_yaml

VOCABULARY = builtin_registry().vocabulary
FACTS_FILE = rulesets_dir() / "facts.yaml"
SEEDS = Path(os.environ.get("JIXIAO_SEEDS_DIR", "/work/shared/seeds"))


def _document() -> tuple[dict[str, Any], dict[str, int]]:
    data, lines = load_yaml(FACTS_FILE)
    return copy.deepcopy(data), lines


def _load(data: Any, lines: dict[str, int] | None = None) -> Vocabulary:
    return Vocabulary.from_document(data, lines or {}, "facts.yaml")


def test_every_fact_has_its_description_type_example_and_a_quoted_source():
    assert len(VOCABULARY.facts) >= 55
    for key, fact in VOCABULARY.facts.items():
        assert len(fact.description) >= 30, key  # a sentence of 口径, not a label
        assert fact.taken_from, key
        assert fact.json_type == list(JSON_TYPES[fact.unit])
        seeds = [s for s in fact.sources if s.quote is not None]
        assert seeds, f"{key} quotes no source document"
        for s in seeds:
            assert s.document.endswith(".txt"), key
            assert s.line is not None, key
            assert s.line > 0, key
        # the example is a value a submission may send, in the form a submission writes it
        values, problems = VOCABULARY.parse({key: fact.example})
        assert problems == [], (key, problems)
        assert key in values


def test_the_examples_are_written_as_a_submission_writes_them():
    assert VOCABULARY["procurement_actual"].example == "318.98"
    assert VOCABULARY["satisfaction_rate"].example == "97.67%"
    assert VOCABULARY["staff_authorized"].example == 226
    assert VOCABULARY["financial_violation"].example is False


def test_every_seed_document_cited_is_the_source_of_a_builtin_ruleset():
    documents = {str(rs.source.get("document")) for rs in builtin_registry().all()}
    cited = {s.document for f in VOCABULARY.facts.values() for s in f.sources if s.quote is not None}
    assert cited <= documents
    assert cited == documents  # each of the four seeds defines some fact


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents are not on this machine (JIXIAO_SEEDS_DIR)")
def test_every_quote_is_the_seed_documents_own_words_on_the_line_given():
    for key, fact in VOCABULARY.facts.items():
        for s in fact.sources:
            if s.quote is None:
                continue
            lines = (SEEDS / s.document).read_text(encoding="utf-8").splitlines()
            assert s.line is not None
            assert s.quote in lines[s.line - 1], f"{key}: not on line {s.line} of {s.document}: {s.quote}"


@pytest.mark.parametrize("field", ["name", "description", "taken_from", "example", "sources"])
def test_a_fact_without_a_required_field_is_refused_with_its_line(field):
    data, lines = _document()
    del data["procurement_actual"][field]
    with pytest.raises(ValueError, match=field) as exc:
        _load(data, lines)
    message = str(exc.value)
    assert f"facts.yaml:{lines['/procurement_actual']}: procurement_actual" in message
    assert field in message


@pytest.mark.parametrize(("change", "words"), [
    ({"description": "  "}, "description must be non-empty text"),
    ({"description": "口" * 1001}, "at most 1000"),
    ({"example": True}, "not true/false"),
    ({"example": "-1"}, "at least 0"),
    ({"sources": []}, "sources must list 1 to 8"),
    ({"sources": [{"document": "x.txt", "where": "w", "quote": "q"}]}, "either a seed document's words"),
    ({"sources": [{"document": "部门决算", "where": "w", "url": "https://example.org/a"}]},
     "must quote the source document"),
    ({"sources": [{"document": "x.txt", "where": "w", "line": 3, "quote": "q", "page": 2}]}, "unknown keys ['page']"),
    ({"sources": [{"document": "x.txt", "where": "w", "line": 0, "quote": "q"}]}, "line must be a line number"),
    ({"sources": [{"document": "t", "where": "w", "url": "ftp://x"},
                  {"document": "x.txt", "where": "w", "line": 1, "quote": "q"}]}, "url must be an http(s) address"),
    ({"colour": "red"}, "unknown keys ['colour']"),
])
def test_a_malformed_fact_is_refused_saying_why(change, words):
    data, lines = _document()
    key = "procurement_actual"
    data[key].update(change)
    with pytest.raises(ValueError, match=key) as exc:
        _load(data, lines)
    assert words in str(exc.value)
    assert key in str(exc.value)


def test_a_percentage_example_must_carry_its_percent_sign():
    data, lines = _document()
    data["satisfaction_rate"]["example"] = "97.67"
    with pytest.raises(ValueError, match="satisfaction_rate.*written with its unit"):
        _load(data, lines)


def test_the_builtin_file_loads_as_it_is():
    data, lines = _document()
    assert set(_load(data, lines).facts) == set(VOCABULARY.facts)
