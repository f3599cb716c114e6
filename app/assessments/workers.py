"""Scoring in worker processes: batch chunks, and single assessments when the service is busy.

A 1,000-unit batch spends about half of its Python time in the engine (prepare, score and the
JSON breakdown). Under one process's GIL that half cannot use the machine's other cores, so
batches hand it to a small pool of worker processes, chunk by chunk, while the request's own
thread validates the next items and COPYs the finished chunks into PostgreSQL.

The workers are pure: no database, no framework. They receive a ruleset by content hash (and
its text, compiled once per worker and cached) and each item's facts as sent, answers and
overrides; they validate the facts, score, and send back the facts in stored form and the
breakdown in stored form (LZ4-compressed JSON, app.db.packed). ``JIXIAO_BATCH_PROCESSES=0`` scores in the
request thread instead; a broken pool falls back to that too.

Single assessments have a pool of their own (:class:`ScoringPool`, one pipe per worker, see
below), used when the service process is busy (:class:`Busy`); alone, a request scores inline.
"""

from __future__ import annotations

import atexit
import gc
import logging
import multiprocessing
import os
import pickle
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

import orjson

from app.db.packed import pack_json
from app.engine.errors import InvalidInput
from app.engine.facts import Vocabulary
from app.engine.ruleset import Ruleset, load_ruleset_text
from app.engine.scoring import INCOMPLETE, Assessment, prepare, score, to_dict

log = logging.getLogger("jixiao.batch")

#: (answers, overrides, facts as sent, strict) of one batch item
Job = tuple[dict[str, Any], dict[str, Any], dict[str, Any], bool]
#: see :func:`_score`
Outcome = tuple[Any, ...]

_batch: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()
_compiled: dict[str, Ruleset] = {}


def _ruleset(ref: str, content_hash: str, text: str | None) -> Ruleset:
    """The compiled ruleset: cached by content hash; a built-in needs no text."""
    rs = _compiled.get(content_hash)
    if rs is None:
        from app.engine import builtin_registry

        builtin = builtin_registry().get(ref)
        if builtin is not None and builtin.content_hash == content_hash:
            rs = builtin
        else:
            if text is None:
                raise LookupError(f"ruleset {ref} ({content_hash[:12]}) is not known here and its text was not sent")
            rs = load_ruleset_text(text, builtin_registry().vocabulary, source="registered ruleset")
        _compiled[content_hash] = rs
    return rs


def assess(rs: Ruleset, vocab: Vocabulary, facts: Mapping[str, Any] | None, answers: Mapping[str, Any] | None,
           overrides: Mapping[str, Any] | None, *, parsed: dict[str, Any] | None = None,
           extra_facts: Mapping[str, Any] | None = None,
           extra_warnings: list[dict[str, str]] | None = None) -> Assessment:
    """The one scoring path of an assessment, a batch item, a dry run (POST
    /v1/rulesets/{name}/{version}:score) and ``jixiao score``: validate, add what the service found
    (cohort means and their warnings), score. Raises InvalidInput."""
    prepared = prepare(rs, vocab, facts, answers, overrides, parsed_facts=parsed)
    if extra_facts:
        prepared.facts.update(extra_facts)
    if extra_warnings:
        prepared.warnings.extend(extra_warnings)
    return score(rs, prepared)


def _score(rs: Ruleset, facts: dict[str, Any] | None, parsed: dict[str, Any] | None, answers: dict[str, Any],
           overrides: dict[str, Any], extra_facts: dict[str, Any], extra_warnings: list[dict[str, str]],
           strict: bool) -> Outcome:
    """One unit scored: ("ok", breakdown JSON, status, total, grade) | ("invalid", [(pointer, message)]) |
    ("strict", missing facts, missing answers)."""
    from app.engine import builtin_registry

    vocab = builtin_registry().vocabulary
    try:
        assessment = assess(rs, vocab, facts, answers, overrides, parsed=parsed, extra_facts=extra_facts,
                            extra_warnings=extra_warnings)
    except InvalidInput as exc:
        return ("invalid", [(p.pointer, p.message) for p in exc.problems])
    if strict and assessment.status == INCOMPLETE:
        return ("strict", list(assessment.missing_facts), list(assessment.missing_answers))
    result = to_dict(assessment, vocab)
    return ("ok", orjson.dumps(result), result["status"], result["total"], result["grade"])


