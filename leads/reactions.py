"""The leads app's part in a new message (registered in LeadsConfig.ready(); the order of all
reactions is declared in messaging.reactions)."""

from messaging.models import Message
from messaging.reactions import Answering

from .services import chat_lead_record


def lead_capture(*, message: Message, answer: Answering) -> None:
    """A visitor message's contact details become (or update) the room's lead."""
    if not message.is_support_sender:
        chat_lead_record(message=message)
