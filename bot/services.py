"""The bot's writes: its answer to a visitor message, a hand-off to a person, the greeting it
gives new rooms, and the human loop around them (a person's reply keeps the bot quiet; hand
back; close; the rooms waiting for a person, docs/people.md). When the bot answers is decided in
bot.reactions (inline) and bot.tasks (background)."""

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from accounts.services import account_alert_send
from messaging.models import Message
from messaging.reactions import Answering
from messaging.services import message_create, message_update
from rooms.models import Room
from rooms.services import room_update
from webhooks.models import EventType
from webhooks.services import event_emit

from .answerers import Answer
from .models import BotSettings, HandOff, InboxRoom

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


def message_answer_apply(*, message: Message, answer: Answer, savepoint: bool = True) -> bool:
    """Store the bot's answer to a visitor message, once.

    Sets `support_answer` (and `terminated` for a hand-off) only if the message has no answer
    yet, so the inline and background answerers can race safely; the winner appends the answer
    to the room as a support message and, for a hand-off, hands the room to a person.

    Inside a caller's transaction it takes a savepoint, so that a caller that goes on after its
    failure keeps its own writes (a task run at once inside the request by an immediate Tasks
    backend, which records the failure and returns); `savepoint=False` for a caller whose
    transaction fails whole with it (the built-in answer, in the visitor message's transaction):
    two statements fewer in every chat turn.
    """
    with transaction.atomic(savepoint=savepoint):
        return _answer_store(message=message, answer=answer)


def _answer_store(*, message: Message, answer: Answer) -> bool:
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


# No savepoint of its own: its one caller (message_answer_apply) fails whole with it.
@transaction.atomic(savepoint=False)
def room_hand_off(*, room: Room, message: Message, reason: str) -> HandOff:
    """Hand the conversation to a person: the room's bot is turned off, the hand-off recorded
    (listed in the admin) and the account told (the `chat.handed_off` webhook event)."""
    Room.objects.filter(pk=room.pk).update(is_bot_use=False)
    room.is_bot_use = False
    hand_off = HandOff.objects.create(
        account_id=room.account_id, room=room, message=message, reason=reason
    )
    event_emit(account=message.account, event=EventType.CHAT_HANDED_OFF, instance=hand_off)
    account_alert_send(
        account=message.account,
        subject=f"A conversation needs a person: {room}",
        body=(
            f"The bot handed the conversation in room {room.label!r} ({room.name or 'no name'}) "
            f"to a person ({hand_off.get_reason_display()}).\n\n"
            f"The visitor wrote:\n{message.body}\n\n"
            "Answer it in the admin's inbox (Bot > Inbox) or with POST /api/v1/messages/ "
            "(is_support_sender: true).\n"
        ),
    )
    return hand_off


def _hand_offs_resolve(*, room: Room, resolution: str) -> int:
    return HandOff.objects.filter(room=room, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolution=resolution
    )


@transaction.atomic
def room_person_replied(*, room: Room) -> None:
    """A person replied in the room (bot.reactions.bot_quiet): its open hand-offs are resolved,
    and with BOT_QUIET_AFTER_PERSON (on by default) the bot is turned off there until the room
    is handed back, so it does not answer the visitor's next message over the person's head."""
    _hand_offs_resolve(room=room, resolution=HandOff.Resolution.REPLIED)
    if settings.BOT_QUIET_AFTER_PERSON and room.is_bot_use:
        room_update(room=room, is_bot_use=False)


@transaction.atomic
def room_hand_back(*, room: Room) -> Room:
    """Give the conversation back to the bot: it answers the visitor's next messages again (not
    the ones already waiting: a person was answering those). Open hand-offs are resolved."""
    _hand_offs_resolve(room=room, resolution=HandOff.Resolution.HANDED_BACK)
    if not room.is_bot_use:
        room_update(room=room, is_bot_use=True)
    return room


@transaction.atomic
def room_close(*, room: Room) -> Room:
    """Close the conversation: nothing is left to answer. Its open hand-offs are resolved and
    its latest message is marked `terminated` (the contract's "the conversation ended at this
    message"), which takes the room out of the inbox; the bot stays as it is (off, after a
    hand-off), and a new visitor message brings the room back to the inbox."""
    _hand_offs_resolve(room=room, resolution=HandOff.Resolution.CLOSED)
    latest = Message.objects.filter(room=room).order_by("-sent_at", "-id").first()
    if latest is not None and not latest.terminated:
        message_update(message=latest, terminated=True)
    return room


def rooms_waiting(*, rooms: QuerySet) -> QuerySet:
    """The rooms of `rooms` waiting for a person, as `InboxRoom`s with `last_activity` (the time
    of their latest message), `latest_body` and `has_open_hand_off`, newest activity first.

    Waiting: the room's bot is off, and either a hand-off of the room is open (no person replied,
    handed it back or closed it since), or its latest message is a visitor's, unanswered and not
    terminated (a visitor wrote after a person's reply, or in a room whose bot was off all along).
    """
    room_messages = Message.objects.filter(room=OuterRef("pk")).order_by("-sent_at", "-id")
    latest = Message.objects.filter(
        pk=OuterRef("latest_id"),
        is_support_sender=False,
        support_answer__isnull=True,
        terminated=False,
    )
    open_hand_off = HandOff.objects.filter(room=OuterRef("pk"), resolved_at__isnull=True)
    return (
        InboxRoom.objects.filter(pk__in=rooms.values("pk"), is_bot_use=False)
        .annotate(
            latest_id=Subquery(room_messages.values("pk")[:1]),
            latest_body=Subquery(room_messages.values("body")[:1]),
            last_activity=Subquery(room_messages.values("sent_at")[:1]),
            has_open_hand_off=Exists(open_hand_off),
        )
        .filter(Q(has_open_hand_off=True) | Q(Exists(latest)))
        .order_by("-last_activity", "-id")
    )
