"""The fact vocabulary shared by all rulesets, and validation of fact values.

Every number a submission sends is bounded before it becomes a Decimal: at most
:data:`NUMBER_TEXT_MAX` characters of text, plain ASCII digits, a comma only as a
thousands separator in groups of three (``12,128.9``), at most the fact's ``places``
decimal places and below its ``max`` (defaults per unit in :data:`DEFAULT_MAX` and
:data:`DEFAULT_PLACES`). A value outside them is refused with a message saying why, never
rounded or clipped; ``-0`` is stored as ``0``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from app.engine.errors import Problem
from app.engine.yamlio import load_yaml

UNITS = {
    "wan_yuan": "万元",
    "percent": "%",
    "count": "人/项/个",
    "boolean": "是/否",
}
_FACT_KEYS = {"name", "unit", "min", "max", "places", "description"}

#: Upper bound of a fact, in the unit as entered, when facts.yaml gives none: far above any
#: real budget (10^12 万元 is ten times China's whole public budget), low enough that every
#: value stays a short exact number.
DEFAULT_MAX: dict[str, Decimal] = {
    "wan_yuan": Decimal("999999999999.999999"),
    "percent": Decimal(100000),
    "count": Decimal(999999999),
}
#: Decimal places a fact may carry when facts.yaml gives none (percent: in %, "97.6667%").
DEFAULT_PLACES: dict[str, int] = {"wan_yuan": 6, "percent": 4, "count": 0}
#: Longest text accepted as a number (a full 万元 amount with separators is ~26 characters).
NUMBER_TEXT_MAX = 40
# Plain decimal text: ASCII digits, an optional sign, point and exponent (Decimal() alone would
# also take "1_000", "Infinity" and non-ASCII digits such as "١٢").
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")


@dataclass(frozen=True, slots=True)
class FactDef:
    key: str
    name: str
    unit: str
    min: Decimal
    max: Decimal
    places: int
    description: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "unit": self.unit,
            "unit_label": UNITS[self.unit],
            "minimum": None if self.unit == "boolean" else _plain(self.min),
            "maximum": None if self.unit == "boolean" else _plain(self.max),
            "places": None if self.unit == "boolean" else self.places,
            "description": self.description,
        }


def _plain(d: Decimal) -> str:
    return format(d.normalize(), "f") if d == d.to_integral() else format(d, "f")


class Vocabulary:
    """The facts a ruleset may read and a submission may send."""

    def __init__(self, facts: dict[str, FactDef]) -> None:
        self.facts = facts

    def __contains__(self, key: object) -> bool:
        return key in self.facts

    def __getitem__(self, key: str) -> FactDef:
        return self.facts[key]

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        data, lines = load_yaml(path)
        problems: list[Problem] = []
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the fact vocabulary must be a mapping")
        facts: dict[str, FactDef] = {}
        for key, spec in data.items():
            where = f"{path.name}:{lines.get('/' + key, '?')}: {key}"
            if not isinstance(spec, dict):
                problems.append(Problem(f"/{key}", f"{where}: must be a mapping"))
                continue
            unknown = set(spec) - _FACT_KEYS
            if unknown:
                problems.append(Problem(f"/{key}", f"{where}: unknown keys {sorted(unknown)}"))
            unit = spec.get("unit")
            if unit not in UNITS:
                problems.append(Problem(f"/{key}/unit", f"{where}: unit must be one of {sorted(UNITS)}"))
                continue
            lo = Decimal(str(spec.get("min", 0)))
            hi = Decimal(str(spec.get("max", DEFAULT_MAX.get(unit, 1))))
            places = spec.get("places", DEFAULT_PLACES.get(unit, 0))
            if hi > DEFAULT_MAX.get(unit, hi) or not isinstance(places, Decimal | int) \
                    or places != int(places) or not 0 <= places <= DEFAULT_PLACES.get(unit, 0):
                problems.append(Problem(f"/{key}", f"{where}: max and places may only narrow the defaults "
                                                   f"of the unit ({DEFAULT_MAX.get(unit)}, {DEFAULT_PLACES.get(unit)})"))
                continue
            facts[key] = FactDef(
                key, str(spec.get("name", key)), unit, lo, hi, int(places), spec.get("description"),
            )
        if problems:
            raise ValueError("\n".join(p.message for p in problems))
        return cls(facts)

    def parse(self, raw: Mapping[str, Any], pointer: str = "/facts") -> tuple[dict[str, Any], list[Problem]]:
        """Validate raw fact values; return engine values (ratios for percents)."""
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        for key, value in raw.items():
            fact = self.facts.get(key)
            if fact is None:
                where = f"{pointer}/{_escape(str(key))}"
                problems.append(Problem(where, f"unknown fact '{key}'; see GET /v1/facts for the vocabulary"))
                continue
            if value is None:
                # An explicit null means "not known": the same as leaving it out.
                continue
            try:
                values[key] = self._parse_one(fact, value)
            except ValueError as exc:
                where = f"{pointer}/{_escape(str(key))}"
                problems.append(Problem(where, f"{fact.name}（{key}）: {exc}"))
        return values, problems

    def canonical(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The stored text form of parsed values (see :meth:`parse`), in key order: percents as
        "97.67%", counts as integers, amounts as plain decimal text, booleans as they are."""
        out: dict[str, Any] = {}
        for key in sorted(values):
            v = values[key]
            unit = self.facts[key].unit
            if unit == "boolean":
                out[key] = v
            elif unit == "percent":
                out[key] = _text(v * 100) + "%"
            elif unit == "count":
                out[key] = int(v)
            else:
                out[key] = _text(v)
        return out

    def _parse_one(self, fact: FactDef, value: Any) -> Any:
        if fact.unit == "boolean":
            if isinstance(value, bool):
                return value
            raise ValueError("expected true or false")
        if isinstance(value, bool):
            raise ValueError(f"expected a number in {UNITS[fact.unit]}, not true/false")
        if fact.unit == "percent":
            if not isinstance(value, str) or not value.strip().endswith("%"):
                raise ValueError(
                    "a percentage must be written with its unit, as a string such as \"97.67%\""
                )
            number = _decimal(value.strip()[:-1])
            self._check_range(fact, number)
            return number / 100
        number = _decimal(value)
        self._check_range(fact, number)
        return number

    @staticmethod
    def _check_range(fact: FactDef, number: Decimal) -> None:
        # Magnitude first: a huge number is never printed in full (it is the caller's own text).
        suffix = "%" if fact.unit == "percent" else f" {UNITS[fact.unit]}"
        if number > fact.max:
            raise ValueError(f"must be at most {_plain(fact.max)}{suffix}")
        if number < fact.min:
            if number.adjusted() > 15:
                raise ValueError(f"must be at least {_plain(fact.min)}{suffix}")
            raise ValueError(f"must be at least {_plain(fact.min)}{suffix}, got {_text(number)}")
        if decimal_places(number) > fact.places:
            if fact.places == 0:
                raise ValueError("must be a whole number" if fact.unit == "count" else
                                 f"must be a whole number of {UNITS[fact.unit]}")
            raise ValueError(f"has more than {fact.places} decimal places")


