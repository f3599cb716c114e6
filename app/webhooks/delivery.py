"""One delivery attempt: read what to send, send it signed, record the outcome, plan the next.

Run by a worker (app.webhooks.tasks), never by the request that caused the event. The attempt is
three steps, and no database connection is held while the receiver is being waited for:

1. read the delivery, its endpoint and its event (as the delivery's tenant: row-level security);
   a job whose attempt number is no longer the delivery's (a manual redelivery superseded it)
   or whose delivery is no longer pending does nothing;
2. check the destination again (app.webhooks.destinations: the host may resolve elsewhere now)
   and POST the event with httpx, signed as the Standard Webhooks specification says by its
   library (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; during a day after a
   rotation with the previous secret too, space-separated, as the specification allows), with
   connect and read timeouts, redirects not followed, no proxy from the environment, and at most
   1 KiB of the answer read;
3. in one transaction: the attempt in the delivery log (the latest ``LOG_PER_ENDPOINT`` attempts of
   each endpoint are kept), the delivery's new state, and either the next attempt's job
   (``JIXIAO_WEBHOOK_RETRY_SCHEDULE``: 5 s, 30 s, 2 min, … 8 h, 11 attempts over ~24 h) or, after
   the last one, the end of the delivery. An endpoint none of whose attempts succeeded since such
   a delivery began (it kept failing for the whole schedule) is disabled, and
   ``webhook_endpoint.disabled`` is emitted to the tenant's other endpoints.

A worker killed between 2 and 3 leaves its job to procrastinate's retry of stalled jobs: the
receiver may then get the event twice, with the same ``webhook-id`` (webhooks are at least once;
receivers deduplicate by it).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from app import metrics
from app.auth import scoping
from app.db import sql
from app.webhooks import destinations, events, secrets

log = logging.getLogger("jixiao.webhooks")

#: the receiver's answer kept in the log, in bytes (and characters)
EXCERPT_BYTES = 1024
#: attempts kept per endpoint in the delivery log (older ones are deleted as new ones are written)
LOG_PER_ENDPOINT = 1000
USER_AGENT = "jixiao-webhooks/1"

_READ = """
SELECT d.state, d.scheduled_try, d.attempts, e.id, e.url, e.enabled, e.secret, e.previous_secret,
       e.previous_secret_expires_at > now(), v.id, v.type, v.data, v.created_at
FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_events v ON v.id = d.event_id
WHERE d.id = %s AND d.tenant_id = %s"""


@dataclass(slots=True)
class Outcome:
    """What one attempt came to."""

    #: succeeded, http_error (an answer outside 2xx, redirects included), timeout, connection_error,
    #: refused_destination (the destination check)
    outcome: str
    status: int | None = None
    latency_ms: int | None = None
    excerpt: str | None = None
    error: str | None = None


def body_of(type_: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    """The JSON a receiver gets (the Standard Webhooks envelope)."""
    return orjson.dumps({"type": type_, "timestamp": created_at.astimezone(UTC).isoformat(), "data": data})


def signature(secret_list: list[str], msg_id: str, at: datetime, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,…`` per secret, space-separated."""
    return " ".join(Webhook(s).sign(msg_id, at, body.decode()) for s in secret_list)


def send(url: str, secret_list: list[str], msg_id: str, body: bytes) -> Outcome:
    """POST ``body`` to ``url`` once, signed; never raises for the receiver's failures."""
    from app.settings import get_settings

    settings = get_settings()
    try:
        target = destinations.check(url, destinations.allowed_networks())
    except destinations.DestinationRefused as exc:
        return Outcome("refused_destination", error=str(exc)[:500])
    at = datetime.now(UTC)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": signature(secret_list, msg_id, at, body),
               "content-type": "application/json", "user-agent": USER_AGENT, "host": target.host_header,
               "accept-encoding": "identity"}  # the excerpt is the answer's bytes as sent: nothing to inflate
    # the certificate is checked against the name, though the connection goes to the checked address
    extensions = {"sni_hostname": target.host} if url.lower().startswith("https:") else {}
    timeout = httpx.Timeout(settings.webhook_read_timeout, connect=settings.webhook_connect_timeout)
    start = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client, \
                client.stream("POST", target.connect_url, content=body, headers=headers,
                              extensions=extensions) as answer:
            excerpt = b""
            for chunk in answer.iter_raw():
                excerpt += chunk
                # enough of it, or a receiver dripping its answer: the read timeout bounds each read only
                if len(excerpt) >= EXCERPT_BYTES or time.perf_counter() - start > settings.webhook_read_timeout:
                    break
            status = answer.status_code
    except httpx.TimeoutException as exc:
        return Outcome("timeout", latency_ms=_ms(start), error=f"{type(exc).__name__}: {exc}"[:500])
    except httpx.HTTPError as exc:
        return Outcome("connection_error", latency_ms=_ms(start), error=f"{type(exc).__name__}: {exc}"[:500])
    text = excerpt[:EXCERPT_BYTES].decode("utf-8", "replace")[:EXCERPT_BYTES]
    return Outcome("succeeded" if 200 <= status < 300 else "http_error", status, _ms(start), text,
                   None if 200 <= status < 300 else f"HTTP {status}")


def _ms(start: float) -> int:
    return int((time.perf_counter() - start) * 1000)


def retry_delay(attempts: int) -> timedelta | None:
    """The wait before the next attempt after ``attempts`` failed ones; None: no more attempts."""
    from app.settings import get_settings

    schedule = get_settings().webhook_retry_schedule
    return timedelta(seconds=schedule[attempts - 1]) if attempts <= len(schedule) else None