def _score_item(rs: Ruleset, answers: dict[str, Any], overrides: dict[str, Any], facts: dict[str, Any],
                strict: bool) -> Outcome:
    """One batch item: its facts validated, then scored (see :func:`_score`). A scored item's
    outcome carries its breakdown in stored form (app.db.packed: the batch never needs the text)
    and ends with its facts in stored form. Invalid facts give ("facts", problems)."""
    from app.engine import builtin_registry

    vocab = builtin_registry().vocabulary
    parsed, problems = vocab.parse(facts)
    if problems:
        return ("facts", [(p.pointer, p.message) for p in problems])
    out = _score(rs, None, parsed, answers, overrides, {}, [], strict)
    if out[0] != "ok":
        return out
    _, breakdown, status, total, grade = out
    return ("ok", pack_json(breakdown), status, total, grade, vocab.canonical(parsed))


def score_jobs(ref: str, content_hash: str, text: str, jobs: list[Job]) -> list[Outcome]:
    """Score a chunk of batch items under one ruleset (runs in a worker process, or inline).
    Items travel with their facts as sent (cheap to pickle, unlike parsed Decimals) and are
    validated here.

    The cyclic garbage collector is paused for the chunk (as for the whole batch in the service
    process): scoring allocates many small objects, all freed by reference counting, and the
    collections a chunk would trigger only rescan them (~12% of a worker's time)."""
    rs = _ruleset(ref, content_hash, text)
    with paused_gc():
        return [_score_item(rs, answers, overrides, facts, strict) for answers, overrides, facts, strict in jobs]


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused for a block that allocates many objects alive until its
    end (a batch, a job's chunk), all freed by reference counting: collections during it would only
    rescan them. Nested blocks leave it to the outermost, which should end once its objects are
    gone (after the function that holds them has returned), so that the first collection after it
    finds little to scan: a job's chunk paused only around the batch spent ~8% of the worker's time
    in the collection that followed (py-spy, bench/RESULTS.md, Jobs)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    """Load the built-in rulesets, then move the start-up heap out of the collector's sight."""
    from app.engine import builtin_registry

    builtin_registry()
    freeze_heap()


def freeze_heap() -> None:
    """Move everything loaded so far (modules, rulesets, the app) out of the cyclic collector's
    sight, once per process: it lives as long as the process, and a full collection under load
    then scans ~15k objects, not ~150k (measured at 8 concurrent assessments: ~45% less time in the
    collector). Called by the service's start (app.main), the scoring processes and ``jixiao worker``."""
    if not gc.get_freeze_count():
        gc.collect()
        gc.freeze()


#: Set by :func:`score_in_process`: this process scores batches itself, never in a pool.
_in_process_only = False


def score_in_process() -> None:
    """Make this process score batch items and single assessments itself (``jixiao worker``,
    app.jobs.worker): no pool of scoring processes is started.

    A queue worker process is itself the unit of parallelism (run one per core, on as many machines
    as needed); a pool of scoring processes under it only adds pickling both ways and processes
    contending for the same cores. Measured on the 2-core machine with two workers on a 6,000-item job
    (/proc CPU time of the worker processes and their children): 3.35 ms per unit with the pool,
    1.63 ms without it (bench/RESULTS.md, Jobs)."""
    global _in_process_only
    _in_process_only = True


def pool() -> ProcessPoolExecutor | None:
    """The batch worker pool (started on first use), or None when batches are scored inline.
    Single assessments have their own pool (:func:`interactive`), so one never waits behind a chunk."""
    from app.settings import get_settings

    size = get_settings().batch_processes
    if size <= 0 or _in_process_only:
        return None
    global _batch
    with _pool_lock:
        if _batch is None:
            # spawn, not fork: the service process has threads (and database connections).
            _batch = ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init, initargs=(os.getpid(),))
        return _batch


def _discard() -> None:
    global _batch
    with _pool_lock:
        _batch = None


