"""The published JSON Schema accepts every built-in ruleset and rejects malformed ones."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "rulesets" / "ruleset.schema.json").read_text(encoding="utf-8"))
FILES = sorted((ROOT / "rulesets").glob("*/*.yaml"))


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
