"""Loading and checking ruleset files into an immutable, ready-to-score tree."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.engine.errors import Problem, RulesetError
from app.engine.facts import Vocabulary
from app.engine.formula import Formula, FormulaError, parse
from app.engine.project import ProjectRuleset, load_project_ruleset_text
from app.engine.project_format import is_project_ruleset_text
from app.engine.rules import ROUNDING_MODES, ZERO, Rule, RuleSpecError, build_rule, fmt, mark_parts
from app.engine.yamlio import YamlError, loads_yaml

NAME_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
CODE_RE = re.compile(r"^[0-9A-Za-z]+(\.[0-9A-Za-z]+)*$")

_TOP_KEYS = {
    "name", "version", "title", "region", "fiscal_years", "source", "total_points",
    "rounding", "bounds", "grades", "indicators", "adjustments", "description",
}
_REQUIRED_TOP = {"name", "version", "title", "region", "fiscal_years", "source", "total_points",
                 "rounding", "bounds", "grades", "indicators"}
_INDICATOR_KEYS = {"code", "name", "points", "description", "criteria", "children", "rule", "not_applicable"}
_ADJ_KEYS = {"code", "name", "kind", "per", "max", "description", "criteria"}


@dataclass(slots=True)
class NotApplicable:
    when: Formula | None
    transfer_to: str | None


@dataclass(slots=True)
class Indicator:
    code: str
    name: str
    points: Decimal
    level: int
    description: str | None
    criteria: str | None
    children: list[Indicator] = field(default_factory=list)
    rule: Rule | None = None
    not_applicable: NotApplicable | None = None
    #: ``points`` as text (rendered once; the breakdown repeats it for every assessment)
    points_text: str = ""
    formula_text: str | None = None

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def walk(self) -> Iterator[Indicator]:
        yield self
        for c in self.children:
            yield from c.walk()


@dataclass(slots=True)
class Adjustment:
    code: str
    name: str
    kind: str  # bonus | penalty
    per: Decimal
    max: Decimal
    description: str | None
    criteria: str | None


@dataclass(slots=True)
class Grade:
    grade: str
    min: Decimal


@dataclass(slots=True)
class Ruleset:
    name: str
    version: str
    title: str
    region: str
    fiscal_years: list[int]
    source: dict[str, Any]
    total_points: Decimal
    places: int
    rounding_mode: str
    rounding: str
    bounds: tuple[Decimal, Decimal]
    grades: list[Grade]
    indicators: list[Indicator]
    adjustments: list[Adjustment]
    content_hash: str
    text: str
    description: str | None = None
    #: each part of a composite is rounded before the parts are added (``rounding.parts``)
    round_parts: bool = False
    # derived
    by_code: dict[str, Indicator] = field(default_factory=dict)
    leaves: list[Indicator] = field(default_factory=list)
    answer_shapes: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    transfers: dict[str, list[str]] = field(default_factory=dict)
    na_leaves: list[Indicator] = field(default_factory=list)
    #: non-leaf nodes in post-order, each with its children's codes (for the roll-up)
    groups: list[tuple[Indicator, list[str]]] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.places)

    def covers(self, year: int) -> bool:
        return year in self.fiscal_years

    def grade_for(self, total: Decimal) -> str | None:
        for g in self.grades:
            if total >= g.min:
                return g.grade
        return None

    def facts_used(self) -> set[str]:
        names: set[str] = set()
        for leaf in self.leaves:
            if leaf.rule is not None:
                names |= leaf.rule.facts
            if leaf.not_applicable and leaf.not_applicable.when:
                names |= leaf.not_applicable.when.names
        return names


def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Builder:
    def __init__(self, source: str, lines: dict[str, int], vocabulary: Vocabulary) -> None:
        self.source = source
        self.lines = lines
        self.vocabulary = vocabulary
        self.problems: list[Problem] = []

    def problem(self, pointer: str, message: str) -> None:
        line = self._line(pointer)
        where = f"line {line}, " if line else ""
        self.problems.append(Problem(pointer, f"{where}{pointer or '/'}: {message}"))

    def _line(self, pointer: str) -> int | None:
        p = pointer
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p.rsplit("/", 1)[0]
        return self.lines.get("/")

    def dec(self, value: Any, pointer: str, what: str) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            self.problem(pointer, f"{what} must be a number")
            return None
        return Decimal(value)


def load_ruleset_text(
    text: str,
    vocabulary: Vocabulary,
    *,
    source: str = "<ruleset>",
    expect_name: str | None = None,
    expect_version: str | None = None,
) -> Ruleset:
    """Load and check one ruleset document; raise :class:`RulesetError`."""
    try:
        data, lines = loads_yaml(text, source)
    except YamlError as exc:
        raise RulesetError(source, [Problem("/", str(exc))]) from None
    b = _Builder(source, lines, vocabulary)
    if not isinstance(data, dict):
        raise RulesetError(source, [Problem("/", "a ruleset is a mapping at the top level")])
    for key in sorted(set(data) - _TOP_KEYS):
        b.problem(f"/{key}", f"unknown key '{key}'")
    for key in sorted(_REQUIRED_TOP - set(data)):
        b.problem("/", f"missing required key '{key}'")
    if b.problems:
        raise RulesetError(source, b.problems)

    name = data["name"]
    version = data["version"]
    if isinstance(version, Decimal):
        version = fmt(version)
    if not isinstance(name, str) or not NAME_RE.match(name):
        b.problem("/name", "name must be lower-case letters, digits and '-' (e.g. shenzhen-yantian)")
    if not isinstance(version, str) or not VERSION_RE.match(version):
        b.problem("/version", "version must be text such as \"2023\" or \"2023.1\"")
    if expect_name is not None and name != expect_name:
        b.problem("/name", f"name '{name}' must match the folder name '{expect_name}'")
    if expect_version is not None and version != expect_version:
        b.problem("/version", f"version '{version}' must match the file name '{expect_version}'")
    for key in ("title", "region"):
        if not isinstance(data[key], str) or not data[key].strip():
            b.problem(f"/{key}", f"{key} must be non-empty text")
    years: list[int] = []
    if not isinstance(data["fiscal_years"], list) or not data["fiscal_years"]:
        b.problem("/fiscal_years", "fiscal_years must be a non-empty list of years")
    else:
        for i, y in enumerate(data["fiscal_years"]):
            if isinstance(y, Decimal) and y == y.to_integral_value() and 1990 <= y <= 2100:
                years.append(int(y))
            else:
                b.problem(f"/fiscal_years/{i}", "a fiscal year is a whole number such as 2023")
    if not isinstance(data["source"], dict):
        b.problem("/source", "source must be a mapping (document, unit, note)")
    total_points = b.dec(data["total_points"], "/total_points", "total_points") or ZERO

    rounding = data["rounding"]
    places, mode = 2, "half_up"
    round_parts = False
    if not isinstance(rounding, dict) or set(rounding) - {"places", "mode", "parts"}:
        b.problem("/rounding", "rounding must be {places: N, mode: down|half_up|half_even|up} (and optionally parts: true)")
    else:
        if "parts" in rounding:
            if not isinstance(rounding["parts"], bool):
                b.problem("/rounding/parts", "parts must be true or false")
            else:
                round_parts = rounding["parts"]
        p = rounding.get("places")
        if not isinstance(p, Decimal) or p != p.to_integral_value() or not 0 <= p <= 6:
            b.problem("/rounding/places", "places must be a whole number from 0 to 6")
        else:
            places = int(p)
        mode = rounding.get("mode", "")
        if mode not in ROUNDING_MODES:
            b.problem("/rounding/mode", f"mode must be one of {sorted(ROUNDING_MODES)}")
            mode = "half_up"

    bounds = data["bounds"]
    lo, hi = ZERO, total_points
    if not isinstance(bounds, dict) or set(bounds) != {"min", "max"}:
        b.problem("/bounds", "bounds must be {min: N, max: N}")
    else:
        lo = b.dec(bounds["min"], "/bounds/min", "bounds.min") or ZERO
        hi = b.dec(bounds["max"], "/bounds/max", "bounds.max") or total_points
        if lo > hi:
            b.problem("/bounds", "bounds.min is above bounds.max")

    grades: list[Grade] = []
    if not isinstance(data["grades"], list) or not data["grades"]:
        b.problem("/grades", "grades must be a non-empty list of {grade, min}")
    else:
        last: Decimal | None = None
        for i, g in enumerate(data["grades"]):
            if not isinstance(g, dict) or set(g) != {"grade", "min"} or not isinstance(g.get("grade"), str):
                b.problem(f"/grades/{i}", "a grade is {grade: 优, min: 90}")
                continue
            m = b.dec(g["min"], f"/grades/{i}/min", "grade min")
            if m is None:
                continue
            if last is not None and m >= last:
                b.problem(f"/grades/{i}/min", "grades must be listed from the highest min down")
            last = m
            grades.append(Grade(g["grade"], m))
        if grades and grades[-1].min > lo:
            b.problem("/grades", f"the lowest grade must start at or below bounds.min ({fmt(lo)})")

    indicators: list[Indicator] = []
    by_code: dict[str, Indicator] = {}
    if not isinstance(data["indicators"], list) or not data["indicators"]:
        b.problem("/indicators", "indicators must be a non-empty list")
    else:
        for i, spec in enumerate(data["indicators"]):
            ind = _indicator(b, spec, f"/indicators/{i}", 1, by_code)
            if ind is not None:
                indicators.append(ind)
        tree_total = sum((i.points for i in indicators), ZERO)
        if tree_total != total_points:
            b.problem("/indicators", f"the 一级 indicators add up to {fmt(tree_total)}, total_points is {fmt(total_points)}")

    adjustments: list[Adjustment] = []
    for i, spec in enumerate(data.get("adjustments") or []):
        p = f"/adjustments/{i}"
        if not isinstance(spec, dict):
            b.problem(p, "an adjustment is a mapping")
            continue
        for key in sorted(set(spec) - _ADJ_KEYS):
            b.problem(f"{p}/{key}", f"unknown key '{key}'")
        code = spec.get("code")
        if not isinstance(code, str) or not code:
            b.problem(f"{p}/code", "code must be text (quote it)")
            continue
        if code in by_code or any(a.code == code for a in adjustments):
            b.problem(f"{p}/code", f"duplicate code '{code}'")
        if spec.get("kind") not in {"bonus", "penalty"}:
            b.problem(f"{p}/kind", "kind must be bonus or penalty")
        per = b.dec(spec.get("per"), f"{p}/per", "per")
        mx = b.dec(spec.get("max"), f"{p}/max", "max")
        if per is None or mx is None:
            continue
        adjustments.append(Adjustment(code, str(spec.get("name", code)), str(spec.get("kind")), per, mx,
                                      spec.get("description"), spec.get("criteria")))

    rs = Ruleset(
        name=str(name), version=str(version), title=str(data["title"]), region=str(data["region"]),
        fiscal_years=years, source=data["source"] if isinstance(data["source"], dict) else {},
        total_points=total_points, places=places, rounding_mode=mode, rounding=ROUNDING_MODES[mode],
        bounds=(lo, hi), grades=grades, indicators=indicators, adjustments=adjustments,
        content_hash=content_hash(text), text=text, description=data.get("description"),
        round_parts=round_parts, by_code=by_code,
    )
    rs.leaves = [ind for top in indicators for ind in top.walk() if ind.is_leaf]
    for leaf in rs.leaves:
        if leaf.rule is not None:
            mark_parts(leaf.rule, not round_parts)
    rs.na_leaves = [leaf for leaf in rs.leaves if leaf.not_applicable is not None]

    def post_order(ind: Indicator) -> None:
        for c in ind.children:
            post_order(c)
        if ind.children:
            rs.groups.append((ind, [c.code for c in ind.children]))

    for top in indicators:
        post_order(top)

    # Transfers of not-applicable points, and answer addresses.
    for leaf in rs.leaves:
        na = leaf.not_applicable
        if na and na.transfer_to:
            target = by_code.get(na.transfer_to)
            if target is None or not target.is_leaf:
                b.problem(_pointer_of(data, leaf.code), f"not_applicable.transfer_to '{na.transfer_to}' is not a leaf indicator")
            elif target is leaf:
                b.problem(_pointer_of(data, leaf.code), "an indicator cannot transfer its points to itself")
            else:
                rs.transfers.setdefault(na.transfer_to, []).append(leaf.code)
        if leaf.rule is not None:
            for addr, shape in leaf.rule.answer_addresses(leaf.code).items():
                rs.answer_shapes[addr] = (shape, _points_at(leaf, addr))
        if na is not None:
            shape = rs.answer_shapes.get(leaf.code, ("", leaf.points))[0]
            rs.answer_shapes[leaf.code] = ((shape + "+na") if shape else "na", leaf.points)
    for adj in adjustments:
        rs.answer_shapes[adj.code] = ("events", adj.max)

    # Every fact a rule reads must be in the vocabulary.
    for leaf in rs.leaves:
        names = set(leaf.rule.facts) if leaf.rule else set()
        if leaf.not_applicable and leaf.not_applicable.when:
            names |= leaf.not_applicable.when.names
        for n in sorted(names):
            if n not in vocabulary:
                b.problem(_pointer_of(data, leaf.code), f"indicator {leaf.code} reads fact '{n}', which is not in the fact vocabulary (rulesets/facts.yaml)")
    if b.problems:
        raise RulesetError(source, b.problems)
    return rs


def _points_at(leaf: Indicator, addr: str) -> Decimal:
    """Points available at an answer address (a part or an item of the leaf's rule)."""
    rule = leaf.rule
    keys = addr.split("/")[1:]
    points = leaf.points
    for key in keys:
        parts = getattr(rule, "parts", None)
        items = getattr(rule, "items", None)
        if parts is not None:
            part = next(p for p in parts if p.key == key)
            points, rule = part.points, part.rule
        elif items is not None:
            points = next(i.points for i in items if i.key == key)
    return points


def _pointer_of(data: dict[str, Any], code: str) -> str:
    def search(nodes: list[Any], prefix: str) -> str | None:
        for i, n in enumerate(nodes):
            if not isinstance(n, dict):
                continue
            p = f"{prefix}/{i}"
            if n.get("code") == code:
                return p
            found = search(n.get("children") or [], f"{p}/children")
            if found:
                return found
        return None

    return search(data.get("indicators") or [], "/indicators") or "/indicators"


def _indicator(b: _Builder, spec: Any, pointer: str, level: int, by_code: dict[str, Indicator]) -> Indicator | None:
    if not isinstance(spec, dict):
        b.problem(pointer, "an indicator is a mapping with code, name and points")
        return None
    for key in sorted(set(spec) - _INDICATOR_KEYS):
        b.problem(f"{pointer}/{key}", f"unknown key '{key}'")
    code = spec.get("code")
    if not isinstance(code, str) or not CODE_RE.match(code):
        b.problem(f"{pointer}/code", "code must be quoted text such as \"2.1.1\"")
        return None
    if code in by_code:
        b.problem(f"{pointer}/code", f"duplicate code '{code}'")
        return None
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        b.problem(f"{pointer}/name", f"indicator {code} needs a name")
        name = code
    points = b.dec(spec.get("points"), f"{pointer}/points", f"points of {code}")
    if points is None:
        return None
    if points < 0:
        b.problem(f"{pointer}/points", "points cannot be negative")
    for key in ("description", "criteria"):
        if key in spec and not isinstance(spec[key], str):
            b.problem(f"{pointer}/{key}", f"{key} must be text")
    ind = Indicator(code, name.strip(), points, level, spec.get("description"), spec.get("criteria"))
    ind.points_text = fmt(points)
    by_code[code] = ind
    children = spec.get("children")
    rule = spec.get("rule")
    if children is not None and rule is not None:
        b.problem(pointer, f"indicator {code} has both children and a rule; a node has one or the other")
    elif children is None and rule is None:
        b.problem(pointer, f"indicator {code} needs either children or a rule")
    elif children is not None:
        if not isinstance(children, list) or not children:
            b.problem(f"{pointer}/children", "children must be a non-empty list")
        else:
            for i, c in enumerate(children):
                child = _indicator(b, c, f"{pointer}/children/{i}", level + 1, by_code)
                if child is not None:
                    if not child.code.startswith(code + "."):
                        b.problem(f"{pointer}/children/{i}/code", f"child code '{child.code}' must start with '{code}.'")
                    ind.children.append(child)
            total = sum((c.points for c in ind.children), ZERO)
            if total != points:
                b.problem(f"{pointer}/children", f"the children of {code} {name} add up to {fmt(total)}, the indicator has {fmt(points)}")
        if "not_applicable" in spec:
            b.problem(f"{pointer}/not_applicable", "only leaf indicators can be not applicable")
    else:
        try:
            ind.rule = build_rule(rule, points, f"{pointer}/rule")
            ind.formula_text = ind.rule.formula_text
        except RuleSpecError as exc:
            b.problem(exc.path, f"indicator {code}: {exc}")
        na = spec.get("not_applicable")
        if na is not None:
            if not isinstance(na, dict) or set(na) - {"when", "transfer_to"}:
                b.problem(f"{pointer}/not_applicable", "not_applicable is {when: condition, transfer_to: code}")
            else:
                when = None
                if "when" in na:
                    try:
                        when = parse(na["when"])
                        if not (when.is_boolean or when.is_name):
                            b.problem(f"{pointer}/not_applicable/when", "'when' must be a condition")
                    except FormulaError as exc:
                        b.problem(f"{pointer}/not_applicable/when", str(exc))
                transfer = na.get("transfer_to")
                if transfer is not None and not isinstance(transfer, str):
                    b.problem(f"{pointer}/not_applicable/transfer_to", "transfer_to must be a quoted code")
                    transfer = None
                ind.not_applicable = NotApplicable(when, transfer)
    return ind


# --------------------------------------------------------------------------- registry


class RulesetRegistry:
    """All rulesets known to the process, by name and version.

    Project rulesets (``kind: project``, app.engine.project) are kept apart: ``get``/``all``/
    ``resolve`` answer the 部门整体 rulesets, ``project``/``projects``/``resolve_project`` the project
    ones; a name belongs to one kind only."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self._by_ref: dict[str, Ruleset] = {}
        self._projects: dict[str, ProjectRuleset] = {}

    @classmethod
    def from_directory(cls, root: Path) -> RulesetRegistry:
        vocabulary = Vocabulary.load(root / "facts.yaml")
        reg = cls(vocabulary)
        problems: list[str] = []
        for path in sorted(root.glob("*/*.yaml")):
            try:
                text = path.read_text(encoding="utf-8")
                if is_project_ruleset_text(text):
                    reg.add_project(load_project_ruleset_text(text, source=str(path), expect_name=path.parent.name,
                                                              expect_version=path.stem))
                else:
                    reg.add(load_file(path, vocabulary))
            except RulesetError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("\n".join(problems))
        return reg

    def add(self, rs: Ruleset) -> None:
        self._by_ref[rs.ref] = rs

    def get(self, ref: str) -> Ruleset | None:
        return self._by_ref.get(ref)

    def all(self) -> list[Ruleset]:
        return sorted(self._by_ref.values(), key=lambda r: (r.name, r.version))

    def names(self) -> list[str]:
        return sorted({r.name for r in self._by_ref.values()})

    def refs(self) -> list[str]:
        return sorted(self._by_ref)

    def resolve(self, ref: str, year: int | None = None) -> Ruleset | None:
        """``NAME@VERSION`` exactly, or ``NAME`` with the version covering ``year``."""
        if "@" in ref:
            return self._by_ref.get(ref)
        candidates = [r for r in self._by_ref.values() if r.name == ref]
        if year is not None:
            candidates = [r for r in candidates if r.covers(year)]
        if not candidates:
            return None
        return max(candidates, key=lambda r: r.version)

    def has_name(self, name: str) -> bool:
        return any(r.name == name for r in self._by_ref.values()) or any(
            r.name == name for r in self._projects.values())

    def add_project(self, rs: ProjectRuleset) -> None:
        self._projects[rs.ref] = rs

    def project(self, ref: str) -> ProjectRuleset | None:
        return self._projects.get(ref)

    def projects(self) -> list[ProjectRuleset]:
        return sorted(self._projects.values(), key=lambda r: (r.name, r.version))

    def resolve_project(self, ref: str, year: int | None = None) -> ProjectRuleset | None:
        """``NAME@VERSION`` exactly, or ``NAME`` with the version covering ``year``."""
        if "@" in ref:
            return self._projects.get(ref)
        candidates = [r for r in self._projects.values() if r.name == ref]
        if year is not None:
            candidates = [r for r in candidates if r.covers(year)]
        if not candidates:
            return None
        return max(candidates, key=lambda r: r.version)


def load_file(path: Path, vocabulary: Vocabulary) -> Ruleset:
    return load_ruleset_text(
        path.read_text(encoding="utf-8"), vocabulary, source=str(path),
        expect_name=path.parent.name, expect_version=path.stem,
    )
