from django.db import transaction

from accounts.models import User
from accounts.services import account_ownership_check

from .models import Message
from .reactions import Answering, message_reactions

# What an edit (in the admin) may correct: the text, the sender's details, the answer; never the
# room or account the message belongs to, nor when it was sent.
EDITABLE_FIELDS = frozenset(
    {
        "body",
        "nickname",
        "email",
        "phone_number",
        "is_support_sender",
        "support_answer",
        "terminated",
    }
)


def message_create(*, account: User, room, answer: Answering | str, **fields) -> Message:
    """Record a message in one of the account's rooms: the one way in for every new message (the
    API, the admin, a person answering, the bot's own answers).

    What a new message sets off (its lead, keyword notifications, the webhook event, the bot's
    answer) runs in this transaction, in the order of `messaging.reactions.ORDER`. `answer` says
    how the bot answers it (`Answering`): the caller knows whether anyone waits for the answer,
    and whether its commit comes before its response; `Answering.NONE` for the bot's own answer.
    `room` is a rooms.Room of `account` (refused otherwise); rooms sit above messaging in the
    layers, so it is not imported here.
    """
    answer = Answering(answer)
    account_ownership_check(account=account, instance=room)
    # Before the transaction: what the reactions only read (see messaging.reactions).
    prepared = message_reactions.prepare(account=account, room=room, answer=answer, fields=fields)
    # The bot's own answer (`Answering.NONE`) is recorded inside the transaction of the answer
    # it stores (bot.services.message_answer_apply), which stands or falls whole: a savepoint of
    # its own would only cost two statements in every chat turn. Any other message may be
    # created inside a caller's transaction that goes on if it fails, so it keeps its savepoint.
    with transaction.atomic(savepoint=answer != Answering.NONE):
        # On PostgreSQL the insert locks the room first (a trigger, messaging/migrations/0006):
        # one message of a room at a time, from its insert to its commit, so that ids follow the
        # order of the commits within the room, which `?after=` relies on (messaging.filters).
        # SQLite has one writer.
        message = Message.objects.create(account=account, room=room, **fields)
        message_reactions.run(message=message, answer=answer, prepared=prepared)
    return message


@transaction.atomic
def message_update(*, message: Message, **fields) -> Message:
    """Correct a recorded message (the admin's edit); sets nothing off: the message was already
    reported when it was added."""
    if unknown := set(fields) - EDITABLE_FIELDS:
        raise ValueError(f"A message's {', '.join(sorted(unknown))} cannot be changed.")
    for name, value in fields.items():
        setattr(message, name, value)
    message.full_clean(exclude=["account", "room"])
    message.save(update_fields=list(fields))
    return message
