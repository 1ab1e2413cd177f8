"""The bot's writes: its answer to a visitor message, a hand-off to a person, and the greeting it
gives new rooms. When the bot answers is decided in bot.reactions (inline) and bot.tasks
(background)."""

from django.conf import settings
from django.db import transaction

from accounts.models import User
from messaging.models import Message
from messaging.reactions import Answering
from messaging.services import message_create
from rooms.models import Room
from webhooks.models import EventType
from webhooks.services import event_emit

from .answerers import Answer
from .models import BotSettings, HandOff

BOT_NICKNAME = "Bot"


def account_greeting(account: User) -> str:
    """The greeting of the account's new rooms ("" unless set in the admin); handed to
    rooms.services in BotConfig.ready()."""
    greeting = (
        BotSettings.objects.filter(account=account)
        .values_list("greeting_message", flat=True)
        .first()
    )
    return greeting or ""


def answer_retry_delay(attempt: int) -> float:
    """Seconds from the start of `attempt` to the next: past the model's timeout, then 30 s
    growing fourfold (with 5 attempts the last starts about 45 minutes after the first), long
    enough for a database restart or a deployment to be over."""
    return settings.BOT_LLM_TIMEOUT_SECONDS + 30 * 4 ** (attempt - 1)


@transaction.atomic
def message_answer_apply(*, message: Message, answer: Answer) -> bool:
    """Store the bot's answer to a visitor message, once.

    Sets `support_answer` (and `terminated` for a hand-off) only if the message has no answer
    yet, so the inline and background answerers can race safely; the winner appends the answer
    to the room as a support message and, for a hand-off, hands the room to a person.
    """
    fields = {
        "support_answer": answer.text,
        "terminated": answer.handoff,
        # Where it comes from: part of the same conditional write, so only the winner's.
        "support_answer_sources": list(answer.sources),
        "support_answer_confidence": answer.confidence,
    }
    won = Message.objects.filter(pk=message.pk, support_answer__isnull=True).update(**fields)
    if not won:
        message.refresh_from_db(fields=list(fields))
        return False
    for name, value in fields.items():
        setattr(message, name, value)
    # A message like any other (its webhook event, its place in the room), but the bot does not
    # answer its own answer.
    message_create(
        account=message.account,
        room=message.room,
        answer=Answering.NONE,
        body=answer.text,
        nickname=BOT_NICKNAME,
        is_support_sender=True,
    )
    if answer.handoff:
        room_hand_off(room=message.room, message=message, reason=answer.reason)
    return True


@transaction.atomic
def room_hand_off(*, room: Room, message: Message, reason: str) -> HandOff:
    """Hand the conversation to a person: the room's bot is turned off, the hand-off recorded
    (listed in the admin) and the account told (the `chat.handed_off` webhook event)."""
    Room.objects.filter(pk=room.pk).update(is_bot_use=False)
    room.is_bot_use = False
    hand_off = HandOff.objects.create(
        account_id=room.account_id, room=room, message=message, reason=reason
    )
    event_emit(account=message.account, event=EventType.CHAT_HANDED_OFF, instance=hand_off)
    return hand_off
