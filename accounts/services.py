import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .models import ApiKey, User, api_key_digest, api_key_generate
from .tasks import alert_email_send

logger = logging.getLogger(__name__)


class OtherAccountError(ValueError):
    """An object of one account handed to a write for another.

    A bug in the caller, never a client's mistake: views resolve every related object inside the
    request's account, so a client gets its 400 or 404 long before a service sees this.
    """


def account_ownership_check(*, account: User, instance) -> None:
    """Refuse `instance` unless it belongs to `account` (by its `account_id`).

    An explicit check rather than an `assert`, which `python -O` removes: tenancy must hold in
    every way the server can be run.
    """
    if instance.account_id != account.pk:
        raise OtherAccountError(
            f"{type(instance).__name__} {instance.pk} belongs to account {instance.account_id},"
            f" not to account {account.pk}."
        )


def api_key_issue(*, user: User, name: str = "") -> tuple[ApiKey, str]:
    """Create a new key for `user`; return the stored row and the clear key (shown once)."""
    key = api_key_generate()
    api_key = ApiKey.objects.create(
        user=user, name=name, digest=api_key_digest(key), prefix=key[:8]
    )
    return api_key, key


def api_key_revoke(*, api_keys) -> int:
    return api_keys.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record that a key was used, at most once per resolution window (reads stay reads)."""
    now = timezone.now()
    resolution = settings.API_KEY_LAST_USED_RESOLUTION_SECONDS
    if api_key.last_used_at and (now - api_key.last_used_at).total_seconds() < resolution:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


@transaction.atomic
def account_create(*, username: str, password: str | None = None, email: str = "") -> User:
    user = User(username=username, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


def account_alert_send(*, account: User, subject: str, body: str) -> bool:
    """Email an alert to the account (a hand-off, a keyword notification), beside its webhooks.

    The recipient is the account's own email (`User.email`: `create_account --email`, or the
    admin); an account without one gets no alerts. The email is sent by the task worker: the
    task is a row written in the caller's transaction (with the database Tasks backend), so it
    exists only if that commits and is sent after it, never inside it, and a slow mail server
    holds no request. At most ALERT_EMAILS_PER_HOUR alerts per account and clock hour are
    queued; later ones are dropped and logged (what they alert about stays in the admin and the
    API). Returns whether an alert was queued.
    """
    if not settings.ALERT_EMAILS or not account.email:
        return False
    if not _alert_allowed(account):
        logger.warning("Alert to account %s dropped: over ALERT_EMAILS_PER_HOUR.", account.pk)
        return False
    alert_email_send.enqueue(account_id=account.pk, subject=subject[:200], body=body)
    return True


def _alert_allowed(account: User) -> bool:
    """A fixed window per account and clock hour, counted in the cache the rate limits use."""
    key = f"alerts:{account.pk}:{timezone.now():%Y%m%d%H}"
    cache.add(key, 0, timeout=3600)
    try:
        return cache.incr(key) <= settings.ALERT_EMAILS_PER_HOUR
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        return True


@transaction.atomic
def person_create(
    *, account: User, username: str, password: str | None = None, email: str = "", groups=()
) -> User:
    """A staff login for one of `account`'s people: it logs into the admin, sees and changes
    only the account's rows (accounts/admin_scope.py), with the permissions of `groups`."""
    person = User(username=username, email=email, account=account, is_staff=True)
    if password:
        person.set_password(password)
    else:
        person.set_unusable_password()
    person.full_clean(exclude=["password"])
    person.save()
    person.groups.set(groups)
    return person
