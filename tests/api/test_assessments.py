from __future__ import annotations

import copy

from sqlalchemy import func, select

from app.db.models import Assessment, Submission, Unit
from tests.api.factories import assess, create_unit, put_submission, seed, seed_unit_with_submission


def _count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_assessment_pins_ruleset_and_explains_lost_points(client):
    unit, data = seed_unit_with_submission(client, "001")
    r = assess(client, unit["id"], 2023, "shenzhen-yantian")  # NAME picks the version covering 2023
    body = r.json()
    assert body["ruleset"]["ref"] == "shenzhen-yantian@2023"
    assert body["ruleset"]["content_hash"].startswith("sha256:")
    b = client.get(f"/v1/assessments/{body['id']}/breakdown", params={"view": "flat", "lost_points": True}).json()
    lost = {i["code"]: i for i in b["items"] if i["level"] == 3}
    assert lost["2.1.1"]["score"] == "1.97"
    assert any("扣0.03分" in d["reason"] for d in lost["2.1.1"]["deductions"])
    assert lost["2.4.2"]["score"] == "0"
    assert "3.2.1" not in lost  # no points lost there
    tree = client.get(f"/v1/assessments/{body['id']}/breakdown").json()["items"]
    assert [n["score"] for n in tree] == ["20", "18.97", "55"]
    level1 = client.get(f"/v1/assessments/{body['id']}/breakdown", params={"view": "flat", "level": 1}).json()["items"]
    assert [n["code"] for n in level1] == ["1", "2", "3"]


def test_unknown_ruleset_404_and_uncovered_year_422(client, db_engine):
    unit, _ = seed_unit_with_submission(client, "001")
    r = assess(client, unit["id"], 2023, "nowhere@2023")
    assert r.status_code == 404
    assert "shenzhen-yantian@2023" in r.json()["detail"]
    assert r.json()["available"]
    r = assess(client, unit["id"], 2023, "shenzhen")  # covers 2021 only
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/fiscal_year"
    r = assess(client, unit["id"], 2023, "shenzhen@2021")
    assert r.status_code == 422
    assert _count(db_engine, Assessment) == 0


def test_missing_facts_make_an_incomplete_assessment_or_422_when_strict(client, db_engine):
    unit = create_unit(client)
    data = seed("001")
    del data["facts"]["procurement_actual"]
    put_submission(client, unit["id"], 2023, data)
    strict = assess(client, unit["id"], 2023, "shenzhen-yantian@2023", strict=True)
    assert strict.status_code == 422
    assert {"pointer": "/facts/procurement_actual", "message": strict.json()["errors"][0]["message"]} in strict.json()["errors"]
    assert _count(db_engine, Assessment) == 0
    r = assess(client, unit["id"], 2023, "shenzhen-yantian@2023")
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "incomplete"
    assert body["grade"] is None
    assert body["missing_facts"] == ["procurement_actual"]
    item = next(i for i in client.get(f"/v1/assessments/{body['id']}/breakdown",
                                      params={"view": "flat", "status": "missing_facts", "level": 3}).json()["items"])
    assert item["code"] == "2.1.1"
    assert item["score"] is None
    assert item["missing_facts"] == ["procurement_actual"]


def test_assessments_are_immutable_and_rescoring_makes_a_new_one(client):
    unit, data = seed_unit_with_submission(client, "001")
    first = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    tag = client.get(f"/v1/units/{unit['id']}/submissions/2023").headers["etag"]
    changed = copy.deepcopy(data)
    changed["facts"]["staff_outside_establishment"] = 5  # 5/180 < 5% → 1 point
    assert put_submission(client, unit["id"], 2023, changed, if_match=tag).status_code == 200
    second = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    assert second["id"] != first["id"]
    assert second["submission_version"] == 2
    assert second["total"] == "94.97"
    again = client.get(f"/v1/assessments/{first['id']}").json()
    assert again["total"] == "93.97"
    assert again["submission_version"] == 1
    assert client.put(f"/v1/assessments/{first['id']}", json={}).status_code == 405
    assert client.delete(f"/v1/assessments/{first['id']}").status_code == 405