def decimal_places(d: Decimal) -> int:
    """Decimal places of ``d`` as a value (trailing zeros do not count: 1.50 has 1), computed
    from its digits, so that 1E-30000000 costs no more than 0.1."""
    _, digits, exponent = d.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    trailing = 0
    for digit in reversed(digits):
        if digit != 0 or trailing >= -exponent:
            break
        trailing += 1
    return max(0, -exponent - trailing)


def _text(d: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: 1.50 -> "1.5", 2E+1 -> "20"."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


_NESTED = frozenset({float, Decimal, dict, list})


def exact_numbers(value: Any) -> Any:
    """A JSON document with every non-integer number replaced by the exact decimal text it was
    sent as: 0.1 -> "0.1" (request bodies carry them as Decimal, see app.api.deps.load_json; a
    float is taken as its shortest repr). Returns ``value`` itself, uncopied, when it holds
    none (the usual case)."""
    kind = type(value)
    if kind is Decimal:
        return _text(value)
    if kind is float:
        return _text(Decimal(repr(value)))
    if kind is dict:
        changed: dict[str, Any] | None = None
        for k, v in value.items():
            if type(v) in _NESTED:
                new = exact_numbers(v)
                if new is not v:
                    if changed is None:
                        changed = dict(value)
                    changed[k] = new
        return value if changed is None else changed
    if kind is list:
        items = [exact_numbers(v) if type(v) in _NESTED else v for v in value]
        for a, b in zip(items, value, strict=True):
            if a is not b:
                return items
        return value
    return value


def json_shape(value: Any, limit: int, depth: int = 1) -> tuple[int, bool, int]:
    """(keys in all the objects of a parsed JSON document, whether it holds a float, its depth),
    descending no deeper than ``limit`` (the walk itself never recurses deeply). Here, compiled,
    because app.api.deps.load_json walks every request body with it."""
    keys = 0
    inexact = False
    deepest = depth
    if depth > limit:
        return keys, inexact, deepest
    if type(value) is dict:
        keys = len(value)
        children: Any = value.values()
    else:
        children = value
    for v in children:
        k = type(v)
        if k is dict or k is list:
            n, f, d = json_shape(v, limit, depth + 1)
            keys += n
            if f:
                inexact = True
            if d > deepest:
                deepest = d
        elif k is float:
            inexact = True
    return keys, inexact, deepest


def _decimal(value: Any) -> Decimal:
    """The exact value of a number sent as JSON (int, Decimal, or a float's shortest repr) or
    as text; refuses text that is not plainly a number (see :data:`_NUMBER`)."""
    if isinstance(value, float):
        value = repr(value)  # not from a request body (those carry Decimal), e.g. a YAML file read by hand
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > NUMBER_TEXT_MAX:
            raise ValueError(f"is {len(text)} characters long; a number here has at most {NUMBER_TEXT_MAX}")
        if "," in text:
            if not _GROUPED.fullmatch(text):
                raise ValueError(
                    f"'{text}': a comma is only read as a thousands separator between groups of three digits "
                    "(12,128.9); write a decimal point for decimals (318.98)")
            text = text.replace(",", "")
        if not _NUMBER.fullmatch(text):
            if text.lstrip("+-").lower() in {"nan", "snan", "inf", "infinity"}:
                raise ValueError("must be a finite number")
            raise ValueError(f"'{text}' is not a number")
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - _NUMBER admits only what Decimal reads
            raise ValueError(f"'{text}' is not a number") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not number.is_finite():
        raise ValueError("must be a finite number")
    if not number:
        number = abs(number)  # -0 is 0
    return number


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
