"""The delivery worker: claims due deliveries, POSTs them, records each attempt, retries.

Several workers (threads, processes or machines) can run against one database. A claim takes a
lease on the row (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's write lock serialises claims),
so no two workers hold the same attempt; a worker that dies lets its lease lapse and the
delivery is attempted again: at-least-once, with a delivery id receivers can deduplicate on.

Claims are fair between accounts: each account and each of its targets has a limit on attempts in
flight (counted across all workers), and a target that keeps failing is backed off as a whole, so
one account's dead receivers hold a few senders, never all of them (docs/webhooks.md).
"""

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from django.conf import settings
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
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


# Claims take turns on PostgreSQL (a transaction-level advisory lock), so that the in-flight
# counts one claim reads are not changed by another claim meanwhile. A claim lasts milliseconds.
CLAIM_LOCK = 0x7765_6268  # "webh"
# How many due deliveries a claim looks at per free slot, to find some of accounts and targets
# that are not at their limits.
CLAIM_WINDOW = 20
# Each further look leaves out the accounts and targets the previous one filled up.
CLAIM_ROUNDS = 4
INTERRUPTED = "Interrupted: the worker stopped before the attempt finished (its lease lapsed)."


def in_flight(now) -> tuple[Counter, Counter]:
    """Attempts in flight, across all workers: per account, and per (account, target)."""
    rows = Delivery.objects.filter(leased_until__gt=now).values_list(
        "webhook__account_id", "webhook__target"
    )
    per_target = Counter(rows)
    per_account = Counter()
    for (account_id, _), count in per_target.items():
        per_account[account_id] += count
    return per_account, per_target


def deliveries_claim(*, limit: int) -> list[Delivery]:
    """Lease up to `limit` due deliveries of active subscriptions, counting their attempt.

    Fair: no account gets more than WEBHOOK_ACCOUNT_CONCURRENCY attempts in flight, and no target
    of an account more than WEBHOOK_TARGET_CONCURRENCY; backed-off targets wait. So an account
    whose targets never answer holds a few slots, and the others' deliveries go past its queue.
    """
    now = timezone.now()
    due_now = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    # A plain read first: an idle worker never takes SQLite's write lock just to look.
    if not due_now.exists():
        return []
    account_limit = settings.WEBHOOK_ACCOUNT_CONCURRENCY
    target_limit = settings.WEBHOOK_TARGET_CONCURRENCY
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])
        per_account, per_target = in_flight(now)
        due = (
            Delivery.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=now, webhook__is_active=True
            )
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
            .filter(
                Q(webhook__target_backoff_until__isnull=True)
                | Q(webhook__target_backoff_until__lte=now)
            )
            .order_by("next_attempt_at", "id")
        )
        window = limit * CLAIM_WINDOW
        ids = []
        for _ in range(CLAIM_ROUNDS):
            # Accounts and targets at their limit are left out by the query, so their backlog,
            # however long, is not what the claim finds.
            candidates = due.exclude(id__in=ids)
            full = [a for a, count in per_account.items() if count >= account_limit]
            if full:
                candidates = candidates.exclude(webhook__account_id__in=full)
            for (account_id, target), count in per_target.items():
                if count >= target_limit and account_id not in full:
                    candidates = candidates.exclude(
                        webhook__account_id=account_id, webhook__target=target
                    )
            rows = list(
                candidates.select_for_update(skip_locked=True, of=("self",)).values_list(
                    "id", "webhook__account_id", "webhook__target"
                )[:window]
            )
            for pk, account_id, target in rows:
                if per_account[account_id] < account_limit and (
                    per_target[account_id, target] < target_limit
                ):
                    ids.append(pk)
                    per_account[account_id] += 1
                    per_target[account_id, target] += 1
                    if len(ids) == limit:
                        break
            # Done when the slots are filled or the queue is; otherwise the window was one
            # account's or target's backlog, now at its limit: look past it.
            if len(ids) == limit or len(rows) < window:
                break
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids).update(
            leased_until=now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS),
            attempt_count=F("attempt_count") + 1,
        )
        # An attempt still open on a delivery claimed again: its worker died mid-attempt.
        DeliveryAttempt.objects.filter(
            delivery_id__in=ids, duration_ms__isnull=True, error=""
        ).update(error=INTERRUPTED)
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