def test_list_filters_and_pagination(client):
    unit, _ = seed_unit_with_submission(client, "001")
    ids = [assess(client, unit["id"], 2023, "shenzhen-yantian@2023", kind=k).json()["id"]
           for k in ("self", "third_party", "self")]
    page1 = client.get("/v1/assessments", params={"unit_id": unit["id"], "limit": 2}).json()
    page2 = client.get("/v1/assessments", params={"unit_id": unit["id"], "limit": 2, "cursor": page1["next_cursor"]}).json()
    assert [i["id"] for i in page1["items"] + page2["items"]] == ids[::-1]
    assert page2["next_cursor"] is None
    third = client.get("/v1/assessments", params={"kind": "third_party"}).json()["items"]
    assert [i["id"] for i in third] == [ids[1]]
    assert client.get("/v1/assessments", params={"grade": "优", "fiscal_year": 2023}).json()["items"]
    assert not client.get("/v1/assessments", params={"grade": "差"}).json()["items"]
    assert "indicators" not in page1["items"][0]


def test_comparison_lists_differing_indicators_first(client):
    unit, data = seed_unit_with_submission(client, "001")
    self_eval = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    tag = client.get(f"/v1/units/{unit['id']}/submissions/2023").headers["etag"]
    third = copy.deepcopy(data)
    third["answers"]["3.3.1"] = {"score": "20", "reason": "第三方：部分绩效目标未实现"}
    put_submission(client, unit["id"], 2023, third, if_match=tag)
    firm = assess(client, unit["id"], 2023, "shenzhen-yantian@2023", kind="third_party", evaluator="某会计师事务所").json()
    r = client.get(f"/v1/assessments/{self_eval['id']}/comparison/{firm['id']}")
    assert r.status_code == 200
    body = r.json()
    assert body["total_difference"] == "-2"
    assert body["same_ruleset"] is True
    assert body["differing"] == 3  # 3.3.1 and its parents 3.3 and 3, nothing else
    assert [d["code"] for d in body["indicators"][:1]] in (["3"], ["3.3"], ["3.3.1"])
    assert all(d["difference"] == "-2" for d in body["indicators"][:3])
    assert body["indicators"][3]["difference"] == "0"

    other_unit, _ = seed_unit_with_submission(client, "001")
    other = assess(client, other_unit["id"], 2023, "shenzhen-yantian@2023").json()
    assert client.get(f"/v1/assessments/{self_eval['id']}/comparison/{other['id']}").status_code == 422


def test_cohort_statistics_and_ranking(client):
    bureau = create_unit(client, kind="bureau")
    data = seed("001")
    totals = []
    for reduce in (0, 2, 5):
        unit = create_unit(client, parent_id=bureau["id"])
        d = copy.deepcopy(data)
        d["answers"]["3.3.1"] = {"score": str(22 - reduce), "reason": "差异"}
        put_submission(client, unit["id"], 2023, d)
        totals.append(assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()["total"])
    r = client.get("/v1/cohorts", params={"ruleset": "shenzhen-yantian", "fiscal_year": 2023,
                                          "parent_id": bureau["id"]})
    body = r.json()
    assert body["count"] == 3
    assert body["maximum"] == "93.97"
    assert body["minimum"] == "88.97"
    assert body["mean"] == "91.64"
    assert body["grades"] == {"优": 2, "良": 1}
    assert [m["total"] for m in body["ranking"]] == ["93.97", "91.97", "88.97"]
    assert [m["rank"] for m in body["ranking"]] == [1, 2, 3]


