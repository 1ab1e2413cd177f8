import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Keyword(models.Model):
    """A word or phrase the account wants to hear about when a visitor writes it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="keywords"
    )
    keyword = models.CharField(max_length=100)
    # Case-folded, NFC: what uniqueness and matching compare (SQLite's LOWER() is ASCII-only).
    normalized = models.CharField(max_length=300, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["keyword", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "normalized"], name="keyword_unique_per_account"
            ),
        ]

    def __str__(self):
        return self.keyword


class KeywordNotification(models.Model):
    """A visitor message that contained one of the account's keywords."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="keyword_notifications"
    )
    # The keyword as it was when it matched: notifications outlive a deleted keyword.
    keyword = models.CharField(max_length=100)
    message = models.ForeignKey(
        "messaging.Message", on_delete=models.CASCADE, related_name="keyword_notifications"
    )
    room = models.ForeignKey(
        "rooms.Room", on_delete=models.CASCADE, related_name="keyword_notifications"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["account", "-created_at", "-id"], name="keyword_notif_account_created"
            ),
        ]

    def __str__(self):
        return f"{self.keyword!r} in {self.message_id}"
