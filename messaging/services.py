from django.db import transaction

from accounts.models import User
from bot.services import bot_message_received
from leads.services import chat_lead_record
from rooms.models import Room

from .models import Message


@transaction.atomic
def message_create(*, account: User, room: Room, **fields) -> Message:
    """Record a message in one of the account's rooms.

    The single entry point for new messages: what a new message sets off (the bot's answer,
    leads from chat, webhooks) hangs off here, inside the same transaction.
    """
    assert room.account_id == account.pk, "a message's room belongs to its account"
    message = Message.objects.create(account=account, room=room, **fields)
    if not message.is_support_sender:
        chat_lead_record(message=message)
        bot_message_received(message=message)
    return message
