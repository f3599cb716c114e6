"""Command line: score submission files offline and inspect rulesets.

    jixiao score FILE --ruleset NAME@VERSION [--format json|table|csv|html] [-o FILE]
    jixiao score FILE --ruleset NAME@VERSION --format xlsx -o FILE.xlsx
    jixiao rulesets list | show NAME@VERSION | validate [FILE ...]
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from app.engine import builtin_registry, rulesets_dir
from app.engine.errors import InvalidInput, RulesetError
from app.engine.facts import Vocabulary
from app.engine.project import load_project_ruleset_text
from app.engine.project_format import is_project_ruleset_text
from app.engine.ruleset import RulesetRegistry, load_file, load_ruleset_text
from app.engine.scoring import flatten, prepare, score, to_dict
from app.engine.submission import SubmissionFileError, load_submission_file

app = typer.Typer(add_completion=False, no_args_is_help=True, help="jixiao: 部门整体支出绩效评价 scoring")
rulesets_app = typer.Typer(no_args_is_help=True, help="List, show and check rulesets.")
app.add_typer(rulesets_app, name="rulesets")
from app.auth.cli import keys_app  # noqa: E402 - registered here so `jixiao keys` exists

app.add_typer(keys_app, name="keys")
from app.auth.operators import operators_app  # noqa: E402

app.add_typer(operators_app, name="operators")


class Format(StrEnum):
    json = "json"
    table = "table"
    xlsx = "xlsx"  # the official 评分表 as a workbook (needs -o)
    csv = "csv"  # one row per indicator, UTF-8 with BOM
    html = "html"  # the printable 评分表 page


def _fail(message: str, code: int = 2) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _registry() -> RulesetRegistry:
    try:
        return builtin_registry()
    except ValueError as exc:
        _fail(f"the rulesets in {rulesets_dir()} do not load:\n{exc}")
        raise


@app.command("score")
def score_cmd(
    file: Annotated[Path, typer.Argument(help="Submission file (YAML or JSON)", exists=True, dir_okay=False)],
    ruleset: Annotated[str, typer.Option("--ruleset", "-r", help="NAME@VERSION, or NAME to pick the version covering the year")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format")] = Format.json,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout")] = None,
) -> None:
    """Score a submission file offline (no database) and print the assessment.

    xlsx, csv and html give the official 评分表 (the same reports as the API's report.* routes)."""
    if fmt is Format.xlsx and output is None:
        _fail("--format xlsx writes a workbook: give the file with -o/--output, e.g. -o 评分表.xlsx")
    reg = _registry()
    try:
        sub = load_submission_file(file)
    except SubmissionFileError as exc:
        _fail(str(exc))
        raise
    rs = reg.resolve(ruleset, sub.fiscal_year)
    if rs is None:
        _fail(f"unknown ruleset '{ruleset}' for fiscal year {sub.fiscal_year}; available: {', '.join(reg.refs())}", 3)
        raise AssertionError
    if not rs.covers(sub.fiscal_year):
        _fail(f"{rs.ref} applies to fiscal years {rs.fiscal_years}, not {sub.fiscal_year}", 3)
    try:
        prepared = prepare(rs, reg.vocabulary, sub.facts, sub.answers, sub.overrides)
    except InvalidInput as exc:
        lines = "\n".join(f"  {p.pointer}: {p.message}" for p in exc.problems)
        _fail(f"{file}: {exc.title}:\n{lines}")
        raise
    assessment = score(rs, prepared)
    if fmt is Format.json:
        doc: dict[str, Any] = {
            "unit": sub.unit,
            "fiscal_year": sub.fiscal_year,
            "kind": sub.kind,
            "evaluator": sub.evaluator,
            **to_dict(assessment, reg.vocabulary),
        }
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    elif fmt in (Format.xlsx, Format.csv, Format.html):
        _write(output, _report(fmt, assessment, reg, sub))
        return
    else:
        text = render_table(assessment, sub.unit.get("name", ""), sub.fiscal_year)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _report(fmt: Format, assessment: Any, reg: RulesetRegistry, sub: Any) -> bytes:
    """The 评分表 of an offline assessment in the report formats (see app.reports)."""
    from app.reports import header_from_result, render_csv, render_html, render_xlsx

    result = json.loads(json.dumps(to_dict(assessment, reg.vocabulary), ensure_ascii=False, default=str))
    labels = {key: f.name for key, f in reg.vocabulary.facts.items()}
    unit = sub.unit or {}
    header = header_from_result(
        result, unit_name=str(unit.get("name") or ""), unit_code=unit.get("code"), region=unit.get("region"),
        fiscal_year=sub.fiscal_year, kind=sub.kind, evaluator=sub.evaluator,
    )
    if fmt is Format.xlsx:
        return render_xlsx(result, assessment.ruleset, header, labels)
    if fmt is Format.csv:
        return render_csv(result, labels)
    return render_html(result, assessment.ruleset, header, labels).encode("utf-8")


def _write(output: Path | None, data: bytes) -> None:
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)


