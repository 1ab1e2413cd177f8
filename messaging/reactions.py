"""What a new message sets off, in order: the one place that says so.

`message_create` records a message and then runs, in its transaction, the reactions named in
`ORDER`, one after the other:

1. `lead_capture` (leads): a visitor message's email or phone becomes the room's lead;
2. `keyword_notify` (keywords): one notification per keyword of the account in the message;
3. `webhook_emit` (here): the `message.added` event;
4. `reply_answer` (here): a person's reply fills `support_answer` of the visitor message it
   answers (docs/api.md, "A person's reply is an answer");
5. `bot_quiet` (bot): after a person's reply the bot stays quiet in the room and its open
   hand-offs are resolved (docs/people.md);
6. `bot_answer` (bot): the bot's answer, last, because it is a message of its own, added after
   this one (and it reads the room as the reactions before it left it).

Why a registry filled in `AppConfig.ready()` rather than a module that imports the reactions:
leads, keywords and the bot sit above messaging in the layers (pyproject.toml, import-linter), and
they import messaging's models and services; messaging importing them back is the import cycle this
replaces. So each reacting app registers its reaction under a name in its `ready()`, and the order
is declared here, by name, once. Registering a name that is not in `ORDER`, or twice, fails at
start-up; a declared reaction that no app registered is a system check error (messaging.E001) and
refuses to run (a message never silently skips a reaction). The webhook event and a reply's
answer are messaging's own reactions: webhooks sit below messaging, so messaging calls them
directly.

A reaction is called as `reaction(message=message, answer=answer)`: it receives the new message
(instance, in the transaction that created it) and how the bot is to answer it (`Answering`), and
never imports messaging's services back.

Work that only reads (the bot's ranking of the account's knowledge, tens of milliseconds; the
keywords the message mentions; whether its event goes to any subscription) may be done before the
message is written: a reaction registered with
`prepare=function(account=..., room=..., answer=..., fields=...)` has that function run by
`message_create` before its transaction, and gets its result as `prepared=`. On PostgreSQL one
room's messages are written one at a time from their insert to their commit (the room's lock, for
the order of its ids), and so are one account's (the day's count row, the event log's order), so
what runs inside that stretch is paid once per message for the whole room or account
(docs/performance.md, "One account's chat turns", "One room's messages"). A prepare reads what is
committed when the message is sent, as the same read inside the transaction would a moment later.
"""

import enum
from collections.abc import Callable

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Subquery

from webhooks.models import EventType
from webhooks.services import event_emit, webhooks_subscribed

from .models import Message


class Answering(enum.StrEnum):
    """How the bot answers a new visitor message; chosen by whoever creates the message."""

    # The caller's request waits (within BOT_ANSWER_BUDGET_SECONDS, after the commit) for the
    # model; the background task answers if it does not. For a chat frontend waiting on the API.
    INLINE = "inline"
    # Only the background task answers: for a create whose commit comes after its response is
    # made (inside an Idempotency-Key's transaction), or where nobody waits (the admin).
    BACKGROUND = "background"
    # No answer from the bot: the message is the bot's own answer (so a support message created
    # with NONE is the bot's, and one created otherwise is a person's reply).
    NONE = "none"


Reaction = Callable[..., None]
Prepare = Callable[..., object]

ORDER = (
    "lead_capture",
    "keyword_notify",
    "webhook_emit",
    "reply_answer",
    "bot_quiet",
    "bot_answer",
)