def attempt(delivery_id: uuid.UUID, tenant_id: uuid.UUID, attempt_no: int) -> str | None:
    """Make attempt ``attempt_no`` of a delivery (the queue's job); its outcome, or None when the job
    had nothing to do (superseded, no longer pending, the endpoint disabled)."""
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session, session.begin():
        scoping.set_tenant(session, tenant_id)
        row = sql.first(session, _READ, (delivery_id, tenant_id))
        if row is None:
            return None
        (state, scheduled, _, endpoint_id, url, enabled, secret, previous, previous_valid,
         event_id, type_, data, created_at) = row
        if state != "pending" or scheduled != attempt_no:
            return None
        if not enabled:  # disabled by its tenant or by the service: this delivery ends here
            sql.run(session, "UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL, "
                             "updated_at = now() WHERE id = %s", (delivery_id,))
            return None
        secret_list = [secrets.unseal(secret)] + ([secrets.unseal(previous)] if previous and previous_valid else [])
    outcome = send(url, secret_list, str(event_id), body_of(type_, created_at, data))
    record(delivery_id, tenant_id, endpoint_id, attempt_no, outcome)
    return outcome.outcome


_LOG = ("INSERT INTO webhook_attempts (tenant_id, endpoint_id, delivery_id, outcome, status, latency_ms, "
        "response_excerpt, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
_TRIM = ("DELETE FROM webhook_attempts WHERE endpoint_id = %(e)s AND id <= (SELECT id FROM webhook_attempts "
         "WHERE endpoint_id = %(e)s ORDER BY id DESC OFFSET %(keep)s LIMIT 1)")
_SUCCEEDED = ("UPDATE webhook_deliveries SET state = 'succeeded', attempts = attempts + 1, last_status = %s, "
              "next_attempt_at = NULL, updated_at = now() WHERE id = %s AND scheduled_try = %s AND state = 'pending'")
_FAILED = ("UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = %s, updated_at = now() "
           "WHERE id = %s AND scheduled_try = %s AND state = 'pending' RETURNING attempts, created_at")
_RETRY = "UPDATE webhook_deliveries SET scheduled_try = scheduled_try + 1, next_attempt_at = %s WHERE id = %s"
_ENQUEUE = "SELECT jixiao_webhook_enqueue(%s, %s, %s, %s)"
_GIVE_UP = "UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL WHERE id = %s"
# disabled only when nothing reached it since this delivery began: it kept failing all along
_DISABLE = ("UPDATE webhook_endpoints SET enabled = false, disabled_at = now(), disabled_reason = %s, "
            "updated_at = now() WHERE id = %s AND enabled AND (last_success_at IS NULL OR last_success_at < %s) "
            "RETURNING url")


def record(delivery_id: uuid.UUID, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, attempt_no: int,
           outcome: Outcome) -> None:
    """The attempt, the delivery's new state and what follows, in one transaction (counted in the
    metrics once committed)."""
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session, session.begin():
        scoping.set_tenant(session, tenant_id)
        then, disabled = _record(session, delivery_id, tenant_id, endpoint_id, attempt_no, outcome)
    metrics.record_webhook_attempt(outcome.outcome, outcome.latency_ms, then)
    if disabled:
        metrics.WEBHOOK_ENDPOINTS_DISABLED.inc()


def _record(session: Session, delivery_id: uuid.UUID, tenant_id: uuid.UUID, endpoint_id: uuid.UUID,
            attempt_no: int, outcome: Outcome) -> tuple[str, bool]:
    """(what followed the attempt, whether the endpoint was disabled)."""
    sql.run(session, _LOG, (tenant_id, endpoint_id, delivery_id, outcome.outcome, outcome.status,
                            outcome.latency_ms, outcome.excerpt, outcome.error))
    sql.run(session, _TRIM, {"e": endpoint_id, "keep": LOG_PER_ENDPOINT})
    if outcome.outcome == "succeeded":
        sql.run(session, _SUCCEEDED, (outcome.status, delivery_id, attempt_no))
        sql.run(session, "UPDATE webhook_endpoints SET last_success_at = now() WHERE id = %s", (endpoint_id,))
        return "delivered", False
    row = sql.first(session, _FAILED, (outcome.status, delivery_id, attempt_no))
    if row is None:  # superseded while it ran (a manual redelivery): logged, nothing else
        return "superseded", False
    attempts, began = row
    delay = retry_delay(attempts)
    if delay is not None:
        due = datetime.now(UTC) + delay
        sql.run(session, _RETRY, (due, delivery_id))
        sql.run(session, _ENQUEUE, (delivery_id, tenant_id, attempt_no + 1, due))
        return "retried", False
    sql.run(session, _GIVE_UP, (delivery_id,))
    reason = (f"disabled after {attempts} failed attempts of a delivery over "
              f"{_hours(datetime.now(UTC) - began)}: {outcome.error or outcome.outcome}")[:500]
    disabled = sql.first(session, _DISABLE, (reason, endpoint_id, began))
    if disabled is None:
        return "given_up", False
    log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
    events.emit(session, tenant_id, "webhook_endpoint.disabled", {
        "endpoint_id": str(endpoint_id), "url": disabled[0], "reason": reason,
        "href": f"/v1/webhook-endpoints/{endpoint_id}"})
    return "given_up", True


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours >= 1 else f"{int(span.total_seconds())} seconds"
