"""Stored forms of what callers send: floats as the exact decimal text they were sent as, and
facts in one canonical text form (app.engine.facts, compiled with the engine)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.engine.facts import exact_numbers
from app.engine.ruleset import RulesetRegistry

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5) | \
    st.floats(allow_nan=False, allow_infinity=False)
json_docs = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=20)


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def _expected(value: Any) -> Any:
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, dict):
        return {k: _expected(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expected(v) for v in value]
    return value


@given(json_docs)
def test_floats_become_their_exact_text_and_nothing_else_changes(doc: Any) -> None:
    out = exact_numbers(doc)
    assert not _has_float(out)
    assert out == _expected(doc)
    if not _has_float(doc):
        assert out is doc  # the usual case costs no copy


def test_exact_numbers_examples() -> None:
    sent = {"1.1.1": {"score": 4.5, "reason": "x"}, "2.1": [0.1, 3, {"n": 1e-7}], "ok": True}
    assert exact_numbers(sent) == {"1.1.1": {"score": "4.5", "reason": "x"}, "2.1": ["0.1", 3, {"n": "0.0000001"}],
                                   "ok": True}
    assert sent["1.1.1"]["score"] == 4.5  # the caller's document is not changed


def test_canonical_facts_are_sorted_text_in_each_unit(registry: RulesetRegistry) -> None:
    vocab = registry.vocabulary
    values, problems = vocab.parse({"satisfaction_rate": "97.50%", "procurement_actual": 318.980,
                                    "staff_authorized": "12", "financial_violation": False})
    assert problems == []
    assert vocab.canonical(values) == {"financial_violation": False, "procurement_actual": "318.98",
                                       "satisfaction_rate": "97.5%", "staff_authorized": 12}
    assert list(vocab.canonical(values)) == sorted(values)
    again, _ = vocab.parse(vocab.canonical(values))
    assert again == values  # the stored form parses back to the same values
