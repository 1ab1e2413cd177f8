import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """An account: every lead, room and message belongs to exactly one.

    A login with `account` set is one of that account's people instead: it logs into the admin
    (with the permissions and groups it is given) and sees and changes that account's rows only
    (accounts/admin_scope.py); it owns no rows of its own and gets no API key.
    """

    account = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="people",
        help_text="Set for a person of an account (an admin login that sees only that account's "
        "rows); empty for an account itself.",
    )

    class Meta:
        verbose_name = "account"
        verbose_name_plural = "accounts"

    @property
    def own_account_id(self) -> int:
        """The account this login acts for: the one it is a person of, or itself."""
        return self.account_id or self.pk

    def clean(self):
        super().clean()
        # One level only: an account's people belong to an account, never to another person.
        if self.account_id is None:
            return
        if self.pk is not None and self.account_id == self.pk:
            raise ValidationError({"account": "A login cannot be a person of itself."})
        if self.account.account_id is not None:
            raise ValidationError({"account": "Choose an account, not one of its people."})
        if self.pk is not None and User.objects.filter(account_id=self.pk).exists():
            raise ValidationError({"account": "This account has people of its own."})


def api_key_digest(key: str) -> str:
    """Keys are random 160-bit values, so one unsalted SHA-256 is enough to make the stored
    column useless to someone who reads the database (unlike passwords, no stretching needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_generate() -> str:
    # 40 lowercase hex characters: the shape AskHandle clients expect.
    return secrets.token_hex(20)


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        # An account's people get no API key; a key issued before its account became one of
        # them is refused.
        return self.filter(
            revoked_at__isnull=True, user__is_active=True, user__account__isnull=True
        )


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
