"""The keywords app's part in a new message (registered in KeywordsConfig.ready(); the order of
all reactions is declared in messaging.reactions)."""

from messaging.models import Message
from messaging.reactions import Answering

from .services import keyword_notifications_record, keywords_found


def keywords_mentioned(*, account, room, answer: Answering, fields: dict) -> list[str]:
    """keyword_notify's prepare: which of the account's keywords the message mentions, read
    before the message is written, so that the lookup holds none of the message's locks (its
    room's, the account's count of the day)."""
    return keywords_found(
        account_id=account.pk,
        body=fields.get("body", ""),
        is_support_sender=bool(fields.get("is_support_sender")),
    )


def keyword_notify(*, message: Message, answer: Answering, prepared: list[str] | None) -> None:
    """One notification per keyword of the account found in a visitor message."""
    keyword_notifications_record(message=message, found=prepared)
