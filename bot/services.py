"""The bot's part in a new message: answer it now, or later in the background; hand off."""

import datetime as dt
import logging
import time
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tasks import default_task_backend

from accounts.models import User
from messaging.models import Message
from rooms.models import Room
from webhooks.models import EventType
from webhooks.services import event_emit

from .answerers import Answer, builtin_answer, llm_answer, room_history
from .llm import LlmError, LlmTimeout, llm_enabled
from .models import BotSettings, HandOff

logger = logging.getLogger(__name__)

BOT_NICKNAME = "Bot"


def account_greeting(account: User) -> str:
    """The greeting of the account's new rooms ("" unless set in the admin)."""
    greeting = (
        BotSettings.objects.filter(account=account)
        .values_list("greeting_message", flat=True)
        .first()
    )
    return greeting or ""


def bot_message_received(*, message: Message) -> None:
    """Called in the transaction that records a message (see `message_create`).

    The built-in answerer answers at once, in that transaction. With an LLM configured, a task
    to answer in the background is enqueued in the same transaction (so the message is never left
    unanswered), deferred by the answer budget; after the commit the model is asked within what
    is left of the budget, and whichever of the two answers first is kept.
    """
    if message.is_support_sender or not message.room.is_bot_use:
        return
    if not llm_enabled():
        message_answer_apply(message=message, answer=builtin_answer(message, room_history(message)))
        return
    from .tasks import message_answer_complete

    budget = settings.BOT_ANSWER_BUDGET_SECONDS
    # Inside a caller's transaction (an Idempotency-Key create), the commit comes after the
    # response is made: waiting for the model then would only delay it. The worker answers.
    inline = len(connection.atomic_blocks) <= 1
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


def message_answer_complete_now(*, message_id: int, attempt: int = 1) -> bool:
    """The background half of the timing contract: answer the message unless it already is.

    The model gets its full timeout (BOT_LLM_TIMEOUT_SECONDS); on failure the built-in answerer
    answers. A room whose bot was turned off meanwhile (a person took over) is left alone.
    Before any work, the next attempt is queued for later (up to BOT_ANSWER_ATTEMPTS): an
    attempt that dies (a bug, the database gone mid-way, the worker killed) leaves its message
    to that one, and one that answers leaves it nothing to do.
    """
    message = (
        Message.objects.select_related("room", "account")
        .filter(pk=message_id, support_answer__isnull=True)
        .first()
    )
    if message is None or not message.room.is_bot_use:
        return False
    if attempt < settings.BOT_ANSWER_ATTEMPTS and default_task_backend.supports_defer:
        from .tasks import message_answer_complete

        message_answer_complete.using(
            run_after=timezone.now() + dt.timedelta(seconds=answer_retry_delay(attempt))
        ).enqueue(message_id=message_id, attempt=attempt + 1)
    history = room_history(message)
    answer = None
    if llm_enabled():
        try:
            answer = llm_answer(message, history, timeout=settings.BOT_LLM_TIMEOUT_SECONDS)
        except LlmError as error:
            logger.warning("LLM failed (%s); answering with the built-in answerer.", error)
        except Exception:
            # Whatever went wrong with the model, the visitor still gets the built-in answer.
            logger.exception("LLM answer failed; answering with the built-in answerer.")
    if answer is None:
        answer = builtin_answer(message, history)
    return message_answer_apply(message=message, answer=answer)


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
    won = Message.objects.filter(pk=message.pk, support_answer__isnull=True).update(
        support_answer=answer.text, terminated=answer.handoff
    )
    if not won:
        message.refresh_from_db(fields=["support_answer", "terminated"])
        return False
    message.support_answer, message.terminated = answer.text, answer.handoff
    from messaging.services import message_create

    message_create(
        account=message.account,
        room=message.room,
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
