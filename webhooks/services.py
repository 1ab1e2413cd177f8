import hashlib
import random
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from accounts.models import User
from accounts.services import account_ownership_check
from askhandle.api.mentions import Person, mentions
from askhandle.api.quotas import quota_check
from askhandle.api.sql import select_rows

from .events import event_render
from .models import Delivery, DeliveryStatus, Event, EventType, Webhook
from .signing import secret_generate
from .streams import wake_send


class DeliveryInFlight(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This delivery is being attempted right now; try again in a minute."
    default_code = "delivery_in_flight"


class SecretNotReplayed(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The signing secret is not shown again."
    default_code = "secret_not_replayed"


# The key under which a replayable create answer keeps a digest of the secret instead of it.
SECRET_DIGEST = "secret_sha256"


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def webhooks_subscribed(*, account_id: int, event: str) -> bool:
    """Whether the account has an active subscription to `event`."""
    return bool(
        select_rows(Webhook, ["id"], limit=1, account_id=account_id, event=event, is_active=True)
    )


def event_emit(*, account: User, event: str, instance, subscribed: bool | None = None) -> Event:
    """Record `event` in the account's log and one delivery per active subscription, in the
    caller's transaction.

    `subscribed=False`: the caller asked `webhooks_subscribed()` just before its transaction
    (messaging.reactions) and the account had none, so none is looked up here. A subscription
    created since then gets the events written after it, not this one, which was under way. Any
    other value: the subscriptions are read here, in the transaction (never a delivery to a
    subscription deleted meanwhile).

    Called from the service that made the event happen, inside its transaction: if that rolls
    back nothing is sent, and once it commits the event is in the log the live streams read
    (streams app) and the deliveries are durable (the worker sends them).
    """
    # Explicit checks, not asserts (which `python -O` removes): outside a transaction the event
    # could be sent for a write that then rolls back; another account's object would be sent to
    # this account's subscribers.
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("Emit events inside the event's transaction.")
    account_ownership_check(account=account, instance=instance)
    now = timezone.now()
    recorded = Event.objects.create(
        account=account,
        type=event,
        room_id=instance.room_id if event == EventType.MESSAGE_ADDED else None,
        data=event_render(event, instance),
        created_at=now,
    )
    if connection.vendor == "sqlite":  # PostgreSQL's trigger NOTIFYs the streams' listeners
        transaction.on_commit(partial(wake_send, account.pk, recorded.room_id, recorded.pk))
    if subscribed is False:
        return recorded
    webhooks = select_rows(Webhook, ["id"], account_id=account.pk, event=event, is_active=True)
    if webhooks:
        give_up_at = now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW)
        Delivery.objects.bulk_create(
            Delivery(webhook_id=pk, event=recorded, next_attempt_at=now, give_up_at=give_up_at)
            for (pk,) in webhooks
        )
    return recorded


def events_forget(*, account: User, person: Person) -> int:
    """Delete the account's events about `person` (see askhandle.api.mentions) with their
    deliveries, pending or finished, and those deliveries' attempt logs: the payloads are copies
    of the data being erased. Call it in the erasure's transaction. Returns how many events."""
    deleted = 0
    for mention in mentions("data", person):
        _, by_model = Event.objects.filter(account=account).filter(mention).delete()
        deleted += by_model.get(Event._meta.label, 0)
    return deleted


def webhook_quota_check(*, account: User) -> None:
    """Refuse a new subscription beyond WEBHOOKS_PER_ACCOUNT (askhandle.api.quotas).

    The quota also bounds the fan-out: one event makes at most one delivery per subscription.
    """
    quota_check(
        account=account,
        queryset=Webhook.objects.filter(account=account),
        noun="webhook subscriptions",
        setting="WEBHOOKS_PER_ACCOUNT",
    )


@transaction.atomic
def webhook_create(*, account: User, **fields) -> Webhook:
    webhook_quota_check(account=account)  # under the account's row lock, until the commit
    return Webhook.objects.create(account=account, secret=secret_generate(), **fields)


@transaction.atomic
def webhook_secret_rotate(*, webhook: Webhook) -> Webhook:
    """A new secret; the old one keeps signing for WEBHOOK_SECRET_GRACE seconds."""
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_expires_at = timezone.now() + timedelta(
        seconds=settings.WEBHOOK_SECRET_GRACE
    )
    webhook.secret = secret_generate()
    webhook.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return webhook


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Send a delivery again, now, with the same id and a fresh retry window."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    now = timezone.now()
    if delivery.leased_until and delivery.leased_until > now:
        raise DeliveryInFlight
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.give_up_at = now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW)
    delivery.completed_at = None
    delivery.save(update_fields=["status", "next_attempt_at", "give_up_at", "completed_at"])
    # Asked for now: a backed-off target gets this attempt now (its other deliveries keep their
    # times; a success ends the backoff).
    Webhook.objects.filter(
        account_id=delivery.webhook.account_id, target=delivery.webhook.target
    ).update(target_backoff_until=None)
    return delivery


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempt + 1`: exponential, capped, jittered (so receivers coming
    back up are not hit by every delivery at once), never sooner than the receiver asked."""
    base = settings.WEBHOOK_RETRY_BASE_DELAY * 2 ** min(attempt - 1, 30)
    delay = min(base, settings.WEBHOOK_RETRY_MAX_DELAY) * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.WEBHOOK_RETRY_MAX_DELAY))
    return delay
