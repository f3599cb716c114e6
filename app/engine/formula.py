"""A restricted formula language over facts, compiled once into closures.

Formulas are parsed with :mod:`ast` in ``eval`` mode and then walked with a
whitelist: only arithmetic, comparisons, boolean operators, numbers, fact names
and ``min``/``max``/``abs``. The tree is turned into nested Python closures, so
evaluation never goes through ``eval`` and costs a handful of function calls.
Numbers are exact :class:`~decimal.Decimal` values taken from the source text.

A formula has at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` levels of
operations (checked before anything recursive runs: a ruleset may come over the API),
and its numbers are below 10^15 with at most 12 decimal places, so evaluating it on
bounded facts stays far inside the Decimal context.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.engine.errors import FormulaError, FormulaZeroDivision, LimitExceeded

__all__ = ["Formula", "FormulaError", "FormulaZeroDivision", "parse"]

Value = Decimal | bool
Facts = Mapping[str, Any]
Evaluator = Callable[[Facts], Any]

_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*%")
_FUNCS = {"min", "max", "abs"}
_NAMES = {"true": True, "false": False, "True": True, "False": False}
#: Longest formula, in characters (the built-in rulesets' longest has ~120).
MAX_LENGTH = 1000
#: Deepest nesting of operations, calls and parentheses (the built-in rulesets reach 5).
MAX_DEPTH = 32
_CONSTANT_MAX = Decimal(10) ** 15
_CONSTANT_PLACES = 12


@dataclass(frozen=True, slots=True)
class Formula:
    """A parsed formula: its source text, the facts it reads, its evaluator."""

    text: str
    names: frozenset[str]
    evaluate: Evaluator
    is_boolean: bool
    #: the formula is a single fact name (may stand for a yes/no fact)
    is_name: bool = False

    def __call__(self, facts: Facts) -> Any:
        return self.evaluate(facts)


def _percent_literal(match: re.Match[str]) -> str:
    return format(Decimal(match.group(1)) / 100, "f")


def parse(text: str | int | Decimal) -> Formula:
    """Parse ``text`` into a :class:`Formula`; raise :class:`FormulaError`."""
    if isinstance(text, bool):
        raise FormulaError("a formula must be text or a number, not a yes/no value")
    source = str(text).strip()
    if not source:
        raise FormulaError("empty formula")
    if len(source) > MAX_LENGTH:
        raise LimitExceeded(f"a formula has at most {MAX_LENGTH} characters; this one has {len(source)}")
    normalised = _PERCENT.sub(_percent_literal, source)
    if "%" in normalised:
        raise FormulaError(f"'%' is only allowed right after a number: {source!r}")
    try:
        tree = ast.parse(normalised, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"cannot parse formula {source!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise LimitExceeded(f"a formula nests at most {MAX_DEPTH} levels deep") from None
    _check_depth(tree.body)
    names: set[str] = set()
    evaluate, is_bool = _compile(tree.body, normalised, names)
    is_name = isinstance(tree.body, ast.Name) and tree.body.id not in _NAMES
    return Formula(source, frozenset(names), evaluate, is_bool, is_name)


def _check_depth(root: ast.AST) -> None:
    """Refuse a tree deeper than MAX_DEPTH (walked without recursion: the tree may be deep)."""
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise LimitExceeded(f"a formula nests at most {MAX_DEPTH} levels deep")
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                stack.append((child, depth + 1))


def _constant(segment: str) -> Decimal:
    d = Decimal(segment)
    exponent = d.as_tuple().exponent
    if d >= _CONSTANT_MAX or (isinstance(exponent, int) and exponent < -_CONSTANT_PLACES
                              and d != d.quantize(Decimal(1).scaleb(-_CONSTANT_PLACES))):
        raise FormulaError(f"number {segment!r} is out of range: a formula's numbers are below 10^15 "
                           f"with at most {_CONSTANT_PLACES} decimal places")
    return d


def _compile(node: ast.AST, src: str, names: set[str]) -> tuple[Evaluator, bool]:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            b = node.value
            return (lambda f: b), True
        if isinstance(node.value, int | float):
            segment = ast.get_source_segment(src, node) or repr(node.value)
            if not re.fullmatch(r"\d+(\.\d*)?([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?", segment):
                raise FormulaError(f"number {segment!r} is not allowed: write plain decimal numbers")
            d = _constant(segment)
            return (lambda f: d), False
        raise FormulaError(f"literal {node.value!r} is not allowed")
    if isinstance(node, ast.Name):
        if node.id in _NAMES:
            b = _NAMES[node.id]
            return (lambda f: b), True
        key = node.id
        names.add(key)
        return (lambda f: f[key]), False
    if isinstance(node, ast.BinOp):
        left, _ = _compile(node.left, src, names)
        right, _ = _compile(node.right, src, names)
        op = node.op
        if isinstance(op, ast.Add):
            return (lambda f: left(f) + right(f)), False
        if isinstance(op, ast.Sub):
            return (lambda f: left(f) - right(f)), False
        if isinstance(op, ast.Mult):
            return (lambda f: left(f) * right(f)), False
        if isinstance(op, ast.Div):

            def div(f: Facts) -> Decimal:
                denominator = right(f)
                if not denominator:
                    raise FormulaZeroDivision(src)
                return left(f) / denominator  # type: ignore[no-any-return]

            return div, False
        raise FormulaError(f"operator {type(op).__name__} is not allowed")
    if isinstance(node, ast.UnaryOp):
        operand, operand_bool = _compile(node.operand, src, names)
        if isinstance(node.op, ast.USub):
            return (lambda f: -operand(f)), False
        if isinstance(node.op, ast.UAdd):
            return operand, operand_bool
        if isinstance(node.op, ast.Not):
            return (lambda f: not operand(f)), True
        raise FormulaError(f"operator {type(node.op).__name__} is not allowed")
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, src, names)[0] for v in node.values]
        if isinstance(node.op, ast.And):
            return (lambda f: all(p(f) for p in parts)), True
        return (lambda f: any(p(f) for p in parts)), True
    if isinstance(node, ast.Compare):
        first, _ = _compile(node.left, src, names)
        ops = [_comparison(op) for op in node.ops]
        rest = [_compile(c, src, names)[0] for c in node.comparators]
        if len(rest) == 1:
            # One comparison (nearly every condition): no loop, no operator call.
            return _single_comparison(node.ops[0], first, rest[0]), True

        def compare(f: Facts) -> bool:
            a = first(f)
            for op, comp in zip(ops, rest, strict=True):
                b = comp(f)
                if not op(a, b):
                    return False
                a = b
            return True

        return compare, True
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS:
            raise FormulaError("only min(), max() and abs() may be called")
        if node.keywords:
            raise FormulaError("keyword arguments are not allowed")
        args = [_compile(a, src, names)[0] for a in node.args]
        fn = node.func.id
        if fn == "abs":
            if len(args) != 1:
                raise FormulaError("abs() takes one argument")
            arg = args[0]
            return (lambda f: abs(arg(f))), False
        if len(args) < 2:
            raise FormulaError(f"{fn}() takes at least two arguments")
        pick = min if fn == "min" else max
        return (lambda f: pick(a(f) for a in args)), False
    raise FormulaError(f"{type(node).__name__} is not allowed in a formula")


def _single_comparison(op: ast.cmpop, left: Evaluator, right: Evaluator) -> Evaluator:
    if isinstance(op, ast.Lt):
        return lambda f: bool(left(f) < right(f))
    if isinstance(op, ast.LtE):
        return lambda f: bool(left(f) <= right(f))
    if isinstance(op, ast.Gt):
        return lambda f: bool(left(f) > right(f))
    if isinstance(op, ast.GtE):
        return lambda f: bool(left(f) >= right(f))
    if isinstance(op, ast.Eq):
        return lambda f: bool(left(f) == right(f))
    if isinstance(op, ast.NotEq):
        return lambda f: bool(left(f) != right(f))
    raise FormulaError(f"comparison {type(op).__name__} is not allowed")


def _comparison(op: ast.cmpop) -> Callable[[Any, Any], bool]:
    table: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
        ast.Lt: lambda a, b: a < b,
        ast.LtE: lambda a, b: a <= b,
        ast.Gt: lambda a, b: a > b,
        ast.GtE: lambda a, b: a >= b,
        ast.Eq: lambda a, b: a == b,
        ast.NotEq: lambda a, b: a != b,
    }
    try:
        return table[type(op)]
    except KeyError:
        raise FormulaError(f"comparison {type(op).__name__} is not allowed") from None
