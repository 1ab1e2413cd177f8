"""Quotas per account: how many rows of a kind one account may hold (settings, docs/api.md).

One account must never be able to slow the others down; the work a new message causes grows
with the account's keywords and the bot's with its knowledge entries, so both are bounded.
A create beyond a quota answers `400 {"detail": "..."}` naming the limit and its setting, and
writes nothing.
"""

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException


class QuotaExceeded(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "quota_exceeded"


def quota_check(*, account, queryset, setting: str, noun: str, adding: int = 1) -> None:
    """Refuse to add `adding` rows to `queryset` (the account's rows of one kind) beyond the
    limit the setting named `setting` holds.

    Call it inside the create's transaction: it locks the account's row first (PostgreSQL; on
    SQLite write transactions run one at a time anyway), so two concurrent creates cannot both
    take the last place.
    """
    limit = getattr(settings, setting)
    list(type(account).objects.select_for_update().filter(pk=account.pk).values_list("pk"))
    held = queryset.count()
    if held + adding > limit:
        if adding == 1:
            message = f"Limit reached: an account has at most {limit} {noun} ({setting})."
        else:
            message = (
                f"Limit reached: an account has at most {limit} {noun} ({setting}); it has "
                f"{held}, and this would add {adding}."
            )
        raise QuotaExceeded(message)
