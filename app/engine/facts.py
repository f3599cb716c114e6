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
#: The JSON types a submission may write a fact of each unit in (README, "How a submission writes
#: each kind of fact"): an amount as decimal text or an exact number, a percentage only as text
#: with its "%", a count as an integer or its digits, a yes/no as a boolean.
JSON_TYPES: dict[str, tuple[str, ...]] = {
    "wan_yuan": ("string", "number"),
    "percent": ("string",),
    "count": ("integer", "string"),
    "boolean": ("boolean",),
}
_FACT_KEYS = {"name", "unit", "min", "max", "places", "description", "taken_from", "example", "sources"}
_REQUIRED_KEYS = ("name", "unit", "description", "taken_from", "example", "sources")
_SOURCE_KEYS = {"document", "line", "where", "quote", "url"}
#: Longest text of each descriptive field (a 口径 is a paragraph; a quote is a sentence or two of
#: its source): facts.yaml is the project's own file, the bounds keep GET /v1/facts small.
TEXT_MAX = {"name": 200, "description": 1000, "taken_from": 300, "document": 200, "where": 300,
            "quote": 500, "url": 500}
#: Most sources one fact may cite.
SOURCES_MAX = 8

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
_FACT_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class FactSource:
    """Where a fact's 口径 was written down from: a seed document's own words (``line`` and
    ``quote``), or a national rule the seeds do not spell out (``url``)."""

    document: str
    where: str
    line: int | None = None
    quote: str | None = None
    url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"document": self.document, "where": self.where, "line": self.line, "quote": self.quote,
                "url": self.url}


@dataclass(frozen=True, slots=True)
class FactDef:
    key: str
    name: str
    unit: str
    min: Decimal
    max: Decimal
    places: int
    description: str = ""
    taken_from: str = ""
    #: a value as a submission writes it (checked against the fact's bounds when loaded)
    example: Any = None
    sources: tuple[FactSource, ...] = ()

    @property
    def json_type(self) -> list[str]:
        return list(JSON_TYPES[self.unit])

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "unit": self.unit,
            "unit_label": UNITS[self.unit],
            "json_type": self.json_type,
            "minimum": None if self.unit == "boolean" else _plain(self.min),
            "maximum": None if self.unit == "boolean" else _plain(self.max),
            "places": None if self.unit == "boolean" else self.places,
            "description": self.description,
            "taken_from": self.taken_from,
            "example": self.example,
            "sources": [s.as_dict() for s in self.sources],
        }


def _plain(d: Decimal) -> str:
    return format(d.normalize(), "f") if d == d.to_integral() else format(d, "f")


def _text_field(spec: dict[str, Any], key: str, where: str, pointer: str, problems: list[Problem],
                required: bool = True) -> str | None:
    """A non-empty, bounded text field of facts.yaml (``None`` when absent and optional)."""
    value = spec.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(f"{pointer}/{key}", f"{where}: {key} must be non-empty text"))
        return None
    if len(value) > TEXT_MAX[key]:
        problems.append(Problem(f"{pointer}/{key}", f"{where}: {key} has {len(value)} characters, at most {TEXT_MAX[key]}"))
        return None
    return value.strip()


