"""Scoring a project's self-evaluation table (项目支出绩效自评表) under a project ruleset.

A project ruleset (``kind: project``, :mod:`app.engine.project_format`) fixes the 一级 / 二级
structure, the weights, how rows are scored by 指标性质, the execution-rate rule, not-applicable
rescaling, rounding and grades; the 三级 rows are the submission's. :func:`score_project` places
every row under its 一级 / 二级, gives it its points (the unit's 分值 or an even share), scores it,
rounds it as the ruleset says and adds the rows up; :meth:`ProjectAssessment.to_dict` returns the
breakdown in the shape of the 部门整体 breakdown (``app.engine.scoring.to_dict``: the same keys for
every indicator, 一级 → 二级 → 三级), so comparisons, cohorts and reports read it unchanged; a
project breakdown adds ``framework: "project"``, ``funds``, ``goals``, ``rescaled``, ``claims`` and
each row's own columns under ``row``.

Bad input (a row under a 一级 the ruleset does not have, 分值 that do not add up to the 一级's
weight, a band score outside its band, a missed target without 偏差原因 where the ruleset requires
one) raises :class:`~app.engine.errors.InvalidInput` with a JSON pointer into the submission. A
missing 实际完成值 or band never scores 0: the row is not scored and the assessment is incomplete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from pydantic import ValidationError

from app.engine.errors import InvalidInput, Problem, RulesetError
from app.engine.labels import ASSESSMENT_STATUS_LABELS, INDICATOR_STATUS_LABELS, grade_code
from app.engine.project_format import (
    NATURE_LABELS,
    BandSpec,
    ExecutionSpec,
    GradeSpec,
    Level1Spec,
    Level2Spec,
    ProjectRow,
    ProjectRulesetFile,
    ProjectSubmission,
    RowOverride,
    WhenEmpty,
    normalise_unit,
    unit_factor,
)
from app.engine.rules import fmt, pct
from app.engine.yamlio import YamlError, loads_yaml

ZERO = Decimal(0)
ONE = Decimal(1)

SCORED = "scored"
MISSING_FACTS = "missing_facts"
PENDING = "judgment_pending"
NOT_APPLICABLE = "not_applicable"
OVERRIDDEN = "overridden"
COMPLETE = "complete"
INCOMPLETE = "incomplete"

_ROUNDING = {"down": ROUND_DOWN, "half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "up": ROUND_UP}
_ROUNDING_LABELS = {"down": "截尾", "half_up": "四舍五入", "half_even": "四舍六入五成双", "up": "进位"}

#: the rule each row kind is scored by, as the breakdown's ``formula`` prints it
ROW_FORMULAS = {
    "proportional": "实际完成值≥年度指标值得满分；未完成的，得分=实际完成值/年度指标值×分值",
    "inverse_proportional": "实际完成值≤年度指标值得满分；未完成的，得分=年度指标值/实际完成值×分值",
    "deviation": "实际完成值=年度指标值得满分；有偏差的，得分=(1−|实际完成值−年度指标值|/|年度指标值|)×分值，最低0分",
    "all_or_nothing": "达到年度指标值得满分，未达到不得分",
}


# --------------------------------------------------------------------------- the ruleset


class ProjectRuleset:
    """A loaded project ruleset: the file's model plus what scoring looks up."""

    kind = "project"

    def __init__(self, spec: ProjectRulesetFile, text: str) -> None:
        self.spec = spec
        self.text = text
        self.content_hash = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()  # as app.engine.ruleset
        self.name = spec.name
        self.version = spec.version
        self.title = spec.title
        self.region = spec.region
        self.description = spec.description
        self.fiscal_years = list(spec.fiscal_years)
        self.source = spec.source
        self.total_points = spec.total_points
        self.places = spec.rounding.places
        self.rounding_mode = spec.rounding.mode
        self.rounding = _ROUNDING[spec.rounding.mode]
        self.quantum = Decimal(1).scaleb(-self.places)
        self.grades: list[GradeSpec] = list(spec.grades)
        self.execution: ExecutionSpec = spec.execution
        self.levels: list[Level1Spec] = list(spec.levels)
        self.bands: dict[str, BandSpec] = {b.band: b for b in spec.bands}
        self.bands_text = self.band_text()
        #: every fixed node by code (the reports read ``description`` / ``criteria`` from here)
        self.by_code: dict[str, Level1Spec | Level2Spec | ExecutionSpec] = {spec.execution.code: spec.execution}
        for l1 in self.levels:
            self.by_code[l1.code] = l1
            for l2 in l1.children:
                self.by_code[l2.code] = l2
        self._level1: dict[str, Level1Spec] = {}
        self._level2: dict[tuple[str, str], Level2Spec] = {}
        for l1 in self.levels:
            for key in lookup_keys(l1.code, l1.name):
                self._level1.setdefault(key, l1)
            for l2 in l1.children:
                for key in lookup_keys(l2.code, l2.name):
                    self._level2.setdefault((l1.code, key), l2)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def covers(self, year: int) -> bool:
        return year in self.fiscal_years

    def grade_for(self, total: Decimal) -> str | None:
        for g in self.grades:
            if total >= g.min:
                return g.grade
        return None

    def round(self, d: Decimal) -> Decimal:
        return d.quantize(self.quantum, self.rounding)

    def level1(self, key: str) -> Level1Spec | None:
        return self._level1.get(_key(key))

    def level2(self, level1: Level1Spec, key: str) -> Level2Spec | None:
        return self._level2.get((level1.code, _key(key)))

    def band_text(self) -> str:
        parts = []
        for b in sorted(self.bands.values(), key=lambda b: b.min, reverse=True):
            lo = f"{fmt(b.min * 100)}%" + ("（含）" if b.min_inclusive and b.min > 0 else "")
            hi = f"{fmt(b.max * 100)}%" + ("（含）" if b.max_inclusive and b.max < 1 else "")
            parts.append(f"{b.name}{hi}–{lo}")
        return "定性指标按三档评分：" + "；".join(parts) + "，评价人在档内确定分值"

    def rounding_text(self) -> str:
        unit = "取整数" if self.places == 0 else f"保留{self.places}位小数"
        return f"各行得分{unit}（{_ROUNDING_LABELS[self.rounding_mode]}），总分为各行得分之和"


