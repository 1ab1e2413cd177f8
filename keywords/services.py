from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from accounts.services import account_alert_send
from askhandle.api.sql import select_rows
from messaging.models import Message
from webhooks.models import EventType
from webhooks.services import event_emit

from .matching import keyword_normalize, keywords_matching
from .models import Keyword, KeywordNotification

DUPLICATE = "You already have this keyword."


def keyword_save(*, keyword: Keyword) -> Keyword:
    """Create or update a keyword; a duplicate (ignoring case) answers 400, also under a race."""
    keyword.keyword = " ".join(keyword.keyword.split())
    keyword.normalized = keyword_normalize(keyword.keyword)
    duplicates = Keyword.objects.filter(account=keyword.account_id, normalized=keyword.normalized)
    if duplicates.exclude(pk=keyword.pk).exists():
        raise ValidationError({"keyword": [DUPLICATE]})
    try:
        with transaction.atomic():
            keyword.save()
    except IntegrityError:
        raise ValidationError({"keyword": [DUPLICATE]}) from None
    return keyword


def keyword_notifications_record(*, message: Message) -> list[KeywordNotification]:
    """One notification per keyword of the account found in a visitor message."""
    if message.is_support_sender:
        return []
    keywords = dict(select_rows(Keyword, ["normalized", "keyword"], account_id=message.account_id))
    if not keywords:
        return []
    found = sorted(keywords_matching(message.body, list(keywords)))
    notifications = [
        KeywordNotification.objects.create(
            account_id=message.account_id,
            keyword=keywords[normalized],
            message=message,
            room=message.room,
        )
        for normalized in found
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
