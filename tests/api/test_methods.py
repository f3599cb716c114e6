"""Finding 9 of issue 13 (part): OPTIONS and 405 answer the real Allow list of a path."""

from __future__ import annotations

import pytest


def _allow(response) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.strip() for m in response.headers["allow"].split(",")}


@pytest.mark.parametrize(("path", "methods"), [
    ("/v1/assessments", {"GET", "POST"}),  # two routes at one path: both
    ("/v1/units/00000000-0000-0000-0000-000000000000", {"GET", "PATCH"}),
    ("/v1/units/00000000-0000-0000-0000-000000000000/submissions/2023", {"GET", "PUT"}),
    ("/v1/assessments:batch", {"POST"}),
])
def test_finding_9_options_answers_204_with_every_method_of_the_path(anonymous, path, methods) -> None:  # type: ignore[no-untyped-def]
    r = anonymous.options(path)
    assert r.status_code == 204, r.text
    assert _allow(r) == methods | {"OPTIONS"}
    assert r.content == b""


def test_finding_9_a_405_lists_every_method_of_the_path(anonymous) -> None:  # type: ignore[no-untyped-def]
    r = anonymous.delete("/v1/assessments")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 405
    assert _allow(r) == {"GET", "POST", "OPTIONS"}


def test_options_on_an_unknown_path_is_still_404(anonymous) -> None:  # type: ignore[no-untyped-def]
    assert anonymous.options("/v1/nothing-here").status_code == 404


U = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(("path", "methods"), [
    # a custom method (":score", ":cancel" …) is a path of its own: the parameter before it does not
    # swallow it, so the sibling resource's methods are not listed (found by make fuzz, ST205)
    ("/v1/rulesets/shenzhen-yantian/2023:score", {"POST"}),
    (f"/v1/webhook-endpoints/{U}:rotate-secret", {"POST"}),
    (f"/v1/webhook-endpoints/{U}/deliveries/{U}:redeliver", {"POST"}),
    (f"/v1/jobs/{U}:cancel", {"POST"}),
])
def test_a_custom_method_path_lists_only_its_own_methods(anonymous, path, methods) -> None:  # type: ignore[no-untyped-def]
    r = anonymous.options(path)
    assert r.status_code == 204, r.text
    assert _allow(r) == methods | {"OPTIONS"}


def test_another_method_on_a_custom_method_path_is_405_not_the_siblings_answer(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/v1/webhook-endpoints/{U}/deliveries/{U}:redeliver")
    assert r.status_code == 405, r.text  # was 422: GET …/{delivery_id} with delivery_id "…:redeliver"
    assert _allow(r) == {"POST", "OPTIONS"}
    r = client.patch(f"/v1/webhook-endpoints/{U}:rotate-secret", json={})
    assert r.status_code == 405, r.text
    r = client.get("/v1/rulesets/shenzhen-yantian/2023:score")
    assert r.status_code == 405, r.text
