"""A ruleset's own test cases (``cases:`` in a ruleset file), as OpenFisca's YAML tests are.

Each case is a submission (facts, answers, overrides) and what scoring it must give: the total,
the grade, the completeness, the warnings and any indicator's points. ``jixiao rulesets test``
runs them, ``rulesets:validate`` reports each failure and registration refuses a ruleset whose
cases fail.

This module is the one definition of a case's shape; the ruleset file-format models import
:class:`RulesetCase` from here. :func:`run_cases` scores every case with the normal engine
(:func:`app.engine.scoring.prepare` and :func:`~app.engine.scoring.score`, as ``jixiao score`` and
an assessment do) and gives each failure as a :class:`~app.engine.errors.Problem` whose pointer
goes into the ruleset file (``/cases/2/expect/indicators/3.3.1``) and whose message names the
line, as the loader's problems do.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.engine.errors import InvalidInput, Problem
from app.engine.facts import Vocabulary
from app.engine.rules import fmt
from app.engine.yamlio import loads_yaml

if TYPE_CHECKING:  # the file-format models (app.engine.fileformat) import this module, and the loader them
    from app.engine.ruleset import Ruleset
    from app.engine.scoring import Assessment


class CaseExpect(BaseModel):
    """What scoring the case's submission must give; anything left out is not checked."""

    model_config = ConfigDict(extra="forbid")

    total: Decimal | None = Field(default=None, description="The total after adjustments, bounds and rounding.")
    grade: str | None = Field(default=None, description="The grade (优/良/中/差 or the ruleset's own).")
    status: Literal["complete", "incomplete"] | None = Field(
        default=None, description="complete: nothing missing; incomplete: some fact or answer missing.")
    indicators: dict[str, Decimal] = Field(
        default_factory=dict,
        description="Points awarded, by indicator code (any level) or adjustment code (加减分项).")
    warnings: list[str] | None = Field(
        default=None, description="The codes of the warnings scoring gives (e.g. total_clamped), all of them, "
                                  "in any order; [] for none.")

    @model_validator(mode="after")
    def _checks_something(self) -> CaseExpect:
        # A case that checks nothing cannot fail: refuse it rather than count it as passed.
        if (self.total is None and self.grade is None and self.status is None and not self.indicators
                and self.warnings is None):
            raise ValueError("expect checks nothing: give a total, grade, status, warnings or indicators")
        return self


class RulesetCase(BaseModel):
    """One worked example: a submission and the scores the ruleset must give it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="What the case shows, e.g. 'seed 001 盐港中学'.")
    description: str | None = None
    fiscal_year: int | None = Field(default=None, description="Defaults to the ruleset's first fiscal year.")
    facts: dict[str, Any] = Field(default_factory=dict)
    answers: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, Any] = Field(default_factory=dict)
    expect: CaseExpect


@dataclass(frozen=True, slots=True)
class CasesResult:
    """The outcome of running a ruleset's cases: how many ran, and every failure."""

    ref: str
    count: int
    failures: list[Problem]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failed_cases(self) -> list[int]:
        """The indices of the cases that failed."""
        return sorted({int(p.pointer.split("/")[2]) for p in self.failures
                       if p.pointer.count("/") >= 2 and p.pointer.split("/")[2].isdigit()})


