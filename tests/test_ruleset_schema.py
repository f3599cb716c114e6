"""The published JSON Schema is generated from the file-format models, accepts every built-in
ruleset and refuses what the loader refuses for its shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from app.engine import builtin_registry
from app.engine.errors import RulesetError
from app.engine.fileformat import SEMANTIC_CHECKS, render_schema
from app.engine.project_format import is_project_ruleset_text, ruleset_json_schema
from app.engine.ruleset import load_ruleset_text

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "rulesets" / "ruleset.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
PROJECT_SCHEMA_PATH = ROOT / "rulesets" / "project-ruleset.schema.json"
PROJECT_SCHEMA = json.loads(PROJECT_SCHEMA_PATH.read_text(encoding="utf-8"))
ALL_FILES = sorted((ROOT / "rulesets").glob("*/*.yaml"))
PROJECT_FILES = [p for p in ALL_FILES if is_project_ruleset_text(p.read_text(encoding="utf-8"))]
FILES = [p for p in ALL_FILES if p not in PROJECT_FILES]
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_file_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "rulesets/ruleset.schema.json is stale: run `make schemas` and commit it")


def test_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_schema_names_the_checks_it_cannot_express() -> None:
    for check in SEMANTIC_CHECKS:
        assert check in SCHEMA["description"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}@{p.stem}")
def test_builtin_rulesets_match_the_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(data)]
    assert errors == []


def test_schema_rejects_unknown_rule_kind_and_extra_keys():
    data = yaml.safe_load(FILES[0].read_text(encoding="utf-8"))
    leaf = data["indicators"][0]["children"][0]["children"][0]
    leaf["rule"] = {"kind": "magic"}
    leaf["weight"] = 3
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))
    assert errors


def test_project_schema_is_current():
    """rulesets/project-ruleset.schema.json is generated from the Pydantic model of a project ruleset file;
    regenerate it with: .venv/bin/python -c "import json; from app.engine.project_format import
    ruleset_json_schema as s; open('rulesets/project-ruleset.schema.json', 'w').write(json.dumps(s(),
    ensure_ascii=False, indent=2) + '\\n')" """
    jsonschema.Draft202012Validator.check_schema(PROJECT_SCHEMA)
    assert PROJECT_SCHEMA == ruleset_json_schema()


@pytest.mark.parametrize("path", PROJECT_FILES, ids=lambda p: f"{p.parent.name}@{p.stem}")
def test_builtin_project_rulesets_match_the_project_schema(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [e.message for e in jsonschema.Draft202012Validator(PROJECT_SCHEMA).iter_errors(data)]
    assert errors == []


def test_project_schema_rejects_extra_keys_and_unknown_rules():
    data = yaml.safe_load(PROJECT_FILES[0].read_text(encoding="utf-8"))
    data["levels"][0]["weight"] = 3
    data["natures"]["gte"] = "magic"
    messages = [e.message for e in jsonschema.Draft202012Validator(PROJECT_SCHEMA).iter_errors(data)]
    assert any("weight" in m for m in messages)
    assert any("magic" in m for m in messages)


def _base() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "rulesets" / "shenzhen-yantian" / "2023.yaml").read_text(encoding="utf-8"))
    return data


def _leaf(data: dict[str, Any]) -> dict[str, Any]:
    leaf: dict[str, Any] = data["indicators"][0]["children"][0]["children"][0]
    assert "rule" in leaf
    return leaf


def _mutations() -> list[tuple[str, Any]]:
    def unknown_kind(d: dict[str, Any]) -> None:
        _leaf(d)["rule"] = {"kind": "magic"}

    def extra_indicator_key(d: dict[str, Any]) -> None:
        _leaf(d)["weight"] = 3

    def extra_rule_key(d: dict[str, Any]) -> None:
        _leaf(d)["rule"]["weights"] = 3

    def rule_and_children(d: dict[str, Any]) -> None:
        _leaf(d)["children"] = [dict(_leaf(d))]

    def neither(d: dict[str, Any]) -> None:
        del _leaf(d)["rule"]

    def missing_top(d: dict[str, Any]) -> None:
        del d["rounding"]

    def bad_mode(d: dict[str, Any]) -> None:
        d["rounding"]["mode"] = "banker"

    def places_too_many(d: dict[str, Any]) -> None:
        d["rounding"]["places"] = 7

    def unquoted_code(d: dict[str, Any]) -> None:
        _leaf(d)["code"] = 1.1

    def bad_display(d: dict[str, Any]) -> None:
        _leaf(d)["rule"] = {"kind": "rate", "formula": "a / b", "display": "ratio"}

    def empty_children(d: dict[str, Any]) -> None:
        d["indicators"][0]["children"] = []

    def year_out_of_range(d: dict[str, Any]) -> None:
        d["fiscal_years"] = [1980]

    def bool_points(d: dict[str, Any]) -> None:
        _leaf(d)["points"] = True

    return [(f.__name__, f) for f in (unknown_kind, extra_indicator_key, extra_rule_key, rule_and_children, neither,
                                      missing_top, bad_mode, places_too_many, unquoted_code, bad_display,
                                      empty_children, year_out_of_range, bool_points)]


@pytest.mark.parametrize(("name", "mutate"), _mutations(), ids=[n for n, _ in _mutations()])
def test_schema_and_loader_refuse_the_same_shapes(name: str, mutate: Any) -> None:
    """What the schema refuses, the loader refuses too (the schema promises no more and no less
    for the shape of a file)."""
    data = _base()
    mutate(data)
    assert list(VALIDATOR.iter_errors(data)), f"{name}: the schema accepts it"
    with pytest.raises(RulesetError):
        load_ruleset_text(json.dumps(data, ensure_ascii=False), builtin_registry().vocabulary, source="<mutated>")


def test_schema_accepts_what_only_the_loader_checks() -> None:
    """A semantic check (points add up) is the loader's: the schema accepts the file, the loader
    refuses it, and the schema's description says so."""
    data = _base()
    data["total_points"] = 99
    assert list(VALIDATOR.iter_errors(data)) == []
    with pytest.raises(RulesetError, match="total_points is 99"):
        load_ruleset_text(json.dumps(data, ensure_ascii=False), builtin_registry().vocabulary, source="<mutated>")
    assert "add up to total_points" in SCHEMA["description"]


def test_the_example_ruleset_uses_every_rule_kind_and_loads() -> None:
    """EXAMPLE is every schema's example: it must load with the real vocabulary (its facts exist)
    and show every rule kind."""
    from app.engine.fileformat import EXAMPLE, RULE_KINDS
    from app.engine.rules import Composite

    rs = load_ruleset_text(EXAMPLE, builtin_registry().vocabulary, source="<example>")
    kinds = set()
    for leaf in rs.leaves:
        assert leaf.rule is not None
        kinds.add(leaf.rule.kind)
        if isinstance(leaf.rule, Composite):
            kinds |= {p.rule.kind for p in leaf.rule.parts}
    assert kinds == set(RULE_KINDS)
    assert rs.spec is not None
    assert rs.spec.name == "example-district"


def test_every_definition_has_an_example_that_it_accepts() -> None:
    for name, sub in SCHEMA["$defs"].items():
        assert sub.get("examples"), f"{name} has no example"
        validator = jsonschema.Draft202012Validator({**sub, "$defs": SCHEMA["$defs"]})
        for example in sub["examples"]:
            assert [e.message for e in validator.iter_errors(example)] == [], name
    assert list(VALIDATOR.iter_errors(SCHEMA["examples"][0])) == []
