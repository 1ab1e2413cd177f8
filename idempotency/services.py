import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from askhandle.api.mentions import Person, mentions

from .models import IdempotencyKey


def idempotency_key_cutoff() -> dt.datetime:
    """Keys created before this are expired: forgotten, and free for a new request."""
    return timezone.now() - dt.timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)


def idempotency_key_claim(
    *, account: User, key: str, fingerprint: str
) -> tuple[IdempotencyKey, bool]:
    """Insert the key for a request that is about to create, or return the committed row of the
    request that already did. The second item is True when this request holds the key.

    Must run inside the transaction of the create: the row stays uncommitted (and, on
    PostgreSQL, a concurrent insert of the same key waits on it) until the create is done.
    """
    # A check, not an assert (`python -O` removes those): outside the create's transaction the
    # key would be committed before the create, and a failed create could never be retried.
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("Claim a key inside the create's transaction.")
    for _ in range(2):
        try:
            with transaction.atomic():
                return (
                    IdempotencyKey.objects.create(
                        account=account, key=key, fingerprint=fingerprint
                    ),
                    True,
                )
        except IntegrityError:
            record = IdempotencyKey.objects.filter(account=account, key=key).first()
        if record is None:  # removed in between (an expired row being replaced): insert again
            continue
        if record.created_at >= idempotency_key_cutoff():
            return record, False
        # Expired: forget the old request and take the key for this one.
        IdempotencyKey.objects.filter(pk=record.pk).delete()
    raise IntegrityError(f"Could not claim idempotency key {key!r}.")


def idempotency_key_complete(*, record: IdempotencyKey, status: int, body) -> IdempotencyKey:
    record.response_status = status
    record.response_body = body
    record.save(update_fields=["response_status", "response_body"])
    return record


def idempotency_keys_purge(*, before: dt.datetime | None = None) -> int:
    """Delete expired keys; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=before or idempotency_key_cutoff()
    ).delete()
    return deleted


def idempotency_keys_forget(*, account: User, person: Person) -> int:
    """Delete the account's stored answers about `person` (see askhandle.api.mentions): they are
    copies of the data being erased. Returns how many."""
    deleted = 0
    for mention in mentions("response_body", person):
        count, _ = IdempotencyKey.objects.filter(account=account).filter(mention).delete()
        deleted += count
    return deleted
