"""Typed factories for API test data."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.engine.yamlio import load_yaml

if TYPE_CHECKING:  # the benchmark imports the seeds from here, without the test client
    from fastapi.testclient import TestClient

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
_codes = itertools.count(1)

SEED_RULESETS = {
    "001": "shenzhen-yantian@2023",
    "002": "huizhou-huidong@2023",
    "003": "yiyang-ziyang@2023",
    "004": "shenzhen@2021",
}
SEED_TOTALS = {"001": ("93.97", "优"), "002": ("100", "优"), "003": ("88.5", "良"), "004": ("95.32", "优")}


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def seed(name: str) -> dict[str, Any]:
    data, _ = load_yaml(SEEDS / f"{name}.yaml")
    return jsonable(data)


def create_unit(client: TestClient, *, code: str | None = None, name: str = "测试单位", kind: str = "school",
                region: str = "广东省深圳市盐田区", parent_id: str | None = None) -> dict[str, Any]:
    body = {"code": code or f"U{next(_codes):06d}", "name": name, "kind": kind, "region": region}
    if parent_id:
        body["parent_id"] = parent_id
    r = client.post("/v1/units", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def put_submission(client: TestClient, unit_id: str, year: int, data: dict[str, Any],
                   if_match: str | None = None) -> Any:
    headers = {"If-Match": if_match} if if_match else {}
    body = {k: data.get(k, {}) for k in ("facts", "answers", "overrides")}
    return client.put(f"/v1/units/{unit_id}/submissions/{year}", json=body, headers=headers)


def seed_unit_with_submission(client: TestClient, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    data = seed(name)
    unit = create_unit(client, name=data["unit"]["name"], kind=data["unit"].get("kind", "school"),
                       region=data["unit"].get("region", "广东省"))
    r = put_submission(client, unit["id"], data["fiscal_year"], data)
    assert r.status_code == 201, r.text
    return unit, data


def assess(client: TestClient, unit_id: str, year: int, ruleset: str, kind: str = "self",
           evaluator: str = "测试", **extra: Any) -> Any:
    return client.post("/v1/assessments", json={"unit_id": unit_id, "fiscal_year": year, "ruleset": ruleset,
                                                 "kind": kind, "evaluator": evaluator, **extra})
