"""Project ruleset files (``kind: project``): loading, checking and the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine import builtin_registry
from app.engine.errors import RulesetError
from app.engine.project import ProjectRuleset, load_project_ruleset_text
from app.engine.project_format import ProjectSubmission

ROOT = Path(__file__).resolve().parents[2] / "rulesets"
NATIONAL_TEXT = (ROOT / "national-project" / "2020.yaml").read_text(encoding="utf-8")


def test_registry_lists_and_resolves_project_rulesets_apart():
    reg = builtin_registry()
    assert [r.ref for r in reg.projects()] == ["local-project@2023", "national-project@2020"]
    national = reg.project("national-project@2020")
    assert isinstance(national, ProjectRuleset)
    assert reg.resolve_project("national-project", 2023) is national
    assert reg.resolve_project("national-project", 2019) is None
    assert reg.resolve_project("local-project@2023") is reg.project("local-project@2023")
    # the 部门整体 lookups answer 部门整体 rulesets only
    assert reg.get("national-project@2020") is None
    assert reg.resolve("national-project") is None
    assert "national-project@2020" not in reg.refs()
    assert reg.has_name("national-project")
    assert national.content_hash.startswith("sha256:")
    assert national.by_code["1.1"].name == "数量指标"


def test_the_two_built_in_project_rulesets_differ_only_in_data():
    reg = builtin_registry()
    n, loc = reg.project("national-project@2020"), reg.project("local-project@2023")
    assert n is not None
    assert loc is not None
    assert [l1.points for l1 in n.levels] != [l1.points for l1 in loc.levels]
    assert (n.places, loc.places) == (2, 0)
    assert n.execution.points == loc.execution.points == 10


def broken(old: str, new: str) -> list[str]:
    assert old in NATIONAL_TEXT
    with pytest.raises(RulesetError) as exc:
        load_project_ruleset_text(NATIONAL_TEXT.replace(old, new, 1), source="t.yaml")
    return [p.pointer for p in exc.value.problems]


def test_weights_must_add_up_to_the_total():
    assert broken("    points: 50\n", "    points: 55\n") == ["/levels"]


def test_bands_must_meet_without_gap_or_overlap():
    assert broken("min: 0.6, max: 0.8, min_inclusive: true, max_inclusive: false",
                  "min: 0.6, max: 0.8, min_inclusive: true, max_inclusive: true") == ["/bands"]
    assert broken("min: 0.8, max: 1,", "min: 0.85, max: 1,") == ["/bands"]


def test_transfer_to_must_name_another_level():
    assert broken('when_empty: {transfer_to: ["1", "2"]}', 'when_empty: {transfer_to: ["3"]}') == [
        "/levels/2/when_empty/transfer_to"]


def test_unknown_keys_and_rules_are_refused_with_their_line():
    with pytest.raises(RulesetError) as exc:
        load_project_ruleset_text(NATIONAL_TEXT.replace("natures: {gte: proportional", "natures: {gte: magic"),
                                  source="t.yaml")
    [p] = exc.value.problems
    assert p.pointer == "/natures/gte"
    assert p.message.startswith("line ")


def test_level2_code_must_sit_under_its_level():
    assert broken('{code: "1.1", name: 数量指标}', '{code: "2.9", name: 数量指标}') == ["/levels/0/children/0/code"]


@pytest.mark.parametrize(("field", "value"), [
    ("target", 0.1),          # a binary float is inexact: refused
    ("target", "1e3"),        # exponent notation is not a decimal as platforms print it
    ("target", "318,98"),     # a comma only as a thousands separator
    ("actual", "NaN"),
    ("points", "-1"),
    ("nature", "大约"),
])
def test_submission_values_are_read_strictly(field, value):
    row = {"level1": "产出", "level2": "数量", "name": "x", "nature": "≥", "target": "10", "actual": "9"}
    with pytest.raises(ValueError, match="validation error") as exc:
        ProjectSubmission.model_validate({"rows": [{**row, field: value}]})
    assert exc.value.errors()[0]["loc"][:3] == ("rows", 0, field)  # type: ignore[attr-defined]
