"""The bot's part in a new message: answer it now, or leave it to the background task; and stay
quiet after a person's reply (registered in BotConfig.ready(); the order of all reactions is
declared in messaging.reactions, where the bot comes last)."""

import datetime as dt
import logging
import time
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import default_task_backend

from messaging.models import Message
from messaging.reactions import Answering, is_person_reply

from .answerers import Answer, builtin_answer, llm_answer, room_history
from .llm import LlmError, LlmTimeout, llm_enabled
from .services import message_answer_apply, room_person_replied
from .tasks import message_answer_complete

logger = logging.getLogger(__name__)


def bot_quiet(*, message: Message, answer: Answering) -> None:
    """A person's reply (a support message that is not the bot's own): the bot stays quiet in
    the room until it is handed back (BOT_QUIET_AFTER_PERSON), and its open hand-offs are
    resolved (bot.services.room_person_replied)."""
    if is_person_reply(message=message, answer=answer):
        room_person_replied(room=message.room)


def bot_answers(*, answer: Answering, room, support: bool) -> bool:
    """Whether the bot answers a message: a visitor's, in a room where the bot is on, not the
    bot's own answer."""
    return answer != Answering.NONE and not support and room.is_bot_use


def bot_ranked(*, account, room, answer: Answering, fields: dict) -> Answer | None:
    """bot_answer's prepare: the built-in answer to a visitor message the bot will answer now
    (no LLM), ranked before the message is written, so the ranking (the visitor's text encoded,
    the account's knowledge searched) holds none of the message's locks. None when the bot does
    not answer now."""
    support = bool(fields.get("is_support_sender"))
    if not bot_answers(answer=answer, room=room, support=support) or llm_enabled():
        return None
    return builtin_answer(Message(account=account, room=room, **fields))


def bot_answer(*, message: Message, answer: Answering, prepared: Answer | None) -> None:
    """Called in the transaction that records a message (see `message_create`).

    The built-in answerer answers at once, in that transaction, with the answer ranked before it
    (`bot_ranked`). With an LLM configured, a task to answer in the background is enqueued in
    the same transaction (so the message is never left unanswered). With `Answering.INLINE` the
    task is deferred by the answer budget and, after the commit, the model is asked within what
    is left of it; whichever of the two answers first is kept. With `Answering.BACKGROUND` the
    task is due at once and nobody waits for the model. `Answering.NONE` (the bot's own answer)
    sets off nothing.
    """
    if not bot_answers(answer=answer, room=message.room, support=message.is_support_sender):
        return
    if not llm_enabled():
        # In this transaction, which fails whole if storing the answer fails: no savepoint.
        ranked = builtin_answer(message) if prepared is None else prepared
        message_answer_apply(message=message, answer=ranked, savepoint=False)
        return
    budget = settings.BOT_ANSWER_BUDGET_SECONDS
    inline = answer == Answering.INLINE
    task = message_answer_complete
    if inline and default_task_backend.supports_defer:
        task = task.using(run_after=timezone.now() + dt.timedelta(seconds=budget))
    task.enqueue(message_id=message.pk)
    if inline:
        transaction.on_commit(partial(_answer_within_budget, message, time.monotonic() + budget))


def _answer_within_budget(message: Message, deadline: float) -> None:
    # After the commit, in the request: never raise (the message is recorded; the background
    # task answers it if this does not).
    try:
        history = room_history(message)
        try:
            answer = llm_answer(message, history, timeout=deadline - time.monotonic())
        except LlmTimeout:
            return
        except LlmError as error:
            logger.warning("LLM failed (%s); answering with the built-in answerer.", error)
            answer = builtin_answer(message, history)
        message_answer_apply(message=message, answer=answer)
    except Exception:
        logger.exception("Answering message %s inline failed; left to the background.", message.pk)