def delivery_send(delivery: Delivery) -> transport.Outcome | None:
    """Make the claimed attempt and record what happened."""
    started_at = timezone.now()
    # The attempt is logged before the request goes out: if this worker dies during it, the log
    # still shows an attempt was made (the receiver may have got it).
    with transaction.atomic():
        # Locked while the row is written, so a delete (of the webhook, a purge) waits for it.
        if not Delivery.objects.select_for_update().filter(pk=delivery.pk).values_list("pk"):
            return None  # deleted since it was claimed: nothing is sent
        DeliveryAttempt.objects.create(
            delivery=delivery, number=delivery.attempt_count, started_at=started_at
        )
    body, headers = delivery_request(delivery, timestamp=int(started_at.timestamp()))
    outcome = transport.post(delivery.webhook.target, body, headers)
    delivery_record(delivery, started_at=started_at, outcome=outcome)
    return outcome


def target_record(delivery: Delivery, *, outcome: transport.Outcome, now) -> datetime | None:
    """Keep the target's health; returns until when the target is backed off, if it is.

    A target is a URL of an account: all the account's subscriptions with that URL share it.
    After WEBHOOK_TARGET_FAILURES failed attempts in a row (timeouts, connection errors, 429,
    5xx) the target is backed off as a whole, for retry_delay(n) with n the failures beyond the
    threshold (30 s, 1 min, 2 min, ... 3 h): its pending deliveries are moved to the end of the
    backoff (nothing is dropped; a delivery whose retry window ends meanwhile still gets that
    attempt). After the backoff one attempt at a time probes it (WEBHOOK_TARGET_CONCURRENCY);
    any answer other than a failure resets the count.
    """
    webhook = delivery.webhook
    hooks = Webhook.objects.filter(account_id=webhook.account_id, target=webhook.target)
    if outcome.refused:  # not sent at all (an unsafe address): says nothing of its health
        return None
    if not outcome.retryable:  # it answered (2xx, or a 4xx that is final)
        if webhook.target_failures or webhook.target_backoff_until:
            hooks.update(target_failures=0, target_backoff_until=None)
        return None
    hooks.update(target_failures=F("target_failures") + 1)
    failures = hooks.values_list("target_failures", flat=True).first() or 0
    if failures < settings.WEBHOOK_TARGET_FAILURES:
        return None
    until = now + timedelta(seconds=retry_delay(failures - settings.WEBHOOK_TARGET_FAILURES + 1))
    hooks.update(target_backoff_until=until)
    Delivery.objects.filter(
        webhook__account_id=webhook.account_id,
        webhook__target=webhook.target,
        status=DeliveryStatus.PENDING,
        next_attempt_at__lt=until,
    ).exclude(pk=delivery.pk).update(next_attempt_at=until)
    return until


@transaction.atomic
def delivery_record(delivery: Delivery, *, started_at, outcome: transport.Outcome) -> None:
    number = delivery.attempt_count
    if not Delivery.objects.select_for_update().filter(pk=delivery.pk).values_list("pk"):
        return  # deleted while it was being sent (a lead's purge): nothing left to record
    DeliveryAttempt.objects.filter(delivery=delivery, number=number).update(
        duration_ms=outcome.duration_ms, status_code=outcome.status_code, error=outcome.error
    )
    now = timezone.now()
    backoff_until = target_record(delivery, outcome=outcome, now=now)
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
        if backoff_until:
            next_attempt_at = max(next_attempt_at, backoff_until)
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
    """Forget finished deliveries (and their log) older than WEBHOOK_LOG_RETENTION_DAYS, and the
    events no delivery needs older than EVENT_LOG_RETENTION_HOURS (how far back a live stream
    can resume, docs/streams.md)."""
    now = timezone.now()
    cutoff = now - timedelta(days=settings.WEBHOOK_LOG_RETENTION_DAYS)
    deleted, _ = Delivery.objects.filter(
        status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED], completed_at__lt=cutoff
    ).delete()
    log_cutoff = now - timedelta(hours=settings.EVENT_LOG_RETENTION_HOURS)
    Event.objects.filter(created_at__lt=log_cutoff, deliveries__isnull=True).delete()
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