def test_cohort_relative_rule_takes_its_mean_from_the_cohort(client):
    data = seed("002")
    facts_common = {"fixed_assets_total": "100"}
    for in_use in ("80", "90"):
        u = create_unit(client, region="惠州市惠东县")
        d = {"facts": {**facts_common, "fixed_assets_in_use": in_use}, "answers": {}, "overrides": {}}
        put_submission(client, u["id"], 2023, d)
        assert assess(client, u["id"], 2023, "huizhou-huidong@2023").status_code == 201
    unit = create_unit(client, region="惠州市惠东县")
    d = copy.deepcopy(data)
    d["overrides"].pop("2.3.5", None)
    d["facts"].update({"fixed_assets_total": "100", "fixed_assets_in_use": "86"})
    d["facts"].pop("fixed_asset_utilization_cohort_mean", None)
    put_submission(client, unit["id"], 2023, d)
    body = assess(client, unit["id"], 2023, "huizhou-huidong@2023").json()
    assert any(w["code"] == "cohort_mean" and "85%" in w["message"] for w in body["warnings"])
    node = next(i for i in client.get(f"/v1/assessments/{body['id']}/breakdown", params={"view": "flat"}).json()["items"]
                if i["code"] == "2.3.5")
    assert node["score"] == "2"


def test_idempotent_retry_returns_the_first_response(client, db_engine):
    unit, _ = seed_unit_with_submission(client, "001")
    body = {"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "self",
            "evaluator": "x"}
    first = client.post("/v1/assessments", json=body, headers={"Idempotency-Key": "k-1"})
    retry = client.post("/v1/assessments", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert _count(db_engine, Assessment) == 1
    other = client.post("/v1/assessments", json={**body, "evaluator": "y"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert _count(db_engine, Assessment) == 1
    u1 = client.post("/v1/units", json={"code": "IDEM1", "name": "n", "kind": "k", "region": "r"},
                     headers={"Idempotency-Key": "unit-1"})
    u2 = client.post("/v1/units", json={"code": "IDEM1", "name": "n", "kind": "k", "region": "r"},
                     headers={"Idempotency-Key": "unit-1"})
    assert u1.status_code == u2.status_code == 201
    assert u1.json()["id"] == u2.json()["id"]


def test_concurrent_requests_with_one_idempotency_key_create_one_assessment(client, db_engine):
    from concurrent.futures import ThreadPoolExecutor

    unit, _ = seed_unit_with_submission(client, "001")
    body = {"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "self",
            "evaluator": "x"}
    for round_ in range(3):
        key = f"race-{round_}"
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda k: client.post("/v1/assessments", json=body,
                                                          headers={"Idempotency-Key": k}), [key] * 4))
        statuses = sorted(a.status_code for a in answers)
        assert set(statuses) <= {201, 409}, statuses
        created = {a.json()["id"] for a in answers if a.status_code == 201}
        assert len(created) == 1  # replays answer the same assessment
        assert _count(db_engine, Assessment) == round_ + 1


def test_a_failed_request_releases_its_idempotency_key(client, db_engine, monkeypatch):
    from app.assessments import service

    unit, _ = seed_unit_with_submission(client, "001")
    body = {"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "self",
            "evaluator": "x"}
    real = service.create

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "create", broken)
    failed = client.post("/v1/assessments", json=body, headers={"Idempotency-Key": "retry-me"})
    assert failed.status_code == 500
    monkeypatch.setattr(service, "create", real)
    retried = client.post("/v1/assessments", json=body, headers={"Idempotency-Key": "retry-me"})
    assert retried.status_code == 201  # the 500 was not stored: the retry runs
    assert "idempotent-replayed" not in retried.headers
    assert _count(db_engine, Assessment) == 1


