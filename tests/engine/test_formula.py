"""The restricted formula language: what it accepts, what it refuses, exact Decimal arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.engine.formula import FormulaError, FormulaZeroDivision, parse

D = Decimal


@pytest.mark.parametrize(
    ("text", "facts", "expected"),
    [
        ("0.1 + 0.2", {}, D("0.3")),
        ("1 - 0.9", {}, D("0.1")),
        ("3 * 0.1", {}, D("0.3")),
        ("1 / 4", {}, D("0.25")),
        ("-(2 - 5)", {}, D("3")),
        ("+7", {}, D("7")),
        ("(1 + 2) * 3", {}, D("9")),
        ("1 + 2 * 3", {}, D("7")),
        ("25%", {}, D("0.25")),
        ("25 %", {}, D("0.25")),
        ("12.5%", {}, D("0.125")),
        ("100%", {}, D("1")),
        ("0.5% * 2", {}, D("0.01")),
        ("min(3, 1, 2)", {}, D("1")),
        ("max(3, 1, 2)", {}, D("3")),
        ("abs(1 - 3)", {}, D("2")),
        ("min(a, b) + max(a, b)", {"a": D("1.1"), "b": D("2.2")}, D("3.3")),
        ("a / b", {"a": D("318.98"), "b": D("326.61")}, D("318.98") / D("326.61")),
        ("budget_progress_q1 / 25%", {"budget_progress_q1": D("0.2961")}, D("1.1844")),
        ("1e3", {}, D("1000")),
    ],
)
def test_arithmetic_is_exact_decimal(text: str, facts: dict[str, Decimal], expected: Decimal) -> None:
    f = parse(text)
    value = f(facts)
    assert isinstance(value, Decimal)
    assert value == expected
    assert not f.is_boolean


def test_point_one_plus_point_two_is_exactly_point_three() -> None:
    assert parse("0.1 + 0.2 == 0.3")({}) is True
    assert parse("0.1 + 0.2")({}) == D("0.3")
    assert str(parse("0.1 + 0.2")({})) == "0.3"


def test_percent_literal_is_a_ratio() -> None:
    assert parse("25%")({}) == D("0.25")
    assert parse("x >= 95%")({"x": D("0.95")}) is True
    assert parse("x >= 95%")({"x": D("0.9499")}) is False


@pytest.mark.parametrize(
    ("text", "facts", "expected"),
    [
        ("1 < 2", {}, True),
        ("2 <= 2", {}, True),
        ("3 > 4", {}, False),
        ("4 >= 4.0", {}, True),
        ("1 == 1.00", {}, True),
        ("1 != 1", {}, False),
        ("1 < 2 < 3", {}, True),
        ("1 < 3 < 2", {}, False),
        ("a > b and b > 0", {"a": D(2), "b": D(1)}, True),
        ("a > b or b > 5", {"a": D(0), "b": D(1)}, False),
        ("not flag", {"flag": False}, True),
        ("flag == true", {"flag": True}, True),
        ("flag == false", {"flag": True}, False),
        ("true", {}, True),
        ("not false", {}, True),
    ],
)
def test_conditions(text: str, facts: dict[str, object], expected: bool) -> None:
    f = parse(text)
    assert f.is_boolean
    assert f(facts) is expected


def test_names_and_is_name() -> None:
    f = parse("procurement_actual / procurement_planned")
    assert f.names == frozenset({"procurement_actual", "procurement_planned"})
    assert not f.is_name
    g = parse("has_transfer_payments")
    assert g.is_name
    assert g.names == frozenset({"has_transfer_payments"})
    assert not parse("true").is_name
    assert parse("min(a, 2)").names == frozenset({"a"})


def test_numbers_are_taken_from_the_source_text() -> None:
    # 0.1 as a float is 0.1000000000000000055…; the formula must hold the exact literal.
    assert parse("0.1")({}) == D("0.1")
    assert parse("2.675")({}) == D("2.675")


def test_formula_accepts_decimal_and_int_sources() -> None:
    assert parse(D("1.5"))({}) == D("1.5")
    assert parse(2)({}) == D(2)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "open('/etc/passwd')",
        "eval('1')",
        "exec('x = 1')",
        "getattr(a, 'b')",
        "round(a)",
        "sum(a, b)",
        "a.b",
        "(1).real",
        "min.__call__(1, 2)",
        "a[0]",
        "a[1:2]",
        "lambda: 1",
        "(lambda x: x)(1)",
        "'text'",
        '"text"',
        "b'bytes'",
        "f'{a}'",
        "2 ** 3",
        "a ** 2",
        "7 // 2",
        "a << 1",
        "a & b",
        "a | b",
        "~a",
        "[x for x in a]",
        "{x for x in a}",
        "{x: 1 for x in a}",
        "min(x for x in a)",
        "[1, 2]",
        "(1, 2)",
        "{1: 2}",
        "a if b else c",
        "a in b",
        "a not in b",
        "a is None",
        "None",
        "...",
        "1j",
        "x := 1",
        "min(1)",
        "max()",
        "abs(1, 2)",
        "min(a=1, b=2)",
        "max(*a)",
        "a%",
        "10 % 3",
        "",
        "   ",
        "1 +",
        "import os",
        "a; b",
    ],
)
def test_rejected(text: str) -> None:
    with pytest.raises(FormulaError):
        parse(text)


def test_rejects_yes_no_value_as_formula() -> None:
    with pytest.raises(FormulaError):
        parse(True)  # type: ignore[arg-type]


def test_rejection_messages_name_the_problem() -> None:
    with pytest.raises(FormulaError, match="only min"):
        parse("__import__('os')")
    with pytest.raises(FormulaError, match="Attribute"):
        parse("a.b")
    with pytest.raises(FormulaError, match="Pow"):
        parse("2 ** 3")


@pytest.mark.parametrize("text", ["0x10", "0b11", "0o7", "0x10 * a", "1_000"])
def test_non_decimal_literals_raise_formula_error(text: str) -> None:
    # Decimal() cannot read these; they must be refused as formula errors, not escape as InvalidOperation.
    with pytest.raises(FormulaError, match="plain decimal numbers"):
        parse(text)


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        ("1 / 0", {}),
        ("a / b", {"a": D(1), "b": D(0)}),
        ("a / b", {"a": D(0), "b": D(0)}),
        ("a / (b - b)", {"a": D(5), "b": D("3.3")}),
        ("min(1, a / b)", {"a": D(1), "b": D("0.00")}),
    ],
)
def test_zero_division(text: str, facts: dict[str, Decimal]) -> None:
    f = parse(text)
    with pytest.raises(FormulaZeroDivision):
        f(facts)


def test_missing_fact_is_a_key_error_not_a_silent_zero() -> None:
    with pytest.raises(KeyError):
        parse("a + 1")({})


def test_and_or_short_circuit_and_return_bools() -> None:
    f = parse("a > 0 and b / a > 1")
    assert f({"a": D(0), "b": D(1)}) is False  # b / a never evaluated
    g = parse("a == 0 or b / a > 1")
    assert g({"a": D(0), "b": D(1)}) is True
