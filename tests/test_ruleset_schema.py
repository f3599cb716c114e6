"""The published JSON Schema accepts every built-in ruleset and rejects malformed ones."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from app.engine.project_format import is_project_ruleset_text, ruleset_json_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "rulesets" / "ruleset.schema.json").read_text(encoding="utf-8"))
PROJECT_SCHEMA_PATH = ROOT / "rulesets" / "project-ruleset.schema.json"
PROJECT_SCHEMA = json.loads(PROJECT_SCHEMA_PATH.read_text(encoding="utf-8"))
ALL_FILES = sorted((ROOT / "rulesets").glob("*/*.yaml"))
PROJECT_FILES = [p for p in ALL_FILES if is_project_ruleset_text(p.read_text(encoding="utf-8"))]
FILES = [p for p in ALL_FILES if p not in PROJECT_FILES]


def test_schema_is_a_valid_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}@{p.stem}")
def test_builtin_rulesets_match_the_schema(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [e.message for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(data)]
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
