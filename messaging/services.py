from django.db import transaction

from accounts.models import User
from keywords.services import keyword_notifications_record
from rooms.models import Room
from webhooks.models import EventType
from webhooks.services import event_emit

from .models import Message


@transaction.atomic
def message_create(*, account: User, room: Room, **fields) -> Message:
    """Record a message in one of the account's rooms.

    The single entry point for new messages: what a new message sets off (the bot's answer,
    leads from chat, webhooks) hangs off here, inside the same transaction.
    """
    assert room.account_id == account.pk, "a message's room belongs to its account"
    message = Message.objects.create(account=account, room=room, **fields)
    message_added(message=message)
    return message


def message_added(*, message: Message) -> None:
    """What follows a new message, however it was created (API or admin), in its transaction."""
    keyword_notifications_record(message=message)
    event_emit(account=message.account, event=EventType.MESSAGE_ADDED, instance=message)