def submit(ref: str, content_hash: str, text: str, jobs: list[Job]) -> Future[list[Outcome]]:
    """Score a chunk in the pool; inline (already resolved) when there is no usable pool."""
    executor = pool()
    if executor is not None:
        try:
            return executor.submit(score_jobs, ref, content_hash, text, jobs)
        except (BrokenProcessPool, RuntimeError):
            log.exception("batch worker pool is broken; scoring in the request thread")
            _discard()
    done: Future[list[Outcome]] = Future()
    done.set_result(score_jobs(ref, content_hash, text, jobs))
    return done


def result(future: Future[list[Outcome]], ref: str, content_hash: str, text: str, jobs: list[Job]) -> list[Outcome]:
    """A chunk's outcomes; rescored inline if its worker died."""
    try:
        return future.result()
    except BrokenProcessPool:
        log.exception("a batch worker died; rescoring its chunk in the request thread")
        _discard()
        return score_jobs(ref, content_hash, text, jobs)


def score_one(ref: str, content_hash: str, text: str | None, facts: dict[str, Any], answers: dict[str, Any],
              overrides: dict[str, Any], extra_facts: dict[str, Any], extra_warnings: list[dict[str, str]],
              strict: bool) -> Outcome:
    """One stored submission (raw facts), scored here; see :func:`_score`."""
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


# -- the interactive pool: single assessments, one pipe per worker --------------------------------
#
# A single assessment is ~0.3 ms of engine work. A ProcessPoolExecutor round trip costs about as
# much in the service process (its feeder and management threads pickle, queue and wake up under
# the same GIL), so single assessments use a leaner protocol: each worker has its own duplex pipe,
# a request thread takes an idle worker, writes one pickled job, and blocks in recv (GIL released)
# until the outcome comes back. A worker is told a ruleset's text only once (built-ins never).

_TIMEOUT = 120.0  # seconds one single assessment may take in a worker before it is given up on


def _serve(conn: Any, parent: int) -> None:
    """A worker process: answer jobs from the pipe until it closes (or the parent is gone)."""
    _init(parent)
    conn.send_bytes(b"ready")
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            out: Outcome = score_one(*pickle.loads(data))
        except Exception as exc:  # the parent scores it again inline and reports the error there
            out = ("error", f"{type(exc).__name__}: {exc}")
        conn.send_bytes(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))


class _Worker:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # not fork: the service has threads and connections
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_serve, args=(child, os.getpid()), name="jixiao-scoring", daemon=True)
        self.process.start()
        child.close()
        self.known: set[str] = set()  # content hashes of the rulesets this worker has been sent

    def ready(self) -> bool:
        """Wait for the worker's start (imports and built-in rulesets)."""
        return bool(self.conn.poll(_TIMEOUT)) and self.conn.recv_bytes() == b"ready"

    def call(self, ref: str, content_hash: str, text: str, args: tuple[Any, ...]) -> Outcome:
        from app.engine import builtin_registry

        if content_hash not in self.known:
            builtin = builtin_registry().get(ref)
            self.known.add(content_hash)
            if builtin is None or builtin.content_hash != content_hash:
                return self._roundtrip(pickle.dumps((ref, content_hash, text, *args), protocol=pickle.HIGHEST_PROTOCOL))
        return self._roundtrip(pickle.dumps((ref, content_hash, None, *args), protocol=pickle.HIGHEST_PROTOCOL))

    def _roundtrip(self, payload: bytes) -> Outcome:
        self.conn.send_bytes(payload)
        if not self.conn.poll(_TIMEOUT):
            raise TimeoutError(f"scoring worker {self.process.pid} did not answer within {_TIMEOUT:.0f}s")
        out: Outcome = pickle.loads(self.conn.recv_bytes())
        return out

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class ScoringPool:
    """Worker processes for single assessments; a thread borrows an idle one or scores inline."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: list[_Worker] = []
        self._starting = 0
        self._busy = 0
        self._lock = threading.Lock()
        self.served = 0  # jobs answered by workers (for tests and diagnostics)
        self._closed = False

    def fill(self) -> None:
        """Start workers up to the pool's size, in the background; each joins when it is ready."""
        with self._lock:
            if self._closed:
                return
            missing = self.size - len(self._idle) - self._starting - self._busy
            self._starting += max(0, missing)
        for _ in range(max(0, missing)):
            threading.Thread(target=self._start_one, name="jixiao-scoring-start", daemon=True).start()

    def _start_one(self) -> None:
        worker = None
        try:
            worker = _Worker()
            ok = worker.ready()
        except Exception:
            if not self._closed:  # closed meanwhile (shutdown, exit): its end is expected
                log.exception("a scoring worker could not start")
            ok = False
        with self._lock:
            self._starting -= 1
            keep = ok and worker is not None and not self._closed
            if keep and worker is not None:
                self._idle.append(worker)
        if not keep and worker is not None:
            worker.stop()

    def score(self, ref: str, content_hash: str, text: str, args: tuple[Any, ...]) -> Outcome | None:
        """The outcome from an idle worker; None when none is idle (or it failed): score inline."""
        dead: list[_Worker] = []
        with self._lock:
            while self._idle and not self._idle[-1].process.is_alive():
                dead.append(self._idle.pop())
            worker = self._idle.pop() if self._idle else None
            if worker is not None:
                self._busy += 1
        if dead:
            log.error("scoring workers %s died; starting replacements", [w.process.pid for w in dead])
            for gone in dead:
                gone.stop()
            self.fill()
        if worker is None:
            return None
        try:
            out = worker.call(ref, content_hash, text, args)
        except Exception:
            log.exception("scoring worker %s failed; scoring in the request thread", worker.process.pid)
            with self._lock:
                self._busy -= 1
            worker.stop()
            self.fill()  # replace it
            return None
        with self._lock:
            self._busy -= 1
            self.served += 1
            closed = self._closed
            if not closed:
                self._idle.append(worker)
        if closed:
            worker.stop()
        if out[0] == "error":
            log.error("scoring worker %s: %s; scoring in the request thread", worker.process.pid, out[1])
            return None
        return out

    def workers(self) -> list[int]:
        """The pids of the idle workers."""
        with self._lock:
            return [w.process.pid or 0 for w in self._idle]

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait until every worker has started (for tests and start-up checks)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._starting == 0 and len(self._idle) + self._busy >= self.size:
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Stop the idle workers now; busy and starting ones stop when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()


