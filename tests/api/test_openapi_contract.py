"""The OpenAPI document as a contract: every schema carries an example that is valid against it
(unknown fields refused), every error is documented as application/problem+json (as the service
answers it), and the self-contained examples are real: sent to the service, they are accepted."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
DOC = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = DOC["components"]["schemas"]


def _closed(node: Any) -> Any:
    """The schema with every object that lists its properties closed to others (examples may not
    carry a field the model does not have)."""
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


CLOSED = _closed(SCHEMAS)


def _validator(name: str) -> Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": CLOSED}}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_has_a_valid_example(name: str) -> None:
    examples = SCHEMAS[name].get("examples")
    assert examples, f"schema {name} has no example"
    for example in examples:
        errors = sorted(_validator(name).iter_errors(example), key=lambda e: list(e.absolute_path))
        assert not errors, f"{name} example: " + "; ".join(
            f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])


def test_the_example_check_refuses_a_wrong_example() -> None:
    """The check above can fail: a field the model lacks, a wrong type, a missing required field."""
    unit = copy.deepcopy(SCHEMAS["UnitOut"]["examples"][0])
    assert not list(_validator("UnitOut").iter_errors(unit))
    assert list(_validator("UnitOut").iter_errors({**unit, "colour": "red"}))
    assert list(_validator("UnitOut").iter_errors({**unit, "id": "not-a-uuid"}))
    del unit["code"]
    assert list(_validator("UnitOut").iter_errors(unit))


def test_errors_are_documented_as_problem_json_only() -> None:
    assert "HTTPValidationError" not in SCHEMAS
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert list(response.get("content", {})) == ["application/problem+json"], (method, path, code)
                    assert response["content"]["application/problem+json"]["schema"] == {
                        "$ref": "#/components/schemas/ProblemDetail"}


def test_the_service_answers_a_parameter_error_as_the_document_says(client) -> None:  # type: ignore[no-untyped-def]
    """A 422 for a malformed path parameter (documented on operations FastAPI alone would
    describe as HTTPValidationError JSON) is problem+json naming the parameter."""
    r = client.get("/v1/units/not-a-uuid")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(e.get("parameter") == "unit_id" for e in r.json()["errors"])


def test_the_batch_example_is_a_real_request_with_the_documented_answer(client) -> None:  # type: ignore[no-untyped-def]
    request = SCHEMAS["BatchRequest"]["examples"][0]
    documented = SCHEMAS["BatchResult"]["examples"][0]["items"][0]
    r = client.post("/v1/assessments:batch", json=request)
    assert r.status_code == 200, r.text[:300]
    got = r.json()["items"][0]
    assert got["status"] == documented["status"] == 201
    assert (got["total"], got["grade"], got["assessment_status"]) == (
        documented["total"], documented["grade"], documented["assessment_status"])
    unit = client.get(f"/v1/units/{got['unit_id']}").json()
    assert unit["code"] == request["items"][0]["unit"]["code"]


def test_the_request_examples_are_accepted(client) -> None:  # type: ignore[no-untyped-def]
    unit = client.post("/v1/units", json=SCHEMAS["UnitCreate"]["examples"][0])
    assert unit.status_code == 201, unit.text[:300]
    uid = unit.json()["id"]
    submission = SCHEMAS["SubmissionIn"]["examples"][0]
    assert client.put(f"/v1/units/{uid}/submissions/2023", json=submission).status_code == 201
    update = {k: v for k, v in SCHEMAS["UnitUpdate"]["examples"][0].items() if k != "parent_id"}
    assert client.patch(f"/v1/units/{uid}", json=update).status_code == 200
    create = {**SCHEMAS["AssessmentCreate"]["examples"][0], "unit_id": uid}
    assessed = client.post("/v1/assessments", json=create)
    assert assessed.status_code == 201, assessed.text[:300]
    assert client.post("/v1/keys", json=SCHEMAS["KeyCreate"]["examples"][0]).status_code == 201


def test_the_project_examples_are_real_requests_with_the_documented_answers(client) -> None:  # type: ignore[no-untyped-def]
    """The project resource, its 自评表 and the project batch, sent as the document shows them."""
    unit = client.post("/v1/units", json=SCHEMAS["UnitCreate"]["examples"][0]).json()
    project = client.post(f"/v1/units/{unit['id']}/projects", json=SCHEMAS["ProjectCreate"]["examples"][0])
    assert project.status_code == 201, project.text[:300]
    pid = project.json()["id"]
    sheet = SCHEMAS["ProjectSubmissionIn"]["examples"][0]
    put = client.put(f"/v1/units/{unit['id']}/projects/{pid}/submissions/2023", json=sheet)
    assert put.status_code == 201, put.text[:300]
    assert put.json()["content"] == SCHEMAS["ProjectSubmissionOut"]["examples"][0]["content"]
    assert client.patch(f"/v1/units/{unit['id']}/projects/{pid}",
                        json=SCHEMAS["ProjectUpdate"]["examples"][0]).status_code == 200
    request = SCHEMAS["ProjectBatchRequest"]["examples"][0]
    documented = SCHEMAS["ProjectBatchResult"]["examples"][0]["items"][0]
    r = client.post(f"/v1/units/{unit['id']}/projects:batch", json=request)
    assert r.status_code == 200, r.text[:300]
    got = r.json()["items"][0]
    assert got["status"] == documented["status"] == 201, got["problem"]
    assert got["project_id"] == pid  # found by its code
    assert (got["total"], got["assessment_status"]) == (documented["total"], documented["assessment_status"])


def test_the_submission_schema_is_documented_as_the_json_schema_it_is() -> None:
    """Found by make fuzz: sent as application/schema+json, it was documented as a string."""
    op = DOC["paths"]["/v1/rulesets/{name}/{version}/submission.schema.json"]["get"]
    assert op["responses"]["200"]["content"] == {
        "application/schema+json": {"schema": {"$ref": "#/components/schemas/SubmissionSchema"}}}
