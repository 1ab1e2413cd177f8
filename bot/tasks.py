"""The background half of the bot's timing contract (see bot.reactions for the inline half)."""

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_tasks import default_task_backend, task

from messaging.models import Message

from .answerers import builtin_answer, llm_answer, room_history
from .llm import LlmError, llm_enabled
from .services import answer_retry_delay, message_answer_apply

logger = logging.getLogger(__name__)


@task()
def message_answer_complete(message_id: int, attempt: int = 1) -> bool:
    """Answer a visitor message that was not answered within the budget (see bot.reactions)."""
    return message_answer_complete_now(message_id=message_id, attempt=attempt)


def message_answer_complete_now(*, message_id: int, attempt: int = 1) -> bool:
    """Answer the message unless it already is.

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
        message_answer_complete.using(
            run_after=timezone.now() + dt.timedelta(seconds=answer_retry_delay(attempt))
        ).enqueue(message_id=message_id, attempt=attempt + 1)
    with_llm = llm_enabled()
    # The built-in answerer alone reads the room's history only if the message needs it.
    history = room_history(message) if with_llm else None
    answer = None
    if with_llm:
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
