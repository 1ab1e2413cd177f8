import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from askhandle.api.counting import CountedTable, DayCount


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

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-sent_at", "-id"], name="message_account_sent"),
            models.Index(fields=["room", "sent_at", "id"], name="message_room_sent"),
        ]

    def __str__(self):
        return self.body[:60]


class MessageDayCount(DayCount):
    """Messages per account and UTC day of `sent_at` (scope 0), and per room (scope: its id);
    kept by triggers (askhandle.api.counting), read for exact list counts."""

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "scope", "day"], name="message_day_count_key"
            )
        ]


# What the triggers (installed by this app's migrations) maintain; see rebuild_counts.
MESSAGE_COUNTS = CountedTable(
    table="messaging_message",
    counts="messaging_messagedaycount",
    time_column="sent_at",
    scope_columns=("room_id",),
)


class RoomMessagesVersion(models.Model):
    """A random token per room that database triggers replace whenever one of the room's messages
    is inserted, updated or deleted (messaging/room_messages.py): the rooms list keeps each
    room's rendered messages under it. A room without a row (loaded with triggers off, before
    `rebuild_counts`) has its messages rendered every time."""

    room_id = models.BigIntegerField(primary_key=True)
    token = models.BigIntegerField()

    class Meta:
        verbose_name = "room messages version"

    def __str__(self):
        return f"room {self.room_id}: {self.token}"
