"""The bot's two answerers: built-in (knowledge search) and LLM (optional, by settings)."""

from dataclasses import dataclass

from django.conf import settings

from knowledge.search import Match, context_counts, knowledge_rank
from messaging.models import Message

from .llm import llm_chat
from .models import DEFAULT_HANDOFF_MESSAGE, BotSettings, HandOff

# The model is told to answer with exactly this when the knowledge does not answer the visitor.
LLM_HANDOFF = "HANDOFF"
# Previous visitor messages read as the context of a short follow-up.
CONTEXT_VISITOR_MESSAGES = 2


@dataclass(frozen=True)
class Answer:
    """The bot's answer to a visitor message, and where it comes from: `sources` are the
    knowledge entries it was made from (`{"uuid", "question"}`, stored on the message as
    `support_answer_sources`; none for a hand-off), `confidence` the ranking's confidence in the
    best entry found (`support_answer_confidence`; for a hand-off, the best one below the
    threshold, 0 with none)."""

    text: str
    handoff: bool = False
    reason: str = ""
    sources: tuple[dict, ...] = ()
    confidence: float = 0.0


def answer_sources(matches: list[Match]) -> tuple[dict, ...]:
    """The entries of `matches` as an answer's sources, as they are now (a later edit of an
    entry does not rewrite what was answered)."""
    return tuple({"uuid": str(m.entry.uuid), "question": m.entry.question} for m in matches)


def best_confidence(matches: list[Match]) -> float:
    return round(max((m.confidence for m in matches), default=0.0), 4)


def handoff_message(account_id: int) -> str:
    text = (
        BotSettings.objects.filter(account_id=account_id)
        .values_list("handoff_message", flat=True)
        .first()
    )
    return text or DEFAULT_HANDOFF_MESSAGE


def room_history(message: Message) -> list[Message]:
    """The messages before this one in its room, oldest first (at most BOT_CONTEXT_MESSAGES);
    for a message not yet written (bot.reactions.bot_ranked), the room's latest."""
    previous = Message.objects.filter(room_id=message.room_id).order_by("-pk")
    if message.pk is not None:
        previous = previous.filter(pk__lt=message.pk)
    return list(reversed(previous[: settings.BOT_CONTEXT_MESSAGES]))


def visitor_context(history: list[Message]) -> str:
    visitor = [m.body for m in history if not m.is_support_sender]
    return "\n".join(visitor[-CONTEXT_VISITOR_MESSAGES:])


def builtin_matches(message: Message, history: list[Message] | None, limit: int = 1) -> list[Match]:
    """The best entries for the message; `history` (the room's, `room_history`) is read here
    when None, and only if the ranking will use it (a short follow-up): most messages need none,
    and their turn is a query shorter."""
    context = ""
    if context_counts(message.body):
        context = visitor_context(room_history(message) if history is None else history)
    return knowledge_rank(
        account_id=message.account_id, text=message.body, context=context, limit=limit
    )


def builtin_answer(message: Message, history: list[Message] | None = None) -> Answer:
    """The best entry's answer if its confidence reaches the threshold, else a hand-off.
    Without `history`, the room's is read if the message needs it (`builtin_matches`)."""
    matches = builtin_matches(message, history)
    best = matches[0] if matches else None
    if best is not None and best.confidence >= settings.BOT_CONFIDENCE_THRESHOLD:
        return Answer(
            text=best.entry.answer,
            sources=answer_sources([best]),
            confidence=best_confidence([best]),
        )
    return Answer(
        text=handoff_message(message.account_id),
        handoff=True,
        reason=HandOff.Reason.LOW_CONFIDENCE,
        confidence=best_confidence(matches),
    )


def llm_messages(message: Message, history: list[Message], matches: list[Match]) -> list[dict]:
    knowledge = "\n\n".join(
        f"[{number}] Q: {m.entry.question}\nA: {m.entry.answer}"
        for number, m in enumerate(matches, start=1)
    )
    system = (
        "You are a customer support assistant. Answer the visitor's last message using only "
        "the knowledge below, briefly and politely, in the visitor's language. If the knowledge "
        f"does not answer it, reply with exactly {LLM_HANDOFF} and nothing else.\n\n"
        f"Knowledge:\n{knowledge or '(none)'}"
    )
    conversation = [
        {"role": "assistant" if m.is_support_sender else "user", "content": m.body} for m in history
    ]
    return [
        {"role": "system", "content": system},
        *conversation,
        {"role": "user", "content": message.body},
    ]


def llm_answer(message: Message, history: list[Message], *, timeout: float) -> Answer:
    """The model's answer from the best entries; raises LlmError (or LlmTimeout) on failure.

    Its sources are the entries the model was given (it is asked to answer from them only; which
    of them it used, it does not say), its confidence the ranking's in the best of them."""
    matches = builtin_matches(message, history, limit=settings.BOT_LLM_ENTRIES)
    text = llm_chat(messages=llm_messages(message, history, matches), timeout=timeout)
    if text.strip().strip(".").upper() == LLM_HANDOFF:
        return Answer(
            text=handoff_message(message.account_id),
            handoff=True,
            reason=HandOff.Reason.LLM,
            confidence=best_confidence(matches),
        )
    return Answer(text=text, sources=answer_sources(matches), confidence=best_confidence(matches))
