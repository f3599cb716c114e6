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
#: ("ok", breakdown JSON, status, total, grade) | ("invalid", [(pointer, message)]) | ("strict", [missing facts])
Outcome = tuple[Any, ...]

_pool: ProcessPoolExecutor | None = None
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


def score_jobs(ref: str, content_hash: str, text: str, jobs: list[Job]) -> list[Outcome]:
    """Score a chunk of items under one ruleset (runs in a worker process, or inline)."""
    from app.engine import builtin_registry

    vocab = builtin_registry().vocabulary
    rs = _ruleset(ref, content_hash, text)
    out: list[Outcome] = []
    for answers, overrides, parsed, strict in jobs:
        try:
            prepared = prepare(rs, vocab, None, answers, overrides, parsed_facts=parsed)
        except InvalidInput as exc:
            out.append(("invalid", [(p.pointer, p.message) for p in exc.problems]))
            continue
        assessment = score(rs, prepared)
        if strict and assessment.status == INCOMPLETE:
            out.append(("strict", list(assessment.missing_facts)))
            continue
        result = to_dict(assessment, vocab)
        out.append(("ok", orjson.dumps(result).decode(), result["status"], result["total"], result["grade"]))
    return out


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


def pool() -> ProcessPoolExecutor | None:
    """The shared worker pool (started on first use), or None when batches score inline."""
    global _pool
    from app.settings import get_settings

    size = get_settings().batch_processes
    if size <= 0:
        return None
    with _pool_lock:
        if _pool is None:
            # spawn, not fork: the service process has threads (and database connections).
            _pool = ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init, initargs=(os.getpid(),))
        return _pool


def submit(ref: str, content_hash: str, text: str, jobs: list[Job]) -> Future[list[Outcome]]:
    """Score a chunk in the pool; inline (already resolved) when there is no usable pool."""
    global _pool
    executor = pool()
    if executor is not None:
        try:
            return executor.submit(score_jobs, ref, content_hash, text, jobs)
        except (BrokenProcessPool, RuntimeError):
            log.exception("batch worker pool is broken; scoring in the request thread")
            with _pool_lock:
                _pool = None
    done: Future[list[Outcome]] = Future()
    done.set_result(score_jobs(ref, content_hash, text, jobs))
    return done


def result(future: Future[list[Outcome]], ref: str, content_hash: str, text: str, jobs: list[Job]) -> list[Outcome]:
    """A chunk's outcomes; rescored inline if its worker died."""
    global _pool
    try:
        return future.result()
    except BrokenProcessPool:
        log.exception("a batch worker died; rescoring its chunk in the request thread")
        with _pool_lock:
            _pool = None
        return score_jobs(ref, content_hash, text, jobs)


def warm() -> None:
    """Start the pool's processes now (in the background) rather than on the first batch.
    The pool lives as long as the process (it is shut down at exit), across app lifespans."""
    executor = pool()
    if executor is not None:
        try:
            executor.submit(_warm)
        except (BrokenProcessPool, RuntimeError):
            log.exception("batch worker pool could not start")


def shutdown() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None
