import secrets

from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from accounts.models import User
from webhooks.models import EventType
from webhooks.services import event_emit

from .models import Room

LABEL_ATTEMPTS = 5


def room_label_generate() -> str:
    # 16 hex characters: collisions within one account are negligible, and handled anyway.
    return secrets.token_hex(8)


def room_create(*, account: User, label: str | None = None, **fields) -> Room:
    """Create a room; with no label, generate one that is free in the account.

    The uniqueness of a label is finally decided by the database constraint, so two concurrent
    creates with the same label get one 201 and one 400, never a 500.
    """
    for _ in range(LABEL_ATTEMPTS if label is None else 1):
        room = Room(account=account, label=label or room_label_generate(), **fields)
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