def _key(text: str) -> str:
    return text.strip()


def lookup_keys(code: str, name: str) -> list[str]:
    """A 一级 / 二级 is found by its code, its name, or its name without 指标 (产出 for 产出指标)."""
    keys = [code, name.strip()]
    if name.endswith("指标") and len(name) > 2:
        keys.append(name[:-2])
    return keys


def load_project_ruleset_text(text: str, *, source: str = "<ruleset>", expect_name: str | None = None,
                              expect_version: str | None = None) -> ProjectRuleset:
    """Load and check a ``kind: project`` ruleset document; raise :class:`RulesetError`."""
    try:
        data, lines = loads_yaml(text, source)
    except YamlError as exc:
        raise RulesetError(source, [Problem("/", str(exc))]) from None

    def problem(pointer: str, message: str) -> Problem:
        p = pointer
        line = None
        while p:
            if p in lines:
                line = lines[p]
                break
            p = p.rsplit("/", 1)[0]
        where = f"line {line}, " if line else ""
        return Problem(pointer, f"{where}{pointer or '/'}: {message}")

    if isinstance(data, dict) and isinstance(data.get("version"), Decimal):
        data["version"] = fmt(data["version"])
    try:
        spec = ProjectRulesetFile.model_validate(data)
    except ValidationError as exc:
        raise RulesetError(source, [
            problem("/" + "/".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()
        ]) from None
    problems: list[Problem] = []
    if expect_name is not None and spec.name != expect_name:
        problems.append(problem("/name", f"name '{spec.name}' must match the folder name '{expect_name}'"))
    if expect_version is not None and spec.version != expect_version:
        problems.append(problem("/version", f"version '{spec.version}' must match the file name '{expect_version}'"))
    weights = spec.execution.points + sum((l1.points for l1 in spec.levels), ZERO)
    if weights != spec.total_points:
        problems.append(problem("/levels", f"the 一级 and the execution rate add up to {fmt(weights)}, "
                                           f"total_points is {fmt(spec.total_points)}"))
    seen: set[str] = {spec.execution.code}
    for i, l1 in enumerate(spec.levels):
        if l1.code in seen:
            problems.append(problem(f"/levels/{i}/code", f"duplicate code '{l1.code}'"))
        seen.add(l1.code)
        if l1.points < 0:
            problems.append(problem(f"/levels/{i}/points", "points cannot be negative"))
        for j, l2 in enumerate(l1.children):
            if l2.code in seen:
                problems.append(problem(f"/levels/{i}/children/{j}/code", f"duplicate code '{l2.code}'"))
            seen.add(l2.code)
            if not l2.code.startswith(l1.code + "."):
                problems.append(problem(f"/levels/{i}/children/{j}/code", f"'{l2.code}' must start with '{l1.code}.'"))
    codes = {l1.code for l1 in spec.levels}
    for i, l1 in enumerate(spec.levels):
        if isinstance(l1.when_empty, WhenEmpty):
            for t in l1.when_empty.transfer_to:
                if t not in codes or t == l1.code:
                    problems.append(problem(f"/levels/{i}/when_empty/transfer_to", f"'{t}' is not another 一级 code"))
    last: Decimal | None = None
    for i, g in enumerate(spec.grades):
        if last is not None and g.min >= last:
            problems.append(problem(f"/grades/{i}/min", "grades must be listed from the highest min down"))
        last = g.min
    if spec.grades[-1].min > 0:
        problems.append(problem("/grades", "the lowest grade must start at 0"))
    problems.extend(_check_bands(spec.bands, problem))
    if problems:
        raise RulesetError(source, problems)
    return ProjectRuleset(spec, text)


def _check_bands(bands: list[BandSpec], problem: Any) -> list[Problem]:
    """The three bands cover 0–100% of a row's points without gap or overlap."""
    out: list[Problem] = []
    if {b.band for b in bands} != {"met", "partial", "missed"}:
        return [problem("/bands", "bands are one each of met, partial and missed")]
    ordered = sorted(bands, key=lambda b: b.min, reverse=True)
    if [b.band for b in ordered] != ["met", "partial", "missed"]:
        out.append(problem("/bands", "the bands must rank met above partial above missed"))
    if ordered[0].max != 1 or not ordered[0].max_inclusive or ordered[-1].min != 0 or not ordered[-1].min_inclusive:
        out.append(problem("/bands", "the bands must run from 0 to 100% inclusive"))
    for hi, lo in zip(ordered, ordered[1:], strict=False):
        if hi.min != lo.max or hi.min_inclusive == lo.max_inclusive:
            out.append(problem("/bands", f"{hi.band} and {lo.band} must meet at one bound, held by exactly one of them"))
        if hi.min > hi.max:
            out.append(problem("/bands", f"{hi.band}: min is above max"))
    return out


# --------------------------------------------------------------------------- results


@dataclass(slots=True)
class RowResult:
    """One scored node: a 三级 row, a 二级 or 一级 group, or the execution rate."""

    code: str
    name: str
    level: int
    points: Decimal  # nominal: the 一级's weight, the row's 分值
    available: Decimal  # after transfers; 0 when not applicable
    score: Decimal | None
    computed: Decimal | None
    status: str
    rule: str | None = None
    formula: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    values: list[dict[str, str]] = field(default_factory=list)
    deductions: list[dict[str, str]] = field(default_factory=list)
    override: RowOverride | None = None
    missing_facts: list[str] = field(default_factory=list)
    missing_answers: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    note: str | None = None
    source: ProjectRow | None = None  # the submission's row (三级 rows only)
    children: list[RowResult] = field(default_factory=list)
    index: int | None = None  # position in the submission's rows
    claimed: Decimal | None = None
    claim_differs: bool = False
    met: bool | None = None  # whether the row reached its target (None: not known)

    def columns(self, rs: ProjectRuleset) -> dict[str, Any] | None:
        """The 自评表's own columns of a 三级 row (rendered when shown: scoring stays cheap)."""
        row = self.source
        if row is None:
            return None
        actual_unit = row.actual_unit or row.unit
        return {
            "index": self.index, "level1": row.level1, "level2": row.level2, "nature": row.nature,
            "nature_label": NATURE_LABELS[row.nature], "target": None if row.target is None else fmt(row.target),
            "target_text": row.target_text, "unit": normalise_unit(row.unit),
            "actual": None if row.actual is None else fmt(row.actual), "actual_unit": normalise_unit(actual_unit),
            "actual_text": row.actual_text, "band": row.band,
            "band_label": None if row.band is None else rs.bands[row.band].name,
            "band_score": None if row.band_score is None else fmt(row.band_score), "band_reason": row.band_reason,
            "deviation_reason": row.deviation_reason, "improvement": row.improvement, "met": self.met,
            "not_applicable_reason": row.not_applicable_reason,
            "claimed": None if self.claimed is None else fmt(self.claimed), "claim_differs": self.claim_differs,
        }


@dataclass(slots=True)
class ProjectAssessment:
    ruleset: ProjectRuleset
    status: str
    total: Decimal
    base_total: Decimal
    grade: str | None
    indicators: list[RowResult]
    warnings: list[dict[str, str]]
    missing_facts: list[str]
    missing_answers: list[str]
    funds: dict[str, str | None]
    goals: dict[str, str | None]
    rescaled: dict[str, str] | None
    claims: dict[str, Any]

    def rows(self) -> list[RowResult]:
        """The 三级 rows in the submission's order."""
        out = [r for top in self.indicators for l2 in top.children for r in l2.children]
        return sorted(out, key=lambda r: r.index if r.index is not None else -1)

    def node(self, code: str) -> RowResult:
        for r in _walk(self.indicators):
            if r.code == code:
                return r
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        rs = self.ruleset
        return {
            "framework": "project",
            "ruleset": {"ref": rs.ref, "name": rs.name, "version": rs.version, "title": rs.title,
                        "content_hash": rs.content_hash},
            "status": self.status,
            "status_label": ASSESSMENT_STATUS_LABELS[self.status],
            "total": fmt(self.total),
            "grade": self.grade,
            "grade_code": grade_code(self.grade),
            "points_total": fmt(rs.total_points),
            "base_total": fmt(self.base_total),
            "adjustments_total": "0",
            "warnings": self.warnings,
            "missing_facts": self.missing_facts,
            "missing_answers": self.missing_answers,
            "indicators": [_node_dict(r, rs) for r in self.indicators],
            "adjustments": [],
            "funds": self.funds,
            "goals": self.goals,
            "rescaled": self.rescaled,
            "claims": self.claims,
        }


def _walk(nodes: list[RowResult]) -> list[RowResult]:
    out: list[RowResult] = []
    for n in nodes:
        out.append(n)
        out.extend(_walk(n.children))
    return out


def _node_dict(r: RowResult, rs: ProjectRuleset) -> dict[str, Any]:
    score_text = None if r.score is None else fmt(r.score)
    d: dict[str, Any] = {
        "code": r.code,
        "name": r.name,
        "level": r.level,
        "points": fmt(r.points),
        "points_available": fmt(r.available),
        "score": score_text,
        "computed_score": None if r.computed is None else fmt(r.computed),
        "status": r.status,
        "status_label": INDICATOR_STATUS_LABELS[r.status],
        "points_lost": None if r.score is None else fmt(r.available - r.score),
    }
    if not r.children:
        d["rule"] = r.rule
        d["formula"] = r.formula
        d["inputs"] = r.inputs
        d["values"] = r.values
        if r.override is not None:
            lost = r.available - r.override.score
            d["deductions"] = ([{"points": fmt(lost), "reason": r.override.reason, "source": "override"}]
                               if lost > 0 else [])
            d["computed_deductions"] = r.deductions
            d["override"] = {"score": fmt(r.override.score), "reason": r.override.reason}
        else:
            d["deductions"] = r.deductions
            d["computed_deductions"] = None
            d["override"] = None
        d["missing_facts"] = r.missing_facts
        d["missing_answers"] = r.missing_answers
        d["messages"] = r.messages
        d["note"] = r.note
        if r.source is not None:
            d["row"] = r.columns(rs)
    d["children"] = [_node_dict(c, rs) for c in r.children]
    return d


# --------------------------------------------------------------------------- scoring


def spread(total: Decimal, weights: list[Decimal], quantum: Decimal) -> list[Decimal]:
    """``total`` split in proportion to ``weights`` in multiples of ``quantum``, adding up exactly:
    each share rounded down, the quanta left over given one each to the largest remainders (the
    first such row on a tie). 50 over 7 rows at 2 places: 7.15, 7.15, 7.14 … (7.14 × 5 + 7.15 × 2 = 50)."""
    wsum = sum(weights, ZERO)
    if wsum == 0:
        return [ZERO for _ in weights]
    raw = [total * w / wsum for w in weights]
    shares = [r.quantize(quantum, ROUND_DOWN) for r in raw]
    left = int(((total - sum(shares, ZERO)) / quantum).to_integral_value())
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - shares[i]), i))
    for i in order[:left]:
        shares[i] += quantum
    return shares


