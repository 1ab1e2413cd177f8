import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone


class MessageQuerySet(models.QuerySet):
    def newest_per_room(self, limit: int):
        """Each room's `limit` newest messages, oldest first (what a room nests: docs/api.md)."""
        newest_first = Window(
            RowNumber(), partition_by=F("room_id"), order_by=[F("sent_at").desc(), F("id").desc()]
        )
        return (
            self.annotate(room_newest_rank=newest_first)
            .filter(room_newest_rank__lte=limit)
            .order_by("sent_at", "id")
        )


class Message(models.Model):
    """One message in a room, from a visitor or from support (a person or the bot)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Denormalised from the room: every list starts from the account without a join.
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages"
    )
    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="messages")
    body = models.TextField(max_length=10000)
    nickname = models.CharField(max_length=255, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone_number = models.CharField(max_length=64, blank=True)
    is_support_sender = models.BooleanField(default=False)
    sent_at = models.DateTimeField(default=timezone.now, editable=False)
    # The bot's answer to this visitor message; null (not "") until there is one.
    support_answer = models.TextField(null=True, blank=True)  # noqa: DJ001 (null is the contract)
    # The conversation was handed to a person / ended at this message.
    terminated = models.BooleanField(default=False)
    # Where the bot's answer came from: the knowledge entries it answered from, as they were
    # then (`[{"uuid", "question"}]`; kept on the row, so that no list joins for them, and an
    # entry edited or deleted later does not rewrite what was answered), and the ranking's
    # confidence in the best of them. [] and null until the bot answers; [] for a hand-off.
    support_answer_sources = models.JSONField(default=list, db_default=[], blank=True)
    support_answer_confidence = models.FloatField(null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-sent_at", "-id"], name="message_account_sent"),
            models.Index(fields=["room", "sent_at", "id"], name="message_room_sent"),
        ]

    def __str__(self):
        return self.body[:60]
