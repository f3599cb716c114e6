"""Scoring for batches in worker processes.

A 1,000-unit batch spends about half of its Python time in the engine (prepare, score and the
JSON breakdown). Under one process's GIL that half cannot use the machine's other cores, so
batches hand it to a small pool of worker processes, chunk by chunk, while the request's own
thread validates the next items and COPYs the finished chunks into PostgreSQL.

The workers are pure: no database, no framework. They receive a ruleset by content hash (and
its text, compiled once per worker and cached), parsed facts, answers and overrides, and send
back the breakdown already serialised as JSON text. ``JIXIAO_BATCH_PROCESSES=0`` scores in the
request thread instead; a broken pool falls back to that too.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import orjson

from app.engine.errors import InvalidInput
from app.engine.ruleset import Ruleset, load_ruleset_text
from app.engine.scoring import INCOMPLETE, prepare, score, to_dict

log = logging.getLogger("jixiao.batch")

#: (answers, overrides, parsed facts, strict) of one item
Job = tuple[dict[str, Any], dict[str, Any], dict[str, Any], bool]
#: see :func:`_score`
Outcome = tuple[Any, ...]

_pools: dict[str, ProcessPoolExecutor] = {}
_pool_lock = threading.Lock()
_compiled: dict[str, Ruleset] = {}


def _ruleset(ref: str, content_hash: str, text: str) -> Ruleset:
    rs = _compiled.get(content_hash)
    if rs is None:
        from app.engine import builtin_registry

        builtin = builtin_registry().get(ref)
        if builtin is not None and builtin.content_hash == content_hash:
            rs = builtin
        else:
            rs = load_ruleset_text(text, builtin_registry().vocabulary, source="registered ruleset")
        _compiled[content_hash] = rs
    return rs


def _score(rs: Ruleset, facts: dict[str, Any] | None, parsed: dict[str, Any] | None, answers: dict[str, Any],
           overrides: dict[str, Any], extra_facts: dict[str, Any], extra_warnings: list[dict[str, str]],
           strict: bool) -> Outcome:
    """One unit scored: ("ok", breakdown JSON, status, total, grade) | ("invalid", [(pointer, message)]) |
    ("strict", missing facts, missing answers)."""
    from app.engine import builtin_registry

    vocab = builtin_registry().vocabulary
    try:
        prepared = prepare(rs, vocab, facts, answers, overrides, parsed_facts=parsed)
    except InvalidInput as exc:
        return ("invalid", [(p.pointer, p.message) for p in exc.problems])
    prepared.facts.update(extra_facts)
    prepared.warnings.extend(extra_warnings)
    assessment = score(rs, prepared)
    if strict and assessment.status == INCOMPLETE:
        return ("strict", list(assessment.missing_facts), list(assessment.missing_answers))
    result = to_dict(assessment, vocab)
    return ("ok", orjson.dumps(result), result["status"], result["total"], result["grade"])


def score_jobs(ref: str, content_hash: str, text: str, jobs: list[Job]) -> list[Outcome]:
    """Score a chunk of batch items under one ruleset (runs in a worker process, or inline)."""
    rs = _ruleset(ref, content_hash, text)
    return [_score(rs, None, parsed, answers, overrides, {}, [], strict) for answers, overrides, parsed, strict in jobs]


def _init(parent: int) -> None:
    """Worker start: load the built-in rulesets, and exit when the service process is gone
    (even killed), so no orphaned worker outlives it."""
    import os
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    _warm()


def _warm() -> None:
    from app.engine import builtin_registry

    builtin_registry()


def pool(kind: str = "batch") -> ProcessPoolExecutor | None:
    """A worker pool (started on first use), or None when that work is done inline.

    ``batch`` scores batch chunks; ``interactive`` scores single assessments when the service is
    busy (separate, so a single request never waits behind a 200-item chunk)."""
    from app.settings import get_settings

    settings = get_settings()
    size = settings.batch_processes if kind == "batch" else settings.scoring_processes
    if size <= 0:
        return None
    with _pool_lock:
        executor = _pools.get(kind)
        if executor is None:
            # spawn, not fork: the service process has threads (and database connections).
            executor = ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_init, initargs=(os.getpid(),))
            _pools[kind] = executor
        return executor


def _discard(kind: str) -> None:
    with _pool_lock:
        _pools.pop(kind, None)


def submit(ref: str, content_hash: str, text: str, jobs: list[Job]) -> Future[list[Outcome]]:
    """Score a chunk in the pool; inline (already resolved) when there is no usable pool."""
    executor = pool()
    if executor is not None:
        try:
            return executor.submit(score_jobs, ref, content_hash, text, jobs)
        except (BrokenProcessPool, RuntimeError):
            log.exception("batch worker pool is broken; scoring in the request thread")
            _discard("batch")
    done: Future[list[Outcome]] = Future()
    done.set_result(score_jobs(ref, content_hash, text, jobs))
    return done


def result(future: Future[list[Outcome]], ref: str, content_hash: str, text: str, jobs: list[Job]) -> list[Outcome]:
    """A chunk's outcomes; rescored inline if its worker died."""
    try:
        return future.result()
    except BrokenProcessPool:
        log.exception("a batch worker died; rescoring its chunk in the request thread")
        _discard("batch")
        return score_jobs(ref, content_hash, text, jobs)


def score_one(ref: str, content_hash: str, text: str, facts: dict[str, Any], answers: dict[str, Any],
              overrides: dict[str, Any], extra_facts: dict[str, Any], extra_warnings: list[dict[str, str]],
              strict: bool) -> Outcome:
    """One stored submission (raw facts), scored in an interactive worker or inline; see :func:`_score`."""
    return _score(_ruleset(ref, content_hash, text), facts, None, answers, overrides, extra_facts, extra_warnings,
                  strict)


_busy = 0
_busy_lock = threading.Lock()


class Busy:
    """Counts the assessments being made in this process; :attr:`offload` says whether this one
    should be scored in the interactive pool (the process is busy enough that its own GIL, not
    the machine, is the bottleneck)."""

    def __enter__(self) -> Busy:
        global _busy
        from app.settings import get_settings

        with _busy_lock:
            _busy += 1
            level = _busy
        threshold = get_settings().scoring_offload_at
        self.offload = threshold > 0 and level >= threshold
        return self

    def __exit__(self, *exc: object) -> None:
        global _busy
        with _busy_lock:
            _busy -= 1


def score_stored(ref: str, content_hash: str, text: str, facts: dict[str, Any], answers: dict[str, Any],
                 overrides: dict[str, Any], extra_facts: dict[str, Any], extra_warnings: list[dict[str, str]],
                 strict: bool, offload: bool) -> Outcome:
    """:func:`score_one` in the interactive pool when ``offload`` (and the pool works), else inline."""
    args = (ref, content_hash, text, facts, answers, overrides, extra_facts, extra_warnings, strict)
    executor = pool("interactive") if offload else None
    if executor is not None:
        try:
            return executor.submit(score_one, *args).result()
        except (BrokenProcessPool, RuntimeError):
            log.exception("interactive scoring pool is broken; scoring in the request thread")
            _discard("interactive")
    return score_one(*args)


def warm() -> None:
    """Start the pools' processes now (in the background) rather than on first use.
    The pools live as long as the process (they are shut down at exit), across app lifespans."""
    for kind in ("batch", "interactive"):
        executor = pool(kind)
        if executor is not None:
            try:
                executor.submit(_warm)
            except (BrokenProcessPool, RuntimeError):
                log.exception("%s worker pool could not start", kind)
