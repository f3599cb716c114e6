from __future__ import annotations

import pytest

from tests.api.factories import SEED_RULESETS, SEED_TOTALS, assess, seed_unit_with_submission


@pytest.mark.parametrize("name", sorted(SEED_RULESETS))
def test_seed_scored_over_http_matches_offline(client, name):
    unit, data = seed_unit_with_submission(client, name)
    r = assess(client, unit["id"], data["fiscal_year"], SEED_RULESETS[name], kind=data.get("kind", "self"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["total"], body["grade"], body["status"]) == (*SEED_TOTALS[name], "complete")
    assert r.headers["location"] == f"/v1/assessments/{body['id']}"
    got = client.get(r.headers["location"])
    assert got.status_code == 200
    assert got.json()["total"] == SEED_TOTALS[name][0]