def test_batch_of_1000_answers_per_item_and_stores_only_the_good(client, db_engine):
    data = seed("001")
    items = []
    for i in range(1000):
        item = {"unit": {"code": f"BATCH{i:04d}", "name": f"单位{i}", "kind": "school", "region": "批量区"},
                "fiscal_year": 2023, "facts": data["facts"], "answers": data["answers"],
                "overrides": data.get("overrides", {}), "ruleset": "shenzhen-yantian@2023", "kind": "self",
                "evaluator": "batch"}
        if i == 10:
            item = {**item, "facts": {**data["facts"], "procurement_actual": "-1"}}
        if i == 20:
            item = {**item, "ruleset": "nowhere@1"}
        if i == 30:
            item = {**item, "unit": {"code": "bad code", "name": "", "kind": "x", "region": "r"}}
        items.append(item)
    r = client.post("/v1/assessments:batch", json={"items": items})
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    # The answer is written without a model round trip: it must still be exactly BatchResult's JSON.
    from app.assessments.schemas import BatchResult

    assert BatchResult.model_validate(body).model_dump(mode="json") == body
    assert body["succeeded"] == 997
    assert body["failed"] == 3
    res = body["items"]
    assert res[0]["status"] == 201
    assert res[0]["total"] == "93.97"
    assert res[10]["status"] == 422
    assert res[10]["problem"]["errors"][0]["pointer"] == "/items/10/facts/procurement_actual"
    assert res[20]["status"] == 404
    assert res[30]["status"] == 422
    assert res[30]["problem"]["errors"][0]["pointer"].startswith("/items/30/unit")
    assert _count(db_engine, Unit) == 997
    assert _count(db_engine, Submission) == 997
    assert _count(db_engine, Assessment) == 997
    one = client.get(res[999]["location"]).json()
    assert one["total"] == "93.97"


def test_batch_stores_what_single_calls_store(client):
    """A batch item's unit, submission and assessment (written with binary COPY) read back exactly
    as the same data written through the single-item routes."""
    from tests.api.factories import SEED_RULESETS, SEED_TOTALS

    data = {**seed("003"), "ruleset": SEED_RULESETS["003"]}
    answers = {**data.get("answers", {})}
    facts = {**data["facts"]}
    doc = {k: data.get(k, {}) for k in ("facts", "answers", "overrides")}
    single_unit = client.post("/v1/units", json={"code": "SINGLE1", "name": "单位", "kind": "school",
                                                 "region": "惠东县"}).json()
    put = client.put(f"/v1/units/{single_unit['id']}/submissions/{data['fiscal_year']}", json=doc)
    assert put.status_code == 201, put.text[:300]
    single = client.post("/v1/assessments", json={"unit_id": single_unit["id"], "fiscal_year": data["fiscal_year"],
                                                  "ruleset": data["ruleset"], "kind": "self", "evaluator": "e"})
    assert single.status_code == 201, single.text[:300]
    item = {"unit": {"code": "BATCHED1", "name": "单位", "kind": "school", "region": "惠东县"},
            "fiscal_year": data["fiscal_year"], "facts": facts, "answers": answers,
            "overrides": data.get("overrides", {}), "ruleset": data["ruleset"], "kind": "self", "evaluator": "e"}
    r = client.post("/v1/assessments:batch", json={"items": [item]})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["succeeded"] == 1, r.text[:300]
    done = r.json()["items"][0]
    unit = client.get(f"/v1/units/{done['unit_id']}").json()
    for key in ("name", "kind", "region", "parent_id"):
        assert unit[key] == single_unit[key]
    sub = client.get(f"/v1/units/{done['unit_id']}/submissions/{data['fiscal_year']}").json()
    for key in ("facts", "answers", "overrides", "content_hash", "version"):
        assert sub[key] == put.json()[key], key
    batched = client.get(done["location"]).json()
    first = single.json()
    assert batched["total"] == first["total"] == done["total"] == SEED_TOTALS["003"][0]
    for view in ("tree", "flat"):
        assert client.get(single.headers["Location"] + f"/breakdown?view={view}").json()["items"] \
            == client.get(done["location"] + f"/breakdown?view={view}").json()["items"]
    assert client.get(done["location"] + "/breakdown").json()["items"] == first["indicators"]
    summary = {k: v for k, v in batched.items() if k not in {"id", "unit_id", "created_at"}}
    assert summary == {k: v for k, v in client.get(single.headers["Location"]).json().items()
                       if k not in {"id", "unit_id", "created_at"}}


def test_batch_over_the_limit_is_refused_whole(client, db_engine):
    r = client.post("/v1/assessments:batch", json={"items": [{}] * 1001})
    assert r.status_code == 422
    assert _count(db_engine, Assessment) == 0
