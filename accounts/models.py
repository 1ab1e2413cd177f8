import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """An account: every lead, room and message belongs to exactly one."""

    class Meta:
        verbose_name = "account"
        verbose_name_plural = "accounts"


def api_key_digest(key: str) -> str:
    """Keys are random 160-bit values, so one unsalted SHA-256 is enough to make the stored
    column useless to someone who reads the database (unlike passwords, no stretching needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_generate() -> str:
    # 40 lowercase hex characters: the shape AskHandle clients expect.
    return secrets.token_hex(20)


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiKey(models.Model):
    """An API key of an account. Only the key's SHA-256 digest is stored; the key itself is shown
    once, when it is issued."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the key, enough for a person to tell keys apart in the admin.
    prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.prefix}… ({self.user})"