_interactive: ScoringPool | None = None


def interactive() -> ScoringPool | None:
    """The interactive pool (started on first use), or None when single assessments always score inline."""
    global _interactive
    from app.settings import get_settings

    size = get_settings().scoring_processes
    if size <= 0 or _in_process_only:
        return None
    with _pool_lock:
        if _interactive is None:
            _interactive = ScoringPool(size)
            _interactive.fill()
        return _interactive


def score_stored(ref: str, content_hash: str, text: str, facts: dict[str, Any], answers: dict[str, Any],
                 overrides: dict[str, Any], extra_facts: dict[str, Any], extra_warnings: list[dict[str, str]],
                 strict: bool, offload: bool) -> Outcome:
    """:func:`score_one` in an interactive worker when ``offload`` (and one is idle), else inline."""
    args = (facts, answers, overrides, extra_facts, extra_warnings, strict)
    if offload:
        scoring = interactive()
        if scoring is not None:
            out = scoring.score(ref, content_hash, text, args)
            if out is not None:
                return out
    return score_one(ref, content_hash, text, *args)


def shutdown() -> None:
    """Stop both pools' processes (at the server's shutdown) and wait for them; a later
    :func:`warm` or first use starts new ones."""
    global _batch, _interactive
    with _pool_lock:
        batch, _batch = _batch, None
        scoring, _interactive = _interactive, None
    if batch is not None:
        batch.shutdown(wait=True, cancel_futures=True)
    if scoring is not None:
        scoring.close()


atexit.register(shutdown)  # an interpreter's normal exit (the test suite, the CLI) stops them in order too


def warm() -> None:
    """Start the pools' processes now (in the background) rather than on first use.
    The app's lifespan stops them at its end (:func:`shutdown`), unless they outlive it
    (``JIXIAO_WORKERS_OUTLIVE_APP``, set by the test suite)."""
    executor = pool()
    if executor is not None:
        try:
            # One task per worker: the executor starts a process for each task no idle worker
            # takes, so all of them start now, not one in the middle of the first batch.
            from app.settings import get_settings

            for _ in range(get_settings().batch_processes):
                executor.submit(_warm)
        except (BrokenProcessPool, RuntimeError):
            log.exception("batch worker pool could not start")
    interactive()
