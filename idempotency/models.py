from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """A create made with an `Idempotency-Key` header, and the answer it got.

    The row is inserted before the create and completed with the answer in the same transaction,
    so the unique constraint decides which of two concurrent requests with one key creates: the
    other waits for it (PostgreSQL blocks on the conflicting insert; SQLite runs one write
    transaction at a time) and then replays its answer. Rows older than
    `IDEMPOTENCY_KEY_TTL_SECONDS` are ignored and removed by `manage.py idempotency_keys_purge`.
    """

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    # SHA-256 of the operation and the parsed body: a retry must be the same request.
    fingerprint = models.CharField(max_length=64)
    # Null only inside the creating transaction; committed rows always have the answer.
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self):
        return self.key
