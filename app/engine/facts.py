"""The fact vocabulary shared by all rulesets, and validation of fact values."""

from __future__ import annotations

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
_FACT_KEYS = {"name", "unit", "min", "max", "description"}


@dataclass(frozen=True, slots=True)
class FactDef:
    key: str
    name: str
    unit: str
    min: Decimal
    max: Decimal | None
    description: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "unit": self.unit,
            "unit_label": UNITS[self.unit],
            "min": None if self.unit == "boolean" else _plain(self.min),
            "max": None if self.max is None else _plain(self.max),
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
            hi = spec.get("max")
            facts[key] = FactDef(
                key, str(spec.get("name", key)), unit, lo,
                None if hi is None else Decimal(str(hi)), spec.get("description"),
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
        if fact.unit == "count" and number != number.to_integral_value():
            raise ValueError("a count must be a whole number")
        self._check_range(fact, number)
        return number

    @staticmethod
    def _check_range(fact: FactDef, number: Decimal) -> None:
        suffix = "%" if fact.unit == "percent" else f" {UNITS[fact.unit]}"
        if number < fact.min:
            raise ValueError(f"must be at least {_plain(fact.min)}{suffix}, got {number}")
        if fact.max is not None and number > fact.max:
            raise ValueError(f"must be at most {_plain(fact.max)}{suffix}, got {number}")


def _text(d: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: 1.50 -> "1.5", 2E+1 -> "20"."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


_NESTED = frozenset({float, dict, list})


def exact_numbers(value: Any) -> Any:
    """A JSON document with every float replaced by the exact decimal text it was sent as
    (its shortest repr): 0.1 -> "0.1". Returns ``value`` itself, uncopied, when it holds no float
    (the usual case)."""
    kind = type(value)
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


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        # JSON numbers arrive as floats; their shortest repr is what was sent.
        value = repr(value)
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"'{value}' is not a number") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not number.is_finite():
        raise ValueError("must be a finite number")
    return number


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
