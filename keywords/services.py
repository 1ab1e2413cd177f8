from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from accounts.models import User
from accounts.services import account_alert_send
from askhandle.api.quotas import quota_check
from askhandle.api.sql import select_rows
from messaging.models import Message
from webhooks.models import EventType
from webhooks.services import event_emit

from .matching import keyword_normalize, keywords_matching
from .models import Keyword, KeywordNotification

DUPLICATE = "You already have this keyword."


def keywords_quota_check(*, account: User) -> None:
    """Refuse a new keyword beyond KEYWORDS_PER_ACCOUNT (askhandle.api.quotas.QuotaExceeded)."""
    quota_check(
        account=account,
        queryset=Keyword.objects.filter(account=account),
        noun="keywords",
        setting="KEYWORDS_PER_ACCOUNT",
    )


@transaction.atomic
def keyword_save(*, keyword: Keyword) -> Keyword:
    """Create or update a keyword; a duplicate (ignoring case) answers 400, also under a race,
    and so does a new keyword beyond the account's quota."""
    keyword.keyword = " ".join(keyword.keyword.split())
    keyword.normalized = keyword_normalize(keyword.keyword)
    if keyword.pk is None:
        keywords_quota_check(account=keyword.account)
    duplicates = Keyword.objects.filter(account=keyword.account_id, normalized=keyword.normalized)
    if duplicates.exclude(pk=keyword.pk).exists():
        raise ValidationError({"keyword": [DUPLICATE]})
    try:
        with transaction.atomic():
            keyword.save()
    except IntegrityError:
        raise ValidationError({"keyword": [DUPLICATE]}) from None
    return keyword


def keywords_found(*, account_id: int, body: str, is_support_sender: bool) -> list[str]:
    """The account's keywords (as the account wrote them) that a message of this body mentions,
    for at most KEYWORD_NOTIFICATIONS_PER_MESSAGE of them: the first ones it mentions (in the
    order of their first occurrence); the others make none, so one message's work (rows,
    events, deliveries) stays bounded however many keywords the account has. Nothing for a
    support message. Only reads: message_create asks it before its transaction
    (keywords.reactions)."""
    if is_support_sender:
        return []
    keywords = dict(select_rows(Keyword, ["normalized", "keyword"], account_id=account_id))
    if not keywords:
        return []
    found = keywords_matching(body, keywords, limit=settings.KEYWORD_NOTIFICATIONS_PER_MESSAGE)
    return [keywords[normalized] for normalized in found]


def keyword_notifications_record(
    *, message: Message, found: list[str] | None = None
) -> list[KeywordNotification]:
    """One notification per keyword of the account found in a visitor message (`keywords_found`;
    `found` is its answer when it was asked already, for this message's body)."""
    if found is None:
        found = keywords_found(
            account_id=message.account_id,
            body=message.body,
            is_support_sender=message.is_support_sender,
        )
    notifications = [
        KeywordNotification.objects.create(
            account_id=message.account_id, keyword=keyword, message=message, room=message.room
        )
        for keyword in found
    ]
    for notification in notifications:
        event_emit(
            account=message.account,
            event=EventType.KEYWORD_NOTIFICATION_ADDED,
            instance=notification,
        )
    if notifications:
        # One email per message, whatever the number of its keywords.
        words = ", ".join(repr(n.keyword) for n in notifications)
        room = message.room
        account_alert_send(
            account=message.account,
            subject=f"Keyword {words} in {room}",
            body=(
                f"A visitor wrote {words} in room {room.label!r} ({room.name or 'no name'}):\n\n"
                f"{message.body}\n"
            ),
        )
    return notifications