def _sources(spec: Any, where: str, pointer: str, problems: list[Problem]) -> tuple[FactSource, ...]:
    """The ``sources`` of a fact: 1 to :data:`SOURCES_MAX`, at least one a seed's own words."""
    if not isinstance(spec, list) or not spec or len(spec) > SOURCES_MAX:
        problems.append(Problem(pointer, f"{where}: sources must list 1 to {SOURCES_MAX} sources"))
        return ()
    out: list[FactSource] = []
    for i, s in enumerate(spec):
        p = f"{pointer}/{i}"
        if not isinstance(s, dict):
            problems.append(Problem(p, f"{where}: a source is a mapping {{document, where, line, quote}} or {{document, where, url}}"))
            continue
        unknown = set(s) - _SOURCE_KEYS
        if unknown:
            problems.append(Problem(p, f"{where}: unknown keys {sorted(unknown)} in source {i}"))
            continue
        before = len(problems)
        document = _text_field(s, "document", where, p, problems)
        place = _text_field(s, "where", where, p, problems)
        quote = _text_field(s, "quote", where, p, problems, required=False)
        url = _text_field(s, "url", where, p, problems, required=False)
        line = s.get("line")
        if line is not None and (isinstance(line, bool) or not isinstance(line, Decimal | int)
                                 or line != int(line) or not 1 <= line <= 1_000_000):
            problems.append(Problem(f"{p}/line", f"{where}: line must be a line number of the document"))
        seed = line is not None and quote is not None
        if url is not None and not url.startswith(("https://", "http://")):
            problems.append(Problem(f"{p}/url", f"{where}: url must be an http(s) address"))
        if seed == (url is not None) or (line is None) != (quote is None):
            problems.append(Problem(p, f"{where}: source {i} cites either a seed document's words (line and quote) "
                                       "or a national rule (url)"))
        if len(problems) > before or document is None or place is None:
            continue
        out.append(FactSource(document, place, None if line is None else int(line), quote, url))
    if out and not any(s.quote is not None for s in out):
        problems.append(Problem(pointer, f"{where}: sources must quote the source document it was defined from "
                                         "(document, line, quote)"))
    return tuple(out)


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
        return cls.from_document(data, lines, path.name)

    @classmethod
    def from_document(cls, data: Any, lines: dict[str, int], source: str) -> Vocabulary:
        """Check a parsed facts.yaml strictly (every key known, every field of its type, text
        bounded, the example within the fact's own bounds, a quoted source); raise ValueError
        listing every problem with its line."""
        problems: list[Problem] = []
        if not isinstance(data, dict):
            raise ValueError(f"{source}: the fact vocabulary must be a mapping")
        facts: dict[str, FactDef] = {}
        for key, spec in data.items():
            pointer = "/" + _escape(str(key))
            where = f"{source}:{lines.get(pointer, '?')}: {key}"
            if not isinstance(spec, dict):
                problems.append(Problem(pointer, f"{where}: must be a mapping"))
                continue
            if not isinstance(key, str) or not _FACT_KEY.fullmatch(key):
                problems.append(Problem(pointer, f"{where}: a fact key is lower-case letters, digits and '_' (at most 64)"))
                continue
            unknown = set(spec) - _FACT_KEYS
            if unknown:
                problems.append(Problem(pointer, f"{where}: unknown keys {sorted(unknown)}"))
            missing = [k for k in _REQUIRED_KEYS if k not in spec]
            if missing:
                problems.append(Problem(pointer, f"{where}: missing {', '.join(missing)} (every fact has a name, unit, "
                                                 "description of its 口径, taken_from, example and sources)"))
                continue
            unit = spec.get("unit")
            if unit not in UNITS:
                problems.append(Problem(f"{pointer}/unit", f"{where}: unit must be one of {sorted(UNITS)}"))
                continue
            lo = Decimal(str(spec.get("min", 0)))
            hi = Decimal(str(spec.get("max", DEFAULT_MAX.get(unit, 1))))
            places = spec.get("places", DEFAULT_PLACES.get(unit, 0))
            if hi > DEFAULT_MAX.get(unit, hi) or not isinstance(places, Decimal | int) \
                    or places != int(places) or not 0 <= places <= DEFAULT_PLACES.get(unit, 0):
                problems.append(Problem(pointer, f"{where}: max and places may only narrow the defaults "
                                                 f"of the unit ({DEFAULT_MAX.get(unit)}, {DEFAULT_PLACES.get(unit)})"))
                continue
            before = len(problems)
            name = _text_field(spec, "name", where, pointer, problems)
            description = _text_field(spec, "description", where, pointer, problems)
            taken_from = _text_field(spec, "taken_from", where, pointer, problems)
            sources = _sources(spec.get("sources"), where, f"{pointer}/sources", problems)
            if len(problems) > before or name is None or description is None or taken_from is None:
                continue
            fact = FactDef(key, name, unit, lo, hi, int(places), description, taken_from, None, sources)
            example = spec.get("example")
            try:
                # The example is checked as a submission's value is (and kept as written: an
                # integer stays an integer, a count's Decimal from YAML becomes one).
                cls._parse_one(fact, example)
            except ValueError as exc:
                problems.append(Problem(f"{pointer}/example", f"{where}: example {example!r}: {exc}"))
                continue
            if isinstance(example, Decimal):
                # YAML numbers load as Decimal; a count's example is shown as the integer it is, an
                # amount's as its decimal text (the form the API answers amounts in).
                example = int(example) if unit == "count" else _text(example)
            facts[key] = FactDef(key, name, unit, lo, hi, int(places), description, taken_from, example, sources)
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

    @classmethod
    def _parse_one(cls, fact: FactDef, value: Any) -> Any:
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
            cls._check_range(fact, number)
            return number / 100
        number = _decimal(value)
        cls._check_range(fact, number)
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
