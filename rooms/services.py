import secrets
from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from accounts.models import User
from webhooks.models import EventType
from webhooks.services import event_emit

from .models import Room

LABEL_ATTEMPTS = 5


class RoomGreetings:
    """Where a new room without a greeting takes the account's from.

    The account's greeting is the bot's (bot.models.BotSettings), and the bot sits above rooms in
    the layers (it reads and hands off rooms): so the bot hands its lookup in from
    BotConfig.ready() rather than rooms importing it. Without the bot, rooms greet with "".
    """

    def __init__(self):
        self._source: Callable[[User], str] | None = None

    def register(self, source: Callable[[User], str]) -> None:
        if self._source is not None:
            raise ImproperlyConfigured("A source of room greetings is already registered.")
        self._source = source

    def for_account(self, account: User) -> str:
        return self._source(account) if self._source is not None else ""


room_greetings = RoomGreetings()


def room_label_generate() -> str:
    # 16 hex characters: collisions within one account are negligible, and handled anyway.
    return secrets.token_hex(8)


def room_create(*, account: User, label: str | None = None, **fields) -> Room:
    """Create a room; with no label, generate one that is free in the account. Without a
    greeting, the room takes the account's (see `RoomGreetings`).

    The uniqueness of a label is finally decided by the database constraint, so two concurrent
    creates with the same label get one 201 and one 400, never a 500.
    """
    if "greeting_message" not in fields:
        fields["greeting_message"] = room_greetings.for_account(account)
    for _ in range(LABEL_ATTEMPTS if label is None else 1):
        room = Room(account=account, label=label or room_label_generate(), **fields)
        room.message_count = 0  # what the API renders of a room (RoomQuerySet.with_messages)
        try:
            with transaction.atomic():
                room.save(force_insert=True)
                event_emit(account=account, event=EventType.CHAT_ADDED, instance=room)
        except IntegrityError:
            continue
        return room
    if label is not None:
        raise ValidationError({"label": ["A room with this label already exists."]})
    raise RuntimeError("Could not generate a free room label.")


def room_update(*, room: Room, **fields) -> Room:
    for name, value in fields.items():
        setattr(room, name, value)
    try:
        with transaction.atomic():
            room.save(update_fields=list(fields))
    except IntegrityError:
        raise ValidationError({"label": ["A room with this label already exists."]}) from None
    return room
