"""Scoring a unit leaves no reference cycles: everything it allocates is freed by reference
counting the moment the result is dropped, so batches and job chunks pause the cyclic collector
(app.assessments.workers.paused_gc) without leaving it garbage to find afterwards. A recursive
closure in the result tree once kept ~130 objects a unit alive until a collection (about 8% of a
job worker's time); this test fails if such a cycle comes back."""

from __future__ import annotations

import gc

import pytest

from app.assessments import workers
from app.engine import builtin_registry
from tests.api.factories import seed

# seed file (tests/fixtures/seeds) → the ruleset it is scored under (as in test_golden)
SEEDS = {"001": "shenzhen-yantian@2023", "002": "huizhou-huidong@2023", "003": "yiyang-ziyang@2023",
         "004": "shenzhen@2021"}


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_scoring_a_seed_leaves_no_cyclic_garbage(name: str) -> None:
    data = seed(name)
    rs = builtin_registry().get(SEEDS[name])
    assert rs is not None
    jobs: list[workers.Job] = [(data.get("answers", {}), data.get("overrides", {}), data.get("facts", {}), False)]
    workers.score_jobs(rs.ref, rs.content_hash, rs.text, jobs)  # loading (YAML, caches) is not scoring
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds is kept in gc.garbage, not freed
    try:
        for _ in range(3):
            outcome = workers.score_jobs(rs.ref, rs.content_hash, rs.text, jobs)
            assert outcome[0][0] == "ok", outcome  # scored in full, so the whole path ran
            del outcome
        gc.collect()
        kinds = sorted({type(o).__name__ for o in gc.garbage})
        assert gc.garbage == [], f"{len(gc.garbage)} objects in reference cycles: {kinds}"
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
