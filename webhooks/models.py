import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EventType(models.TextChoices):
    MESSAGE_ADDED = "message.added"
    LEAD_ADDED = "lead.added"
    CHAT_ADDED = "chat.added"
    KEYWORD_NOTIFICATION_ADDED = "keyword_notification.added"
    # The bot handed a conversation to a person (an extension).
    CHAT_HANDED_OFF = "chat.handed_off"


class Webhook(models.Model):
    """A subscription: POST every `event` of the account to `target`."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    event = models.CharField(max_length=64, choices=EventType.choices)
    target = models.URLField(max_length=2000)
    # Needed in clear to sign deliveries (HMAC); shown to the account once, at create/rotate.
    secret = models.CharField(max_length=100, editable=False)
    # The secret before the last rotation keeps signing (as a second signature) for a grace
    # period, so deliveries in flight during a rotation still verify.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(
        default=True, help_text="Inactive subscriptions record no new deliveries."
    )
    disabled_reason = models.CharField(max_length=255, blank=True)
    # The health of the target (this URL, for this account; kept alike on every subscription of
    # the account with the same URL): failed attempts in a row, and while it is backed off as a
    # whole, until when. See worker.target_record.
    target_failures = models.PositiveIntegerField(default=0, editable=False)
    target_backoff_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "event"], name="webhook_account_event"),
        ]

    def __str__(self):
        return f"{self.event} -> {self.target}"


class Event(models.Model):
    """Something that happened in an account, as the API rendered it when it happened.

    Recorded in the transaction that made it happen, always: the account's log, which the live
    streams read (webhooks/streams.py, docs/streams.md), and the outbox of the webhook
    deliveries. Within an account the ids follow the order of the commits (on PostgreSQL a
    trigger of migration 0004 takes care of it, and wakes the streams' listeners), so a cursor is
    an id. An event without deliveries is kept EVENT_LOG_RETENTION_HOURS
    (webhooks.worker.deliveries_prune).
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    type = models.CharField(max_length=64, choices=EventType.choices)
    # The room of a `message.added` event (the room streams filter on it); null otherwise. A
    # plain number: webhooks sit below rooms, and the log outlives nothing it refers to.
    room_id = models.BigIntegerField(null=True, blank=True, editable=False)
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="event_created"),
            # The log as the streams read it: an account's, a room's, after a cursor (the id).
            models.Index(fields=["account", "id"], name="event_account_log"),
            models.Index(
                fields=["room_id", "id"], name="event_room_log", condition=Q(room_id__isnull=False)
            ),
        ]

    def __str__(self):
        return f"{self.type} {self.uuid}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Delivery(models.Model):
    """One event for one subscription: the outbox row a worker claims, sends and retries.

    `uuid` is the delivery id sent to the receiver; it stays the same across retries and
    redeliveries so receivers can drop duplicates.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Set while a worker holds the delivery; a worker that dies lets it lapse and another
    # worker attempts the delivery again.
    leased_until = models.DateTimeField(null=True, blank=True)
    # Retries stop after this (creation, or the last redeliver, plus the retry window).
    give_up_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            # What workers poll: small, since finished deliveries drop out of it.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due",
            ),
            models.Index(fields=["webhook", "-created_at", "-id"], name="delivery_webhook_created"),
            # What is in flight (counted per account and per target at every claim): as small.
            models.Index(
                fields=["leased_until"],
                condition=Q(leased_until__isnull=False),
                name="delivery_leased",
            ),
        ]

    def __str__(self):
        return str(self.uuid)

    @property
    def next_attempt(self):
        """When the next attempt is due, if one is."""
        return self.next_attempt_at if self.status == DeliveryStatus.PENDING else None


class DeliveryAttempt(models.Model):
    """The log: one row per HTTP attempt, written before the request is sent and completed after
    it, so an attempt whose worker died still shows (with no duration and an "Interrupted" error
    once the delivery is claimed again)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    # Null while the attempt is in flight, or when its worker died before it finished.
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            # A given attempt is sent once: a second worker could never record it again.
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_unique_number"),
        ]

    def __str__(self):
        return f"attempt {self.number} of {self.delivery_id}"
