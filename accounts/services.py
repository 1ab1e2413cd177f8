from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import ApiKey, User, api_key_digest, api_key_generate


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
