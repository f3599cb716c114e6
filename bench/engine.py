"""Engine benchmark: unit-scorings per second on ONE core for each built-in ruleset.

    .venv/bin/python bench/engine.py [--seconds 2] [--inputs 2000] [--no-check] [--profile]

Random valid inputs (every fact a ruleset reads, a full answer at every answer
address) are generated up front and validated once with ``prepare()``; the
timed loop then calls ``score(ruleset, prepared)`` only. Rates including
``prepare()`` (validation) and ``to_dict()`` (the JSON shape) are reported too.

Project rulesets (``kind: project``, national-project@2020 and its local variant) are timed on
random 12-row 自评表 (产出 6, 效益 4, 满意度 2 rows; ≥, ≤, = and qualitative rows, targets met or
missed): ``score()`` is ``score_project(ruleset, submission)`` on a validated ProjectSubmission,
``+prepare`` adds ``ProjectSubmission.model_validate`` of the JSON-shaped table.

Exits 1 when shenzhen-yantian@2023 ``score()`` runs below 20,000/s, unless
``--no-check``. ``--profile`` prints a cProfile of ``score()`` restricted to
app/engine, to show where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine import builtin_registry  # noqa: E402
from app.engine.facts import FactDef, Vocabulary  # noqa: E402
from app.engine.project import ProjectRuleset, score_project, spread  # noqa: E402
from app.engine.project_format import ProjectSubmission  # noqa: E402
from app.engine.ruleset import Ruleset  # noqa: E402
from app.engine.scoring import Prepared, prepare, score, to_dict  # noqa: E402

CHECK_REF = "shenzhen-yantian@2023"
TARGET = 20_000


# --------------------------------------------------------------------------- inputs


def _cents(rng: random.Random, hi: int) -> Decimal:
    return Decimal(rng.randint(0, hi * 100)).scaleb(-2)


def random_fact(rng: random.Random, fact: FactDef) -> Any:
    if fact.unit == "boolean":
        return rng.random() < 0.5
    if fact.unit == "count":
        hi = int(fact.max) if fact.max is not None else 400
        return rng.choice((0, rng.randint(0, min(hi, 10)), rng.randint(0, hi)))
    if fact.unit == "percent":
        hi = int(fact.max) if fact.max is not None else 300
        # Mostly realistic rates, sometimes anywhere in the allowed range.
        value = _cents(rng, min(hi, 120)) if rng.random() < 0.8 else _cents(rng, hi)
        return f"{value}%"
    # wan_yuan
    r = rng.random()
    if r < 0.03:
        return "0"
    return str(_cents(rng, 50 if r < 0.2 else 200_000))


def random_answer(rng: random.Random, shape: str, points: Decimal) -> Any:
    shapes = set(shape.split("+"))
    if "judgment" in shapes:
        full = rng.random() < 0.6
        s = points if full else Decimal(rng.randint(0, int(points * 100))).scaleb(-2)
        return {"score": str(s), "reason": "依据材料酌情扣分" if s < points else "达到要求"}
    if "item" in shapes:
        return rng.random() < 0.8
    if "findings" in shapes:
        return {"findings": [f"问题{i}" for i in range(rng.choice((0, 0, 1, 2, 6)))]}
    if "events" in shapes:
        return {"count": rng.randint(0, 4)}
    return None  # "na" alone: let the condition decide


def random_input(rng: random.Random, rs: Ruleset, vocabulary: Vocabulary) -> tuple[dict[str, Any], dict[str, Any]]:
    facts = {k: random_fact(rng, vocabulary[k]) for k in sorted(rs.facts_used())}
    answers: dict[str, Any] = {}
    for addr, (shape, points) in sorted(rs.answer_shapes.items()):
        a = random_answer(rng, shape, points)
        if a is not None:
            answers[addr] = a
    return facts, answers


PROJECT_ROWS = 12
_LAYOUT = [(0, 6), (1, 4), (2, 2)]  # (一级 index, rows): 产出 6, 效益 4, 满意度 2


def random_project_table(rng: random.Random, rs: ProjectRuleset) -> dict[str, Any]:
    """A random 12-row 自评表 as a platform sends it (JSON-shaped, decimal strings)."""
    rows: list[dict[str, Any]] = []
    for level, n in _LAYOUT:
        l1 = rs.levels[level]
        for _ in range(n):
            l2 = rng.choice(l1.children)
            nature = rng.choice(("≥", "≥", "≤", "=", "定性"))
            row: dict[str, Any] = {"level1": l1.name, "level2": l2.name, "name": f"{l2.name}{len(rows) + 1}",
                                   "nature": nature, "deviation_reason": "进度滞后", "improvement": "加强督办"}
            if nature == "定性":
                row.update(target_text="效果明显", band="met", band_reason="达到预期")  # band_score: below
            else:
                target = Decimal(rng.randint(1, 5000))
                actual = target if rng.random() < 0.6 else Decimal(rng.randint(0, 10000))
                row.update(target=str(target), unit=rng.choice(("人次", "%", "万元", "天", "个")), actual=str(actual))
            rows.append(row)
    sub = {"funds": {"initial_budget": "100", "full_year_budget": "100", "executed": str(_cents(rng, 100))},
           "goals": {"expected": "完成年度目标", "actual": "基本完成"}, "rows": rows, "claimed_total": "95"}
    # A qualitative row's points are the 一级's even share: its band score is 80, 90 or 100% of it.
    i = 0
    for level, n in _LAYOUT:
        for share in spread(rs.levels[level].points, [Decimal(1)] * n, rs.quantum):
            if rows[i]["nature"] == "定性":
                pick = (share * Decimal(rng.choice((80, 90, 100))) / 100).quantize(Decimal("0.01"), ROUND_CEILING)
                rows[i]["band_score"] = str(min(pick, share))
            i += 1
    return sub


def measure_project(rs: ProjectRuleset, raw: list[dict[str, Any]], seconds: float,
                    other_seconds: float) -> tuple[float, float, float, float]:
    """As :func:`measure`, for a project ruleset."""
    subs = [ProjectSubmission.model_validate(r) for r in raw]
    n = len(subs)
    r_score, _ = rate(lambda i: score_project(rs, subs[i]), n, seconds)
    r_prep, _ = rate(lambda i: score_project(rs, ProjectSubmission.model_validate(raw[i])), n, other_seconds)
    r_dict, _ = rate(lambda i: score_project(rs, subs[i]).to_dict(), n, other_seconds)
    r_all, _ = rate(lambda i: score_project(rs, ProjectSubmission.model_validate(raw[i])).to_dict(), n, other_seconds)
    return r_score, r_prep, r_dict, r_all


# --------------------------------------------------------------------------- timing


def rate(fn: Callable[[int], object], n_inputs: int, seconds: float, repeats: int = 5) -> tuple[float, int]:
    """Calls of ``fn(i)`` per second, cycling i over the inputs, for about ``seconds`` in all.

    The time is split into ``repeats`` rounds and the best round is reported (as timeit does): other
    processes on the machine can only slow a round down, never speed it up.
    """
    for i in range(min(n_inputs, 200)):  # warm up
        fn(i)
    best = 0.0
    calls = 0
    i = 0
    chunk = 100
    for _ in range(repeats):
        gc.collect()
        round_calls = 0
        start = time.perf_counter()
        deadline = start + seconds / repeats
        while True:
            for _ in range(chunk):
                fn(i)
                i += 1
                if i == n_inputs:
                    i = 0
            round_calls += chunk
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, round_calls / (now - start))
        calls += round_calls
    return best, calls


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[0]})
        return f"pinned to CPU {cpus[0]} (of {len(cpus)})"
    return "not pinned (no sched_setaffinity); single thread"


def profile_score(rs: Ruleset, prepared: list[Prepared], calls: int, top: int) -> str:
    prof = cProfile.Profile()
    n = len(prepared)
    prof.enable()
    for i in range(calls):
        score(rs, prepared[i % n])
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats("app/engine", top)
    return out.getvalue()


def measure(
    rs: Ruleset,
    voc: Vocabulary,
    raw: list[tuple[dict[str, Any], dict[str, Any]]],
    prepared: list[Prepared],
    seconds: float,
    other_seconds: float,
) -> tuple[float, float, float, float]:
    """(score, prepare+score, score+to_dict, prepare+score+to_dict) calls per second."""
    n = len(prepared)
    r_score, _ = rate(lambda i: score(rs, prepared[i]), n, seconds)
    r_prep, _ = rate(lambda i: score(rs, prepare(rs, voc, raw[i][0], raw[i][1], {})), n, other_seconds)
    r_dict, _ = rate(lambda i: to_dict(score(rs, prepared[i]), voc), n, other_seconds)
    r_all, _ = rate(lambda i: to_dict(score(rs, prepare(rs, voc, raw[i][0], raw[i][1], {})), voc), n, other_seconds)
    return r_score, r_prep, r_dict, r_all


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds of score() per ruleset (default 2)")
    parser.add_argument("--other-seconds", type=float, default=1.0,
                        help="timed seconds for each of the prepare/to_dict variants (default 1)")
    parser.add_argument("--inputs", type=int, default=2000, help="random inputs per ruleset (default 2000)")
    parser.add_argument("--seed", type=int, default=20231231)
    parser.add_argument("--ruleset", action="append", help="only this NAME@VERSION (repeatable)")
    parser.add_argument("--no-check", action="store_true", help=f"do not fail when {CHECK_REF} is below {TARGET:,}/s")
    parser.add_argument("--profile", action="store_true", help=f"cProfile score() of {CHECK_REF} and print it")
    args = parser.parse_args(argv)

    pinned = pin_to_one_core()
    import app.engine.formula
    import app.engine.rules
    import app.engine.scoring

    compiled = [m.__name__.rsplit(".", 1)[1] for m in (app.engine.formula, app.engine.rules, app.engine.scoring)
                if not (m.__file__ or "").endswith(".py")]
    reg = builtin_registry()
    voc = reg.vocabulary
    refs = args.ruleset or [*reg.refs(), *(p.ref for p in reg.projects())]
    print(f"jixiao engine benchmark — Python {platform.python_version()} on {platform.machine()}, {pinned}")
    print(f"engine modules compiled (mypyc): {', '.join(compiled) or 'none — pure Python'}")
    print(f"{args.inputs:,} random valid inputs per ruleset (full answers), seed {args.seed}; "
          f"score() timed {args.seconds:g} s, variants {args.other_seconds:g} s each; best of 5 rounds\n")

    header = (f"{'ruleset':<24}{'leaves':>7}{'complete':>10}{'score()/s':>12}{'µs':>8}"
              f"{'+prepare/s':>12}{'+to_dict/s':>12}{'all three/s':>13}")
    print(header)
    print("-" * len(header))
    results: dict[str, float] = {}
    for ref in refs:
        prs = reg.project(ref)
        if prs is not None:
            rng = random.Random(f"{args.seed}:{ref}")
            tables = [random_project_table(rng, prs) for _ in range(args.inputs)]
            statuses = Counter(score_project(prs, t).status for t in tables)
            r_score, r_prep, r_dict, r_all = measure_project(prs, tables, args.seconds, args.other_seconds)
            results[ref] = r_score
            complete = f"{100 * statuses['complete'] / len(tables):.0f}%"
            print(f"{ref:<24}{PROJECT_ROWS:>7}{complete:>10}{r_score:>12,.0f}{1e6 / r_score:>8.1f}"
                  f"{r_prep:>12,.0f}{r_dict:>12,.0f}{r_all:>13,.0f}")
            continue
        rs = reg.get(ref)
        if rs is None:
            print(f"unknown ruleset {ref}", file=sys.stderr)
            return 2
        rng = random.Random(f"{args.seed}:{ref}")
        raw = [random_input(rng, rs, voc) for _ in range(args.inputs)]
        prepared = [prepare(rs, voc, f, a, {}) for f, a in raw]  # outside the timed loop
        statuses = Counter(score(rs, p).status for p in prepared)
        n = len(prepared)
        r_score, r_prep, r_dict, r_all = measure(rs, voc, raw, prepared, args.seconds, args.other_seconds)
        results[ref] = r_score
        complete = f"{100 * statuses['complete'] / n:.0f}%"
        print(f"{ref:<24}{len(rs.leaves):>7}{complete:>10}{r_score:>12,.0f}{1e6 / r_score:>8.1f}"
              f"{r_prep:>12,.0f}{r_dict:>12,.0f}{r_all:>13,.0f}")

    print()
    print("score()/s: score(ruleset, prepared) only; +prepare/s: prepare() + score(); "
          "+to_dict/s: score() + to_dict(); all three/s: prepare() + score() + to_dict().")
    print(f"project rulesets: leaves = rows of a random {PROJECT_ROWS}-row 自评表; score() = score_project() on a "
          "validated ProjectSubmission, prepare() = ProjectSubmission.model_validate().")

    if args.profile:
        rs = reg.get(CHECK_REF)
        assert rs is not None
        rng = random.Random(f"{args.seed}:{CHECK_REF}")
        prepared = [prepare(rs, voc, *random_input(rng, rs, voc), {}) for _ in range(500)]
        print(f"\ncProfile of score() on {CHECK_REF}, 5,000 calls:\n")
        print(profile_score(rs, prepared, 5000, 25))

    status = 0
    if CHECK_REF in results:
        got = results[CHECK_REF]
        verdict = "meets" if got >= TARGET else "BELOW"
        print(f"\n{CHECK_REF}: {got:,.0f} score()/s {verdict} the target of {TARGET:,}/s")
        if got < TARGET and not args.no_check:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