def render_table(assessment: Any, unit_name: str, year: int) -> str:
    from app.engine.rules import fmt

    rs = assessment.ruleset
    lines = [f"{unit_name} {year} — {rs.title} ({rs.ref})", ""]
    lines.append(f"{'code':<12}{'指标':<28}{'分值':>6}{'得分':>8}  状态 / 扣分事由")
    for r in flatten(assessment):
        ind = r.indicator
        name = ("  " * (ind.level - 1)) + ind.name
        score_text = "—" if r.score is None else fmt(r.score)
        lines.append(f"{ind.code:<12}{name:<28}{fmt(r.points):>6}{score_text:>8}  {r.status}")
        if ind.is_leaf:
            if r.override is not None:
                lines.append(f"{'':<54}覆盖：{r.override.reason}（计算值 {'—' if r.computed is None else fmt(r.computed)}）")
            elif r.outcome is not None:
                for lost, reason, _src in r.outcome.all_deductions():
                    lines.append(f"{'':<54}-{fmt(lost)} {reason!s}")
                if r.outcome.missing_facts:
                    lines.append(f"{'':<54}缺少数据：{', '.join(r.outcome.missing_facts)}")
                if r.outcome.missing_answers:
                    lines.append(f"{'':<54}待评价人判定：{', '.join(r.outcome.missing_answers)}")
    for adj in assessment.adjustments:
        lines.append(f"{adj.code:<12}{adj.name:<28}{'':>6}{fmt(adj.points):>8}  {'；'.join(adj.reasons)}")
    lines.append("")
    lines.append(f"total: {fmt(assessment.total)}   grade: {assessment.grade or '—'}   status: {assessment.status}")
    for w in assessment.warnings:
        lines.append(f"warning [{w['code']}]: {w['message']}")
    return "\n".join(lines) + "\n"


@rulesets_app.command("list")
def rulesets_list() -> None:
    """List the built-in rulesets."""
    reg = _registry()
    rows = [(r.ref, r.fiscal_years, r.region, r.title) for r in reg.all()]
    rows += [(r.ref, r.fiscal_years, r.region, r.title) for r in reg.projects()]
    for ref, fiscal_years, region, title in rows:
        years = ",".join(str(y) for y in fiscal_years)
        typer.echo(f"{ref:<28} {years:<10} {region}  {title}")


@rulesets_app.command("show")
def rulesets_show(ref: str) -> None:
    """Print one ruleset's indicator tree."""
    from app.engine.rules import fmt

    reg = _registry()
    rs = reg.resolve(ref)
    if rs is None:
        _fail(f"unknown ruleset '{ref}'; available: {', '.join(reg.refs())}", 3)
        raise AssertionError
    typer.echo(f"{rs.ref}: {rs.title} ({rs.region}, {rs.fiscal_years}) total {fmt(rs.total_points)}")
    for top in rs.indicators:
        for ind in top.walk():
            kind = f"[{ind.rule.kind}]" if ind.rule else ""
            typer.echo(f"{'  ' * (ind.level - 1)}{ind.code} {ind.name} {fmt(ind.points)} {kind}")
    for adj in rs.adjustments:
        typer.echo(f"{adj.code} {adj.name} ({adj.kind}, {fmt(adj.per)}/item, max {fmt(adj.max)})")


@rulesets_app.command("validate")
def rulesets_validate(
    files: Annotated[list[Path] | None, typer.Argument(help="Ruleset files (default: all in rulesets/)")] = None,
) -> None:
    """Check ruleset files; print every problem with its place in the file."""
    root = rulesets_dir()
    vocabulary = Vocabulary.load(root / "facts.yaml")
    paths = files or sorted(root.glob("*/*.yaml"))
    failed = 0
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
            if is_project_ruleset_text(text):
                in_root = path.parent.parent.resolve() == root.resolve()
                prs = load_project_ruleset_text(text, source=str(path), expect_name=path.parent.name if in_root else None,
                                                expect_version=path.stem if in_root else None)
                typer.echo(f"ok   {path}  ({prs.ref}, project ruleset: rows from the submission)")
                continue
            if path.parent.parent.resolve() == root.resolve():
                rs = load_file(path, vocabulary)
            else:
                rs = load_ruleset_text(path.read_text(encoding="utf-8"), vocabulary, source=str(path))
            typer.echo(f"ok   {path}  ({rs.ref}, {len(rs.leaves)} scored indicators)")
        except RulesetError as exc:
            failed += 1
            typer.echo(f"FAIL {path}")
            for p in exc.problems:
                typer.echo(f"     {p.message}")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
