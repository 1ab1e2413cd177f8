"""The delivery worker: claims due deliveries, POSTs them, records each attempt, retries.

Several workers (threads, processes or machines) can run against one database. A claim takes a
lease on the row (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's write lock serialises claims),
so no two workers hold the same attempt; a worker that dies lets its lease lapse and the
delivery is attempted again: at-least-once, with a delivery id receivers can deduplicate on.
"""

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta

from django.conf import settings
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connections,
    transaction,
)
from django.db.models import F, Q
from django.utils import timezone

from . import transport
from .models import Delivery, DeliveryAttempt, DeliveryStatus, Event, Webhook
from .services import retry_delay
from .signing import sign

logger = logging.getLogger(__name__)

USER_AGENT = "AskHandle-Webhooks/1.0"


def deliveries_claim(*, limit: int) -> list[Delivery]:
    """Lease up to `limit` due deliveries of active subscriptions, counting their attempt."""
    now = timezone.now()
    due_now = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    # A plain read first: an idle worker never takes SQLite's write lock just to look.
    if not due_now.exists():
        return []
    with transaction.atomic():
        due = (
            Delivery.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=now, webhook__is_active=True
            )
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
        )
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids).update(
            leased_until=now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS),
            attempt_count=F("attempt_count") + 1,
        )
    return list(
        Delivery.objects.filter(id__in=ids)
        .select_related("webhook", "event")
        .order_by("next_attempt_at", "id")
    )


def delivery_request(delivery: Delivery, *, timestamp: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers of an attempt."""
    webhook, event = delivery.webhook, delivery.event
    hook = {"uuid": str(webhook.uuid), "event": webhook.event, "target": webhook.target}
    body = json.dumps({"hook": hook, "data": event.data}, separators=(",", ":")).encode()
    delivery_id = str(delivery.uuid)
    secrets = [webhook.secret]
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret and expires and expires > timezone.now():
        secrets.append(webhook.previous_secret)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, delivery_id, timestamp, body) for s in secrets),
        "AskHandle-Event": event.type,
    }
    return body, headers


def delivery_send(delivery: Delivery) -> transport.Outcome:
    """Make the claimed attempt and record what happened."""
    started_at = timezone.now()
    body, headers = delivery_request(delivery, timestamp=int(started_at.timestamp()))
    outcome = transport.post(delivery.webhook.target, body, headers)
    delivery_record(delivery, started_at=started_at, outcome=outcome)
    return outcome


@transaction.atomic
def delivery_record(delivery: Delivery, *, started_at, outcome: transport.Outcome) -> None:
    number = delivery.attempt_count
    if not Delivery.objects.select_for_update().filter(pk=delivery.pk).values_list("pk"):
        return  # deleted while it was being sent (a lead's purge): nothing left to record
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=started_at,
        duration_ms=outcome.duration_ms,
        status_code=outcome.status_code,
        error=outcome.error,
    )
    now = timezone.now()
    code = outcome.status_code
    update = {"leased_until": None, "last_status_code": code, "last_error": outcome.error}
    if code is not None and 200 <= code < 300:
        update.update(status=DeliveryStatus.SUCCEEDED, completed_at=now)
    elif code == 410:
        # The receiver says the subscription is gone: stop sending anything to it.
        update.update(status=DeliveryStatus.FAILED, completed_at=now)
        Webhook.objects.filter(pk=delivery.webhook_id).update(
            is_active=False,
            disabled_reason=f"The target answered 410 Gone at {now:%Y-%m-%d %H:%M} UTC.",
        )
    elif outcome.retryable:
        next_attempt_at = now + timedelta(seconds=retry_delay(number, outcome.retry_after))
        if next_attempt_at <= delivery.give_up_at:
            update.update(next_attempt_at=next_attempt_at)
        else:
            update.update(status=DeliveryStatus.FAILED, completed_at=now)
            update["last_error"] = f"Gave up after {number} attempts: {outcome.error}"[:500]
    else:
        update.update(status=DeliveryStatus.FAILED, completed_at=now)
    # Guarded by the attempt number: if this worker's lease lapsed and another worker has
    # claimed the delivery since, that worker's result is the one that counts.
    Delivery.objects.filter(pk=delivery.pk, attempt_count=number).update(**update)


def _send_safely(delivery: Delivery) -> None:
    try:
        delivery_send(delivery)
    except Exception:
        # The lease lapses and the delivery is attempted again; the worker keeps going.
        logger.exception("Delivery %s failed unexpectedly", delivery.uuid)


def _send_in_thread(delivery: Delivery) -> None:
    try:
        _send_safely(delivery)
    finally:
        # Pool threads come and go with the worker: never leave their connections open (with
        # DATABASE_POOL on this returns them to the pool; the cost is small next to the HTTP).
        connections.close_all()


def deliveries_prune() -> int:
    """Forget finished deliveries (and their log and events) older than the retention period."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_LOG_RETENTION_DAYS)
    deleted, _ = Delivery.objects.filter(
        status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED], completed_at__lt=cutoff
    ).delete()
    Event.objects.filter(created_at__lt=cutoff, deliveries__isnull=True).delete()
    return deleted


PRUNE_EVERY = 3600.0


def run(
    *,
    concurrency: int = 4,
    poll_interval: float = 1.0,
    once: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Deliver until `should_stop()` (or, with `once`, until nothing is due)."""
    pruned_at = None

    def claim(limit: int) -> list[Delivery]:
        nonlocal pruned_at
        try:
            if pruned_at is None or time.monotonic() - pruned_at > PRUNE_EVERY:
                deliveries_prune()
                pruned_at = time.monotonic()
            return deliveries_claim(limit=limit)
        except (OperationalError, InterfaceError):
            # The database is away (restart, failover): keep polling until it is back.
            logger.warning("Webhook worker: database unavailable", exc_info=True)
            close_old_connections()
            return []

    if concurrency == 1:
        # In this thread (and its database connection): no pool needed.
        while not should_stop():
            claimed = claim(1)
            for delivery in claimed:
                _send_safely(delivery)
            if not claimed:
                if once:
                    return
                time.sleep(poll_interval)
        return
    with ThreadPoolExecutor(concurrency, thread_name_prefix="webhook") as pool:
        running = set()
        while not should_stop():
            free = concurrency - len(running)
            claimed = claim(free) if free else []
            running |= {pool.submit(_send_in_thread, delivery) for delivery in claimed}
            if running:
                # Claim again as soon as a slot frees up, or after a poll interval.
                _done, running = wait(running, timeout=poll_interval, return_when=FIRST_COMPLETED)
            elif once:
                return
            else:
                time.sleep(poll_interval)
        wait(running)
