"""Projects of a unit (项目支出): the resource, its versioned 自评表 submissions, tenancy and audit."""

from __future__ import annotations

from tests.api.factories import create_project, create_unit, project_sheet, put_project_submission


def test_create_get_list_patch_a_project(client):
    unit = create_unit(client)
    base = f"/v1/units/{unit['id']}/projects"
    body = {"code": "YT2023-017", "name": "校园安全管理服务项目", "department": "深圳市盐田区教育局",
            "implementer": "深圳市盐港中学", "fund_nature": "一般公共预算", "fiscal_years": [2024, 2023, 2023]}
    r = client.post(base, json=body)
    assert r.status_code == 201, r.text
    project = r.json()
    assert r.headers["location"] == f"{base}/{project['id']}"
    assert project["fiscal_years"] == [2023, 2024]
    assert project["unit_id"] == unit["id"]
    assert client.post(base, json=body).status_code == 409
    create_project(client, unit["id"], code="A-1", years=[2022])
    assert [p["code"] for p in client.get(base).json()["items"]] == ["A-1", "YT2023-017"]
    assert [p["code"] for p in client.get(base, params={"fiscal_year": 2023}).json()["items"]] == ["YT2023-017"]
    page = client.get(base, params={"limit": 1}).json()
    assert [p["code"] for p in client.get(base, params={"limit": 1, "cursor": page["next_cursor"]}).json()["items"]] \
        == ["YT2023-017"]
    assert client.get(f"{base}/{project['id']}").json()["name"] == "校园安全管理服务项目"
    patched = client.patch(f"{base}/{project['id']}", json={"implementer": "盐田区教育局", "fiscal_years": [2025]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["implementer"] == "盐田区教育局"
    assert patched.json()["fiscal_years"] == [2025]
    assert patched.json()["code"] == "YT2023-017"
    nulled = client.patch(f"{base}/{project['id']}", json={"name": None})
    assert nulled.status_code == 422
    assert nulled.json()["errors"][0]["pointer"] == "/name"
    assert client.patch(f"{base}/{project['id']}", json={"code": "X"}).status_code == 422
    # a project is reached through its own unit only
    other = create_unit(client)
    assert client.get(f"/v1/units/{other['id']}/projects/{project['id']}").status_code == 404
    assert client.get("/v1/units/00000000-0000-0000-0000-000000000001/projects").status_code == 404


def test_bad_projects_are_refused_with_their_fields(client):
    unit = create_unit(client)
    r = client.post(f"/v1/units/{unit['id']}/projects", json={
        "code": "含中文", "name": "", "department": "x", "implementer": "x", "fund_nature": "x", "fiscal_years": [1800]})
    assert r.status_code == 422
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert {"/code", "/name", "/fiscal_years/0"} <= pointers


def test_project_submissions_are_versioned_with_etags(client):
    unit = create_unit(client)
    project = create_project(client, unit["id"], years=[2023])
    url = f"/v1/units/{unit['id']}/projects/{project['id']}/submissions/2023"
    sheet = project_sheet()
    r = put_project_submission(client, unit["id"], project["id"], 2023, sheet)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    assert r.json()["content"]["funds"]["executed"] == "100"
    tag = r.headers["etag"]
    assert client.get(url).headers["etag"] == tag
    assert put_project_submission(client, unit["id"], project["id"], 2023, sheet).status_code == 428
    ok = put_project_submission(client, unit["id"], project["id"], 2023, project_sheet(executed="90"), if_match=tag)
    assert ok.status_code == 200, ok.text
    assert ok.json()["version"] == 2
    assert put_project_submission(client, unit["id"], project["id"], 2023, sheet, if_match=tag).status_code == 412
    assert [v["version"] for v in client.get(f"{url}/versions").json()["items"]] == [1, 2]
    assert client.get(f"{url}/versions/1").json()["content"]["funds"]["executed"] == "100"
    assert client.get(f"{url}/versions/3").status_code == 404
    # a year the project does not run, and a row that does not fit the format
    assert put_project_submission(client, unit["id"], project["id"], 2024, sheet).status_code == 404
    bad = project_sheet({"level1": "产出指标", "level2": "数量指标", "name": "培训人次", "nature": "gte",
                         "unit": "人次", "actual": "318,98"})
    r = put_project_submission(client, unit["id"], project["id"], 2023, bad, if_match=ok.headers["etag"])
    assert r.status_code == 422
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert "/rows/0/target" in pointers
    assert "/rows/0/actual" in pointers
    assert client.get(url).json()["version"] == 2


def test_project_changes_are_audited(client):
    unit = create_unit(client)
    project = create_project(client, unit["id"])
    assert put_project_submission(client, unit["id"], project["id"], 2023, project_sheet()).status_code == 201
    log = client.get("/v1/audit-log", params={"unit_id": unit["id"]}).json()["items"]
    kinds = {(e["resource_type"], e["method"]) for e in log}
    assert ("project", "POST") in kinds
    assert ("project_submission", "PUT") in kinds
    created = next(e for e in log if e["resource_type"] == "project")
    assert created["resource_id"] == project["id"]