class MessageReactions:
    """The reactions to a new message, run in the declared order (see the module docstring)."""

    def __init__(self, order: tuple[str, ...]):
        self.order = order
        self._reactions: dict[str, Reaction] = {}
        self._prepares: dict[str, Prepare] = {}

    def register(self, name: str, reaction: Reaction, *, prepare: Prepare | None = None) -> None:
        if name not in self.order:
            raise ImproperlyConfigured(
                f"Message reaction {name!r} is not declared in messaging.reactions.ORDER."
            )
        if name in self._reactions:
            raise ImproperlyConfigured(f"Message reaction {name!r} is registered twice.")
        self._reactions[name] = reaction
        if prepare is not None:
            self._prepares[name] = prepare

    def missing(self) -> list[str]:
        return [name for name in self.order if name not in self._reactions]

    def reactions(self) -> list[tuple[str, Reaction]]:
        """Every reaction in the order it runs; refuses while one is missing."""
        if missing := self.missing():
            raise ImproperlyConfigured(f"Message reactions not registered: {', '.join(missing)}.")
        return [(name, self._reactions[name]) for name in self.order]

    def prepare(self, *, account, room, answer: Answering, fields: dict) -> dict[str, object]:
        """What the reactions read before a message of `fields` is written in `room` (see the
        module docstring); hand the result to `run`."""
        return {
            name: prepare(account=account, room=room, answer=answer, fields=fields)
            for name, prepare in self._prepares.items()
        }

    def run(self, *, message: Message, answer: Answering, prepared: dict | None = None) -> None:
        """Each reaction in order; one registered with a prepare also gets what it read, from
        `prepared` (`prepare()`'s result), or None if it was not prepared: then it reads for
        itself, in the transaction."""
        prepared = {} if prepared is None else prepared
        for name, reaction in self.reactions():
            if name in self._prepares:
                reaction(message=message, answer=answer, prepared=prepared.get(name))
            else:
                reaction(message=message, answer=answer)


message_reactions = MessageReactions(ORDER)


def webhook_subscriptions(*, account, room, answer: Answering, fields: dict) -> bool | None:
    """webhook_emit's prepare: whether the account subscribes to `message.added`, asked before
    the message is written, so that an account without subscriptions looks nothing up in its
    room's locked stretch (event_emit's `subscribed`). Not for the bot's own answer, which is
    written inside the visitor message's transaction anyway: None, looked up there once."""
    if answer == Answering.NONE:
        return None
    return webhooks_subscribed(account_id=account.pk, event=EventType.MESSAGE_ADDED)


def webhook_emit(*, message: Message, answer: Answering, prepared: bool | None) -> None:
    """Messaging's own reaction: the `message.added` event, for every message (the bot's too)."""
    event_emit(
        account=message.account,
        event=EventType.MESSAGE_ADDED,
        instance=message,
        subscribed=prepared,
    )


def is_person_reply(*, message: Message, answer: Answering) -> bool:
    """A support message that is not the bot's own answer (which is created with
    `Answering.NONE`): a person answering, through the API or the admin."""
    return message.is_support_sender and answer != Answering.NONE


def reply_answer(*, message: Message, answer: Answering) -> None:
    """A person's reply is an answer: it fills `support_answer` of the visitor message it
    answers, so clients that poll that message (the vendor's sample frontend) show it.

    The message it answers is the room's latest message before the reply, if that is a visitor
    message without an answer; equivalently, the latest visitor message with no support message
    after it. Nothing else is filled: after a support message (the bot's, a hand-off text, an
    earlier reply) a reply answers no message, and earlier unanswered visitor messages keep
    `null` (the reply answers the conversation, shown on its latest message). One conditional
    UPDATE, so a bot answer racing with it (an LLM's, in the background) cannot be overwritten,
    nor overwrite it.
    """
    if not is_person_reply(message=message, answer=answer):
        return
    latest = (
        Message.objects.filter(room_id=message.room_id)
        .exclude(pk=message.pk)
        .order_by("-sent_at", "-id")
        .values("pk")[:1]
    )
    Message.objects.filter(
        pk=Subquery(latest), is_support_sender=False, support_answer__isnull=True
    ).update(support_answer=message.body)


message_reactions.register("webhook_emit", webhook_emit, prepare=webhook_subscriptions)
message_reactions.register("reply_answer", reply_answer)


@checks.register()
def reactions_check(app_configs, **kwargs):
    return [
        checks.Error(
            f"The message reaction {name!r} is declared but no app registered it.",
            hint="Each reacting app registers its reaction in its AppConfig.ready(); is the app "
            "in INSTALLED_APPS?",
            obj="messaging.reactions.ORDER",
            id="messaging.E001",
        )
        for name in message_reactions.missing()
    ]