def _esc(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _with_unit(value: Decimal, unit: str | None) -> str:
    return fmt(value) + (normalise_unit(unit) or "")


def score_project(rs: ProjectRuleset, submission: ProjectSubmission | Mapping[str, Any],
                  overrides: Mapping[str, Any] | None = None) -> ProjectAssessment:
    """Score one project's table under ``rs``. Pure and deterministic; raises :class:`InvalidInput`."""
    if not isinstance(submission, ProjectSubmission):
        try:
            submission = ProjectSubmission.model_validate(submission)
        except ValidationError as exc:
            raise InvalidInput([Problem("/" + "/".join(_esc(str(p)) for p in e["loc"]), e["msg"])
                                for e in exc.errors()]) from None
    sub = submission
    problems: list[Problem] = []
    warnings: list[dict[str, str]] = []

    # 1. Each row under its 一级 / 二级, with its code (二级 code . n, in the table's order).
    placed: dict[str, list[tuple[int, ProjectRow, Level2Spec]]] = {l1.code: [] for l1 in rs.levels}
    codes: dict[int, str] = {}
    count: dict[str, int] = {}
    for i, row in enumerate(sub.rows):
        l1 = rs.level1(row.level1)
        if l1 is None:
            names = "、".join(x.name for x in rs.levels)
            problems.append(Problem(f"/rows/{i}/level1", f"'{row.level1}' is not a 一级指标 of {rs.ref} ({names})"))
            continue
        l2 = rs.level2(l1, row.level2)
        if l2 is None:
            names = "、".join(x.name for x in l1.children)
            problems.append(Problem(f"/rows/{i}/level2", f"'{row.level2}' is not a 二级指标 of {l1.name} ({names})"))
            continue
        if row.not_applicable and rs.spec.not_applicable == "refuse":
            problems.append(Problem(f"/rows/{i}/not_applicable", f"{rs.ref} does not allow rows that do not apply"))
        count[l2.code] = count.get(l2.code, 0) + 1
        codes[i] = f"{l2.code}.{count[l2.code]}"
        placed[l1.code].append((i, row, l2))
    if problems:
        raise InvalidInput(problems)

    # 2. The 一级 weights, after the points of a 一级 without rows have moved (or are left out).
    available: dict[str, Decimal] = {l1.code: l1.points for l1 in rs.levels}
    excluded = ZERO  # points left out of the total (not applicable)
    level_notes: dict[str, str] = {}
    for l1 in rs.levels:
        if placed[l1.code]:
            continue
        rule = l1.when_empty
        if rule == "refuse":
            problems.append(Problem("/rows", f"no row under 一级 {l1.name}: {rs.ref} requires at least one"))
        elif rule == "not_applicable":
            available[l1.code] = ZERO
            excluded += l1.points
            level_notes[l1.code] = f"未设置{l1.name}，其{fmt(l1.points)}分不计入，总分按百分制折算"
        else:
            assert isinstance(rule, WhenEmpty)
            targets = [rs.by_code[t] for t in rule.transfer_to if placed.get(t)]
            if not targets:
                problems.append(Problem("/rows", f"no row under 一级 {l1.name}, nor under the 一级 its points go to"))
                continue
            shares = spread(l1.points, [t.points for t in targets], rs.quantum)  # type: ignore[union-attr]
            for t, s in zip(targets, shares, strict=True):
                available[t.code] += s
            available[l1.code] = ZERO
            moved = "、".join(f"{t.name}{fmt(s)}分" for t, s in zip(targets, shares, strict=True))
            level_notes[l1.code] = f"未设置{l1.name}，其{fmt(l1.points)}分按权重调增至{moved}"
            warnings.append({"code": "level_points_moved", "message": level_notes[l1.code]})
    if problems:
        raise InvalidInput(problems)

    # 3. Each row's 分值: the unit's own when the ruleset takes them, else an even share.
    row_points: dict[int, Decimal] = {}
    for l1 in rs.levels:
        rows = placed[l1.code]
        if not rows:
            continue
        given = [pr.points is not None for _, pr, _ in rows]
        mode = rs.spec.row_points
        if mode == "even" and any(given):
            i = next(i for i, pr, _ in rows if pr.points is not None)
            problems.append(Problem(f"/rows/{i}/points", f"{rs.ref} spreads each 一级's points evenly; a row's 分值 is not taken"))
            continue
        if (mode == "submitted" and not all(given)) or (mode == "either" and any(given) and not all(given)):
            i = next(i for i, pr, _ in rows if pr.points is None)
            problems.append(Problem(f"/rows/{i}/points", f"give 分值 on every row of 一级 {l1.name}, or on none"))
            continue
        if all(given):
            total = sum((pr.points for _, pr, _ in rows if pr.points is not None), ZERO)
            if total != available[l1.code]:
                problems.append(Problem(f"/rows/{rows[0][0]}/points",
                                        f"the rows of 一级 {l1.name} add up to {fmt(total)}, the 一级 has {fmt(available[l1.code])}"))
                continue
            for i, pr, _ in rows:
                assert pr.points is not None
                row_points[i] = pr.points
        else:
            for (i, _, _), s in zip(rows, spread(available[l1.code], [ONE] * len(rows), rs.quantum), strict=True):
                row_points[i] = s

    # 4. Overrides (an evaluator's own scores, by code).
    by_code = {c: i for i, c in codes.items()}
    ovs: dict[str, RowOverride] = {}
    for code, value in (overrides or {}).items():
        pointer = f"/overrides/{_esc(str(code))}"
        if code not in by_code and code != rs.execution.code:
            problems.append(Problem(pointer, f"'{code}' is not a row of this table nor the execution rate"))
            continue
        try:
            ov = value if isinstance(value, RowOverride) else RowOverride.model_validate(value)
        except ValidationError as exc:
            problems.extend(Problem(pointer + "".join(f"/{p}" for p in e["loc"]), e["msg"]) for e in exc.errors())
            continue
        j = by_code.get(code)
        if j is not None and sub.rows[j].not_applicable:
            problems.append(Problem(pointer, f"{code} does not apply; it cannot be overridden"))
            continue
        cap = rs.execution.points if j is None else row_points.get(j, ZERO)
        if not ZERO <= ov.score <= cap:
            problems.append(Problem(f"{pointer}/score", f"score {fmt(ov.score)} is outside [0, {fmt(cap)}]"))
            continue
        ovs[code] = ov
    if problems:
        raise InvalidInput(problems)

    # 5. The rows.
    results: dict[int, RowResult] = {}
    missing_facts: list[str] = []
    missing_answers: list[str] = []
    claim_rows: list[dict[str, str]] = []
    for l1 in rs.levels:
        for i, row, _ in placed[l1.code]:
            r = _score_row(rs, i, codes[i], row, row_points[i], problems, warnings)
            if r.status == NOT_APPLICABLE:
                excluded += r.points
            row_ov = ovs.get(r.code)
            if row_ov is not None:  # the evaluator's score stands in for what the row lacked
                r.override, r.score, r.status = row_ov, row_ov.score, OVERRIDDEN
            else:
                missing_facts.extend(r.missing_facts)
                missing_answers.extend(r.missing_answers)
            _claim(r, row.claimed, claim_rows, warnings)
            results[i] = r
    if problems:
        raise InvalidInput(problems)

    # 6. The execution rate.
    ex = _score_execution(rs, sub)
    ex_ov = ovs.get(ex.code)
    if ex_ov is not None:
        ex.override, ex.score, ex.status = ex_ov, ex_ov.score, OVERRIDDEN
    else:
        missing_facts.extend(ex.missing_facts)
    _claim(ex, sub.claimed_execution, claim_rows, warnings)

    # 7. Roll up: 二级 and 一级 groups.
    tops: list[RowResult] = [ex]
    for l1 in rs.levels:
        kids: list[RowResult] = []
        for l2 in l1.children:
            rows_here = [results[i] for i, _, s in placed[l1.code] if s is l2]
            if rows_here:
                kids.append(_group(l2.code, l2.name, 2, sum((k.points for k in rows_here), ZERO), rows_here))
        g = _group(l1.code, l1.name, 1, l1.points, kids)
        g.available = sum((k.available for k in kids), ZERO)
        if not kids:
            g.status = NOT_APPLICABLE if available[l1.code] == 0 else SCORED
            g.score = g.computed = ZERO
        g.note = level_notes.get(l1.code)
        tops.append(g)

    # 8. The total: the rounded rows added up; brought back to total_points when rows are left out.
    base = sum((t.score for t in tops if t.score is not None), ZERO)
    complete = all(t.status in (SCORED, OVERRIDDEN, NOT_APPLICABLE) for t in tops)
    rescaled: dict[str, str] | None = None
    total = base
    if excluded:
        counted = rs.total_points - excluded
        total = rs.round(base * rs.total_points / counted) if counted else ZERO
        rescaled = {"points_counted": fmt(counted), "points_excluded": fmt(excluded), "score": fmt(base),
                    "formula": f"{fmt(base)}/{fmt(counted)}×{fmt(rs.total_points)}"}
        warnings.append({"code": "rescaled", "message": f"不适用指标共{fmt(excluded)}分不计入，实得{fmt(base)}分按百分制折算："
                                                         f"{fmt(base)}/{fmt(counted)}×{fmt(rs.total_points)}={fmt(total)}分"})
    total = min(total, rs.total_points)
    grade = rs.grade_for(total) if complete else None
    if not complete:
        warnings.append({"code": "incomplete", "message": "部分指标缺少实际完成值或评价人判定，总分为已评指标之和，不评定等级"})

    # 9. What the unit printed against what the rules give.
    claims: dict[str, Any] = {"rows": claim_rows, "total": None}
    if sub.claimed_total is not None:
        differs = sub.claimed_total != total
        claims["total"] = {"claimed": fmt(sub.claimed_total), "computed": fmt(total), "differs": differs}
        if differs:
            warnings.append({"code": "claimed_total_differs",
                             "message": f"自评总分{fmt(sub.claimed_total)}分，按规则计算总分为{fmt(total)}分"
                                        f"（{rs.rounding_text()}）"})
        claimed_rows = [r.claimed for r in results.values() if r.status != NOT_APPLICABLE]
        if all(c is not None for c in claimed_rows) and sub.claimed_execution is not None:
            claimed_sum = sub.claimed_execution + sum((c for c in claimed_rows if c is not None), ZERO)
            if not excluded and claimed_sum != sub.claimed_total:
                claims["total"]["rows_add_up_to"] = fmt(claimed_sum)
                warnings.append({"code": "claimed_total_inconsistent",
                                 "message": f"自评表各行得分合计{fmt(claimed_sum)}分，所填总分为{fmt(sub.claimed_total)}分，二者不符"})

    f = sub.funds
    rate = None if f.full_year_budget in (None, ZERO) or f.executed is None else f.executed / f.full_year_budget
    return ProjectAssessment(
        ruleset=rs, status=COMPLETE if complete else INCOMPLETE, total=total, base_total=base, grade=grade,
        indicators=tops, warnings=warnings, missing_facts=missing_facts, missing_answers=missing_answers,
        funds={
            "initial_budget": None if f.initial_budget is None else fmt(f.initial_budget),
            "full_year_budget": None if f.full_year_budget is None else fmt(f.full_year_budget),
            "executed": None if f.executed is None else fmt(f.executed),
            "execution_rate": None if rate is None else pct(rate),
            "points": fmt(rs.execution.points),
            "score": None if ex.score is None else fmt(ex.score),
        },
        goals={"expected": sub.goals.expected, "actual": sub.goals.actual},
        rescaled=rescaled, claims=claims,
    )


def _group(code: str, name: str, level: int, points: Decimal, kids: list[RowResult]) -> RowResult:
    score = ZERO
    computed: Decimal | None = ZERO
    status = SCORED
    for k in kids:
        if k.score is not None:
            score += k.score
        if computed is not None:
            computed = None if k.computed is None and k.status != NOT_APPLICABLE else computed + (k.computed or ZERO)
        if k.status == MISSING_FACTS or (k.status == PENDING and status == SCORED):
            status = k.status
    if kids and all(k.status == NOT_APPLICABLE for k in kids):
        status = NOT_APPLICABLE
    return RowResult(code, name, level, points, sum((k.available for k in kids), ZERO), score, computed, status,
                     children=kids)


def _claim(r: RowResult, claimed: Decimal | None, out: list[dict[str, str]], warnings: list[dict[str, str]]) -> None:
    r.claimed = claimed
    if claimed is None or r.computed is None or r.status == NOT_APPLICABLE or claimed == r.computed:
        return
    r.claim_differs = True
    out.append({"code": r.code, "name": r.name, "claimed": fmt(claimed), "computed": fmt(r.computed),
                "difference": fmt(claimed - r.computed), "rule": r.formula or ""})
    warnings.append({"code": "claim_differs",
                     "message": f"{r.code} {r.name}：自评得分{fmt(claimed)}分，按规则应得{fmt(r.computed)}分（{r.formula}）"})


def _score_execution(rs: ProjectRuleset, sub: ProjectSubmission) -> RowResult:
    spec = rs.execution
    pts = spec.points
    r = RowResult(spec.code, spec.name, 1, pts, pts, None, None, SCORED, rule="execution_rate",
                  formula=f"执行率=全年执行数/全年预算数；得分=执行率×{fmt(pts)}，最高{fmt(pts)}分")
    f = sub.funds
    for key, value in (("full_year_budget", f.full_year_budget), ("executed", f.executed)):
        if value is None:
            r.missing_facts.append(f"/funds/{key}")
        else:
            r.inputs[key] = fmt(value)
    if r.missing_facts:
        r.status = MISSING_FACTS
        return r
    assert f.full_year_budget is not None
    assert f.executed is not None
    if f.full_year_budget == 0:
        r.status = PENDING
        r.messages.append("全年预算数为0，执行率无法计算，须由评价人判定")
        return r
    rate = f.executed / f.full_year_budget
    r.values.append({"name": "执行率", "value": pct(rate)})
    score = rs.round(min(rate, ONE) * pts)
    r.score = r.computed = score
    if score < pts:
        r.deductions.append({"points": fmt(pts - score), "reason": f"预算执行率{pct(rate)}，扣{fmt(pts - score)}分",
                             "source": "computed"})
    return r


def _score_row(rs: ProjectRuleset, i: int, code: str, row: ProjectRow, pts: Decimal, problems: list[Problem],
               warnings: list[dict[str, str]]) -> RowResult:
    at = f"/rows/{i}"
    r = RowResult(code, row.name, 3, pts, pts, None, None, SCORED, source=row, index=i)
    if row.not_applicable:
        r.available, r.score, r.computed, r.status = ZERO, ZERO, ZERO, NOT_APPLICABLE
        r.note = f"不适用：{row.not_applicable_reason}"
        r.rule = "not_applicable"
        return r
    if row.quantitative:
        rule = getattr(rs.spec.natures, row.nature)
        r.rule, r.formula = rule, ROW_FORMULAS[rule]
        assert row.target is not None
        t = row.target
        r.inputs["target"] = _with_unit(t, row.unit)
        if row.actual is None:
            r.status = MISSING_FACTS
            r.missing_facts.append(f"{at}/actual")
            return r
        factor = unit_factor(row.unit, row.actual_unit or row.unit)
        assert factor is not None  # ProjectRow refuses units that do not compare
        a = row.actual * factor
        r.inputs["actual"] = _with_unit(row.actual, row.actual_unit or row.unit)
        if factor != 1:
            r.values.append({"name": "实际完成值（折算）", "value": _with_unit(a, row.unit)})
        met = a >= t if row.nature == "gte" else (a <= t if row.nature == "lte" else a == t)
        r.met = met
        raw = pts
        if not met:
            missed_raw, why = _missed(rule, t, a, pts)
            if missed_raw is None:
                r.status = PENDING
                r.messages.append(f"{why}，须由评价人判定")
                r.missing_answers.append(code)
                return r
            raw = min(max(missed_raw, ZERO), pts)
            r.values.append({"name": "得分比例", "value": pct(raw / pts) if pts else "0%"})
        score = rs.round(raw)
        r.score = r.computed = score
        if score < pts:
            sign = NATURE_LABELS[row.nature]
            r.deductions.append({
                "points": fmt(pts - score), "source": "computed",
                "reason": f"实际完成值{_with_unit(row.actual, row.actual_unit or row.unit)}，未达年度指标值"
                          f"{sign}{_with_unit(t, row.unit)}，扣{fmt(pts - score)}分"})
        missed = not met
    else:
        r.rule, r.formula = "qualitative_band", rs.bands_text
        if row.band is None or row.band_score is None:
            r.status = PENDING
            r.missing_answers.append(code)
            r.messages.append("定性指标须选定档次并在档内确定分值（band, band_score）")
            return r
        band = rs.bands[row.band]
        lo, hi = pts * band.min, pts * band.max
        s = row.band_score
        inside = (s > lo or (band.min_inclusive and s == lo)) and (s < hi or (band.max_inclusive and s == hi))
        if not inside:
            lo_t = ("[" if band.min_inclusive else "(") + fmt(lo)
            hi_t = fmt(hi) + ("]" if band.max_inclusive else ")")
            problems.append(Problem(f"{at}/band_score", f"{fmt(s)} is outside the band {band.name} {lo_t}, {hi_t} "
                                                        f"of the row's {fmt(pts)} points"))
            return r
        if s < pts and row.band_reason is None:
            problems.append(Problem(f"{at}/band_reason", "a qualitative score below the row's points needs its reason"))
            return r
        score = rs.round(s)
        r.score = r.computed = score
        r.values.append({"name": "档次", "value": band.name})
        if score < pts:
            r.deductions.append({"points": fmt(pts - score), "source": "evaluator",
                                 "reason": f"{band.name}：{row.band_reason}，扣{fmt(pts - score)}分"})
        missed = row.band != "met"
        r.met = not missed
    if missed and (row.deviation_reason is None or row.improvement is None):
        which = "deviation_reason" if row.deviation_reason is None else "improvement"
        label = "偏差原因" if which == "deviation_reason" else "改进措施"
        if rs.spec.deviation_reason == "required":
            problems.append(Problem(f"{at}/{which}", f"{code} {row.name} misses its target: its {label} is required"))
        else:
            warnings.append({"code": "deviation_reason_missing", "message": f"{code} {row.name} 未完成年度指标值，未说明{label}"})
    return r


def _missed(rule: str, t: Decimal, a: Decimal, pts: Decimal) -> tuple[Decimal | None, str]:
    """The raw points of a quantitative row that misses its target, or None and why it cannot be computed."""
    if rule == "all_or_nothing":
        return ZERO, ""
    if rule == "proportional":  # a < t
        if t <= 0:
            return None, "年度指标值不大于0，无法按比例计分"
        return pts * max(a, ZERO) / t, ""
    if rule == "inverse_proportional":  # a > t
        if t < 0:
            return None, "年度指标值小于0，无法按比例计分"
        return pts * t / a, ""  # a > t ≥ 0
    if t == 0:  # deviation
        return None, "年度指标值为0，无法计算偏离度"
    return pts * max(ZERO, ONE - abs(a - t) / abs(t)), ""


__all__ = ["ProjectAssessment", "ProjectRuleset", "RowResult", "load_project_ruleset_text", "score_project", "spread"]
