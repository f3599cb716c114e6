"""What the exact JSON body reading costs (app.api.deps.load_json) on a full 1,000-item batch.

``.venv/bin/python bench/json_body.py``: best of N runs of orjson alone, of the checks load_json
adds (the walk over the containers, compiled with the engine, and the count of ``:`` bytes), of
load_json as the routes call it, and of the exact re-parse a body takes when the checks cannot
clear it (a fraction, an integer beyond 64 bits, a ``:`` inside a string, a repeated key).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.api.deps import MAX_JSON_DEPTH, _load_exact, load_json  # noqa: E402
from app.engine.facts import json_shape  # noqa: E402
from tests.api.factories import seed  # noqa: E402


def best_ms(fn: Callable[[], Any], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main(runs: int = 40) -> None:
    data = seed("001")
    items = [{"unit": {"code": f"U{i:04d}", "name": "单位", "kind": "school", "region": "区"},
              "fiscal_year": data["fiscal_year"], "facts": data["facts"], "answers": data["answers"],
              "overrides": data.get("overrides", {}), "ruleset": "shenzhen-yantian@2023", "kind": "self",
              "evaluator": "本单位"} for i in range(1000)]
    raw = orjson.dumps({"items": items})
    doc = orjson.loads(raw)
    print(f"1,000-item batch body: {len(raw):,} bytes")
    print(f"orjson.loads           {best_ms(lambda: orjson.loads(raw), runs):7.2f} ms")
    print(f"walk (json_shape)      {best_ms(lambda: json_shape(doc, MAX_JSON_DEPTH), runs):7.2f} ms")
    print(f"count of ':'           {best_ms(lambda: raw.count(b':'), runs):7.2f} ms")
    print(f"load_json              {best_ms(lambda: load_json(raw), runs):7.2f} ms")
    print(f"exact re-parse         {best_ms(lambda: _load_exact(raw), max(3, runs // 8)):7.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