def _esc(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class _Report:
    def __init__(self, lines: dict[str, int]) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def line(self, pointer: str) -> int | None:
        p = pointer
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p.rsplit("/", 1)[0]
        return None

    def fail(self, pointer: str, message: str) -> None:
        line = self.line(pointer)
        where = f"line {line}, " if line else ""
        self.problems.append(Problem(pointer, f"{where}{pointer}: {message}"))


def parse_cases(raw: Any, report: _Report) -> list[tuple[int, RulesetCase]]:
    """The cases of a file (``raw`` is the value of its ``cases`` key), each with its index;
    a case of the wrong shape is reported (and not run)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        report.fail("/cases", "cases must be a list of {name, facts, answers, overrides, expect}")
        return []
    out: list[tuple[int, RulesetCase]] = []
    for i, item in enumerate(raw):
        try:
            out.append((i, RulesetCase.model_validate(item)))
        except ValidationError as exc:
            for err in exc.errors():
                loc = "".join(f"/{_esc(str(part))}" for part in err["loc"])
                report.fail(f"/cases/{i}{loc}", err["msg"].removeprefix("Value error, "))
    return out


def run_cases(rs: Ruleset, vocabulary: Vocabulary) -> CasesResult:
    """Score every case of ``rs`` (read from its text) and compare with what it expects."""
    data, lines = loads_yaml(rs.text, rs.ref)  # a ruleset that loaded is a mapping
    raw = data.get("cases")
    report = _Report(lines)
    for i, case in parse_cases(raw, report):
        _run_one(rs, vocabulary, i, case, report)
    return CasesResult(rs.ref, len(raw) if isinstance(raw, list) else 0, report.problems)


def _run_one(rs: Ruleset, vocabulary: Vocabulary, i: int, case: RulesetCase, report: _Report) -> None:
    from app.engine.scoring import prepare, score  # not at the top: see the imports
    at = f"/cases/{i}"
    label = f"case '{case.name}'"
    if case.fiscal_year is not None and not rs.covers(case.fiscal_year):
        report.fail(f"{at}/fiscal_year", f"{label}: {rs.ref} covers fiscal years {rs.fiscal_years}, not {case.fiscal_year}")
        return
    # An answer the ruleset has no place for is only a warning for a submission (it may carry
    # answers for several rulesets); in the ruleset's own case it is a mistake.
    for addr in case.answers:
        if addr not in rs.answer_shapes:
            report.fail(f"{at}/answers/{_esc(addr)}", f"{label}: {rs.ref} has no answer address '{addr}'")
    try:
        prepared = prepare(rs, vocabulary, case.facts, case.answers, case.overrides)
    except InvalidInput as exc:
        for p in exc.problems:
            report.fail(f"{at}{p.pointer}", f"{label}: {p.message}")
        return
    assessment = score(rs, prepared)
    expect = case.expect
    ex = f"{at}/expect"
    if expect.total is not None and assessment.total != expect.total:
        report.fail(f"{ex}/total", f"{label}: expected total {fmt(expect.total)}, scored {fmt(assessment.total)}")
    if expect.grade is not None and assessment.grade != expect.grade:
        report.fail(f"{ex}/grade", f"{label}: expected grade {expect.grade}, scored {assessment.grade or '—'}")
    if expect.status is not None and assessment.status != expect.status:
        missing = ", ".join([*assessment.missing_facts, *assessment.missing_answers])
        report.fail(f"{ex}/status", f"{label}: expected {expect.status}, scored {assessment.status}"
                    + (f" (missing: {missing})" if missing else ""))
    if expect.warnings is not None:
        got = sorted(w["code"] for w in assessment.warnings)
        if got != sorted(expect.warnings):
            report.fail(f"{ex}/warnings", f"{label}: expected warnings {sorted(expect.warnings)}, scoring gave {got}")
    for code, want in expect.indicators.items():
        _check_indicator(rs, assessment, code, want, f"{ex}/indicators/{_esc(code)}", label, report)


def _check_indicator(rs: Ruleset, a: Assessment, code: str, want: Decimal, pointer: str, label: str,
                     report: _Report) -> None:
    if code in rs.by_code:
        row = a.row(code)
        if row.score is None:
            why = ""
            if row.outcome is not None:
                missing = [*(row.outcome.missing_facts or []), *(row.outcome.missing_answers or [])]
                why = f" (missing: {', '.join(missing)})" if missing else ""
            report.fail(pointer, f"{label}: expected {code} to score {fmt(want)}, it is not scored: {row.status}{why}")
        elif row.score != want:
            report.fail(pointer, f"{label}: expected {code} to score {fmt(want)}, scored {fmt(row.score)}")
        return
    adj = next((x for x in a.adjustments if x.code == code), None)
    if adj is None:
        report.fail(pointer, f"{label}: {rs.ref} has no indicator or adjustment '{code}'")
    elif adj.points != want:
        report.fail(pointer, f"{label}: expected {code} to give {fmt(want)}, it gave {fmt(adj.points)}")
