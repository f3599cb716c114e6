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


def create_project(client: TestClient, unit_id: str, *, code: str | None = None, name: str = "测试项目",
                   years: list[int] | None = None) -> dict[str, Any]:
    body = {"code": code or f"P{next(_codes):06d}", "name": name, "department": "深圳市盐田区教育局",
            "implementer": "深圳市盐港中学", "fund_nature": "一般公共预算", "fiscal_years": years or [2023]}
    r = client.post(f"/v1/units/{unit_id}/projects", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def project_sheet(*rows: dict[str, Any], full_year_budget: str = "100", executed: str = "100",
                  **extra: Any) -> dict[str, Any]:
    """A 自评表: the funds block, 年度总体目标 and the rows given (defaults: one row per 一级, all met)."""
    if not rows:
        rows = (
            {"level1": "产出指标", "level2": "数量指标", "name": "培训人次", "nature": "gte", "target": "2000",
             "unit": "人次", "actual": "2000"},
            {"level1": "效益指标", "level2": "社会效益指标", "name": "安全事故发生率", "nature": "lte", "target": "1",
             "unit": "%", "actual": "0.5"},
            {"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "师生满意度", "nature": "gte", "target": "90",
             "unit": "%", "actual": "96"},
        )
    return {"funds": {"initial_budget": full_year_budget, "full_year_budget": full_year_budget, "executed": executed},
            "goals": {"expected": "完成年度培训与巡查", "actual": "已完成"}, "rows": list(rows), **extra}


def put_project_submission(client: TestClient, unit_id: str, project_id: str, year: int, sheet: dict[str, Any],
                           if_match: str | None = None) -> Any:
    headers = {"If-Match": if_match} if if_match else {}
    return client.put(f"/v1/units/{unit_id}/projects/{project_id}/submissions/{year}", json=sheet, headers=headers)
