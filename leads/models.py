import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Lead(models.Model):
    """A visitor's contact details, kept for the account."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leads"
    )
    nickname = models.CharField(max_length=255, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone_number = models.CharField(max_length=64, blank=True)
    device = models.CharField(max_length=255, blank=True)
    from_page_title = models.CharField(max_length=500, blank=True)
    # A URL, stored as given (clients send whatever the browser reported).
    referrer = models.CharField(max_length=2048, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # For a lead recorded from chat: "email:<email>" or "phone:<number>", unique in the account,
    # so that concurrent messages of one visitor make one lead (see leads.services).
    chat_key = models.CharField(max_length=300, null=True, blank=True, editable=False)  # noqa: DJ001

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Conditional (NULLs are distinct anyway): a partial unique index, which SQLite adds
            # without rebuilding the table (a rebuild would drop the table's triggers).
            models.UniqueConstraint(
                fields=["account", "chat_key"],
                condition=models.Q(chat_key__isnull=False),
                name="lead_chat_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="lead_account_created"),
        ]

    def __str__(self):
        return self.nickname or self.email or self.phone_number or str(self.uuid)
