from django.conf import settings
from django.db import models
from django.utils import timezone

from rooms.models import Room

DEFAULT_HANDOFF_MESSAGE = (
    "I'm not sure about that one, so I've passed your question to our team. "
    "A person will answer you here as soon as possible."
)


class BotSettings(models.Model):
    """What an account's bot says of its own: its greeting and its hand-off text."""

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bot_settings"
    )
    greeting_message = models.TextField(
        max_length=5000,
        blank=True,
        help_text="The greeting_message of new rooms that are created without one.",
    )
    handoff_message = models.TextField(
        max_length=5000,
        default=DEFAULT_HANDOFF_MESSAGE,
        help_text="The bot's answer when it cannot answer: the room then goes to a person.",
    )

    class Meta:
        verbose_name = "bot settings"
        verbose_name_plural = "bot settings"

    def __str__(self):
        return f"Bot settings of {self.account}"


class HandOff(models.Model):
    """A conversation the bot handed to a person (it turned the room's bot off).

    Open (`resolved_at` null) until a person replies in the room, hands it back to the bot, or
    closes it (`resolution` says which); an open hand-off keeps its room in the inbox.
    """

    class Reason(models.TextChoices):
        LOW_CONFIDENCE = "low_confidence", "no knowledge entry answers it with confidence"
        LLM = "llm", "the language model could not answer from the knowledge"

    class Resolution(models.TextChoices):
        REPLIED = "replied", "a person replied"
        HANDED_BACK = "handed_back", "handed back to the bot"
        CLOSED = "closed", "closed"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hand_offs"
    )
    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="hand_offs")
    message = models.ForeignKey(
        "messaging.Message", on_delete=models.CASCADE, related_name="hand_offs"
    )
    reason = models.CharField(max_length=32, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The sentence embedding of the visitor's message, after a digest of the text it was made
    # from: made when the knowledge gaps are first listed (bot/selectors.py), to group the
    # questions that ask the same thing. Null until then, or without the embedding model.
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolution = models.CharField(
        max_length=32, choices=Resolution.choices, blank=True, editable=False
    )

    class Meta:
        verbose_name = "hand-off"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="handoff_account_created"),
        ]

    def __str__(self):
        return f"Hand-off of {self.room} ({self.created_at:%Y-%m-%d %H:%M})"


class KnowledgeGap(HandOff):
    """The admin's view of an account's hand-offs as knowledge gaps: the questions the bot could
    not answer, grouped by meaning (bot/selectors.py). No table of its own."""

    class Meta:
        proxy = True
        verbose_name = "knowledge gap"


class InboxRoom(Room):
    """A room as the people answering see it: the admin's inbox (bot.admin.InboxAdmin) lists
    the account's rooms waiting for a person (bot.services.rooms_waiting)."""

    class Meta:
        proxy = True
        verbose_name = "conversation waiting for a person"
        verbose_name_plural = "inbox: conversations waiting for a person"
