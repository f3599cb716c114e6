"""Loading ruleset files into an immutable, ready-to-score tree.

What a file may say, and every check of it, is :mod:`app.engine.fileformat` (Pydantic models);
this module turns a validated file into the compiled tree the scoring walks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.engine.errors import Problem, RulesetError
from app.engine.facts import Vocabulary
from app.engine.fileformat import IndicatorSpec, RulesetFile, error_problems
from app.engine.formula import Formula
from app.engine.project import ProjectRuleset, load_project_ruleset_text
from app.engine.project_format import is_project_ruleset_text
from app.engine.rules import ROUNDING_MODES, Rule, build_rule, fmt, mark_parts
from app.engine.yamlio import YamlError, loads_yaml


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
    #: the validated file (app.engine.fileformat): everything it says, e.g. its ``cases``
    spec: RulesetFile | None = None

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


class _Problems:
    """Problems found in one document, each message naming its line."""

    def __init__(self, lines: dict[str, int]) -> None:
        self.lines = lines
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


def load_ruleset_text(
    text: str,
    vocabulary: Vocabulary,
    *,
    source: str = "<ruleset>",
    expect_name: str | None = None,
    expect_version: str | None = None,
) -> Ruleset:
    """Load and check one ruleset document; raise :class:`RulesetError`.

    The document is validated through the file-format models (:mod:`app.engine.fileformat`,
    every check there), then the compiled tree is built from the validated models."""
    try:
        data, lines = loads_yaml(text, source)
    except YamlError as exc:
        raise RulesetError(source, [Problem("/", str(exc))]) from None
    if not isinstance(data, dict):
        raise RulesetError(source, [Problem("/", "a ruleset is a mapping at the top level")])
    b = _Problems(lines)
    try:
        spec = RulesetFile.model_validate(data, context={"vocabulary": vocabulary})
    except ValidationError as exc:
        for pointer, message in error_problems(exc, data):
            b.problem(pointer, message)
        raise RulesetError(source, b.problems) from None
    if expect_name is not None and spec.name != expect_name:
        b.problem("/name", f"name '{spec.name}' must match the folder name '{expect_name}'")
    if expect_version is not None and spec.version != expect_version:
        b.problem("/version", f"version '{spec.version}' must match the file name '{expect_version}'")
    if b.problems:
        raise RulesetError(source, b.problems)
    return build_ruleset(spec, text)


def build_ruleset(spec: RulesetFile, text: str) -> Ruleset:
    """The ready-to-score tree of a validated ruleset file (``text``: the file, for its hash)."""
    by_code: dict[str, Indicator] = {}
    indicators = [_indicator(top, 1, by_code) for top in spec.indicators]
    adjustments = [
        Adjustment(a.code, a.name if a.name is not None else a.code, a.kind, a.per, a.max, a.description, a.criteria)
        for a in spec.adjustments
    ]
    mode: str = spec.rounding.mode
    rs = Ruleset(
        name=spec.name, version=spec.version, title=spec.title, region=spec.region,
        fiscal_years=list(spec.fiscal_years), source=dict(spec.source),
        total_points=spec.total_points, places=spec.rounding.places, rounding_mode=mode,
        rounding=ROUNDING_MODES[mode], bounds=(spec.bounds.min, spec.bounds.max),
        grades=[Grade(g.grade, g.min) for g in spec.grades], indicators=indicators, adjustments=adjustments,
        content_hash=content_hash(text), text=text, description=spec.description,
        round_parts=spec.rounding.parts, by_code=by_code, spec=spec,
    )
    rs.leaves = [ind for top in indicators for ind in top.walk() if ind.is_leaf]
    for leaf in rs.leaves:
        if leaf.rule is not None:
            mark_parts(leaf.rule, not rs.round_parts)
    rs.na_leaves = [leaf for leaf in rs.leaves if leaf.not_applicable is not None]

    def post_order(ind: Indicator) -> None:
        for c in ind.children:
            post_order(c)
        if ind.children:
            rs.groups.append((ind, [c.code for c in ind.children]))

    for top in indicators:
        post_order(top)

    # Transfers of not-applicable points (checked by the model), and answer addresses.
    for leaf in rs.leaves:
        na = leaf.not_applicable
        if na and na.transfer_to:
            rs.transfers.setdefault(na.transfer_to, []).append(leaf.code)
        if leaf.rule is not None:
            for addr, shape in leaf.rule.answer_addresses(leaf.code).items():
                rs.answer_shapes[addr] = (shape, _points_at(leaf, addr))
        if na is not None:
            shape = rs.answer_shapes.get(leaf.code, ("", leaf.points))[0]
            rs.answer_shapes[leaf.code] = ((shape + "+na") if shape else "na", leaf.points)
    for adj in adjustments:
        rs.answer_shapes[adj.code] = ("events", adj.max)
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


def _indicator(spec: IndicatorSpec, level: int, by_code: dict[str, Indicator]) -> Indicator:
    ind = Indicator(spec.code, spec.name.strip(), spec.points, level, spec.description, spec.criteria)
    ind.points_text = fmt(spec.points)
    by_code[spec.code] = ind
    if spec.children is not None:
        ind.children = [_indicator(c, level + 1, by_code) for c in spec.children]
    elif spec.rule is not None:
        ind.rule = build_rule(spec.rule, spec.points)
        ind.formula_text = ind.rule.formula_text
        na = spec.not_applicable
        if na is not None:
            ind.not_applicable = NotApplicable(na.when, na.transfer_to)
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
