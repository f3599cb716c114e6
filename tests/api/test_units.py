from __future__ import annotations

from tests.api.factories import create_unit


def test_create_get_update_unit(client):
    bureau = create_unit(client, code="BUREAU01", name="某区教育局", kind="bureau")
    school = create_unit(client, code="SCHOOL01", name="某中学", parent_id=bureau["id"])
    assert school["parent_id"] == bureau["id"]
    got = client.get(f"/v1/units/{school['id']}")
    assert got.status_code == 200
    assert got.json()["name"] == "某中学"
    r = client.patch(f"/v1/units/{school['id']}", json={"name": "某实验中学"})
    assert r.status_code == 200
    assert r.json()["name"] == "某实验中学"
    assert r.json()["code"] == "SCHOOL01"


def test_duplicate_code_is_409_naming_the_field(client):
    create_unit(client, code="DUP001")
    r = client.post("/v1/units", json={"code": "DUP001", "name": "x", "kind": "school", "region": "r"})
    assert r.status_code == 409
    assert r.json()["errors"][0]["pointer"] == "/code"


def test_parent_cycle_and_unknown_parent_are_refused(client):
    a = create_unit(client)
    b = create_unit(client, parent_id=a["id"])
    r = client.patch(f"/v1/units/{a['id']}", json={"parent_id": b["id"]})
    assert r.status_code == 422
    r = client.post("/v1/units", json={"code": "X1", "name": "x", "kind": "school", "region": "r",
                                       "parent_id": "00000000-0000-0000-0000-000000000001"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/parent_id"


def test_unknown_unit_is_404(client):
    r = client.get("/v1/units/00000000-0000-0000-0000-000000000001")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_list_filters_and_cursor_pagination(client):
    bureau = create_unit(client, code="B-ROOT", kind="bureau", region="北区")
    for i in range(7):
        create_unit(client, code=f"S-{i:02d}", region="北区", parent_id=bureau["id"])
    create_unit(client, code="S-OTHER", region="南区")
    seen = []
    cursor = None
    while True:
        params = {"parent_id": bureau["id"], "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/units", params=params).json()
        seen += [u["code"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"S-{i:02d}" for i in range(7)]
    south = client.get("/v1/units", params={"region": "南区"}).json()["items"]
    assert [u["code"] for u in south] == ["S-OTHER"]
    assert client.get("/v1/units", params={"cursor": "garbage!!"}).status_code == 400
