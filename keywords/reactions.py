"""The keywords app's part in a new message (registered in KeywordsConfig.ready(); the order of
all reactions is declared in messaging.reactions)."""

from messaging.models import Message
from messaging.reactions import Answering

from .services import keyword_notifications_record


def keyword_notify(*, message: Message, answer: Answering) -> None:
    """One notification per keyword of the account found in a visitor message."""
    keyword_notifications_record(message=message)
