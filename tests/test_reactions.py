"""The reactions to a new message: one ordered list, run in that order; how the bot answers is the
creator's explicit choice; the bot's answer sets the bot off no more; tenancy is a check that
`python -O` keeps."""

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from accounts.services import OtherAccountError
from bot import answerers
from bot import reactions as bot_reactions
from knowledge.models import KnowledgeEntry
from messaging import reactions
from messaging.models import Message
from messaging.reactions import Answering, MessageReactions, message_reactions
from messaging.services import message_create
from webhooks.models import Event, EventType
from webhooks.services import event_emit, webhook_create

from .concurrency import _closing
from .factories import RoomFactory

SHIPPING = "Standard shipping takes 3 to 5 business days."


def test_the_reactions_are_one_explicit_ordered_list():
    assert reactions.ORDER == (
        "lead_capture",
        "keyword_notify",
        "webhook_emit",
        "reply_answer",
        "bot_quiet",
        "bot_answer",
    )
    assert [
        (name, f"{reaction.__module__}.{reaction.__qualname__}")
        for name, reaction in message_reactions.reactions()
    ] == [
        ("lead_capture", "leads.reactions.lead_capture"),
        ("keyword_notify", "keywords.reactions.keyword_notify"),
        ("webhook_emit", "messaging.reactions.webhook_emit"),
        ("reply_answer", "messaging.reactions.reply_answer"),
        ("bot_quiet", "bot.reactions.bot_quiet"),
        ("bot_answer", "bot.reactions.bot_answer"),
    ]


def test_reactions_run_in_the_declared_order_whatever_the_order_of_registration():
    ran = []
    registry = MessageReactions(("first", "second", "third"))
    for name in ("third", "first", "second"):
        registry.register(name, lambda *, message, answer, name=name: ran.append((name, answer)))
    registry.run(message=None, answer=Answering.INLINE)
    assert ran == [("first", "inline"), ("second", "inline"), ("third", "inline")]


def test_a_reaction_is_declared_once_and_never_silently_missing(monkeypatch):
    registry = MessageReactions(("first", "second"))
    registry.register("first", lambda **kwargs: None)
    with pytest.raises(ImproperlyConfigured, match="not declared"):
        registry.register("elsewhere", lambda **kwargs: None)
    with pytest.raises(ImproperlyConfigured, match="twice"):
        registry.register("first", lambda **kwargs: None)
    with pytest.raises(ImproperlyConfigured, match="second"):
        registry.run(message=None, answer=Answering.INLINE)
    monkeypatch.setattr(reactions, "message_reactions", registry)
    assert [error.id for error in reactions.reactions_check(None)] == ["messaging.E001"]
    assert [error.msg for error in reactions.reactions_check(None)] == [
        "The message reaction 'second' is declared but no app registered it."
    ]


def test_the_installed_apps_register_every_reaction():
    assert reactions.reactions_check(None) == []


@pytest.fixture
def bot_room(alice):
    KnowledgeEntry.objects.create(
        account=alice.user, question="How long does shipping take?", answer=SHIPPING
    )
    return RoomFactory(account=alice.user, is_bot_use=True)


@pytest.fixture
def bot_calls(monkeypatch):
    """Each call of the bot's reaction, as (the message's sender is support, answer)."""
    calls = []
    real = message_reactions._reactions["bot_answer"]

    def recording(*, message, answer, prepared):
        calls.append((message.is_support_sender, answer))
        return real(message=message, answer=answer, prepared=prepared)

    monkeypatch.setitem(message_reactions._reactions, "bot_answer", recording)
    return calls


def test_the_bots_answer_does_not_set_the_bot_off_again(alice, bot_room, bot_calls):
    webhook_create(account=alice.user, event=EventType.MESSAGE_ADDED, target="https://x.test/h")
    response = alice.client.post(
        "/api/v1/messages/",
        {"room": str(bot_room.uuid), "body": "How long does shipping take?"},
        format="json",
    )
    assert (response.status_code, response.json()["support_answer"]) == (201, SHIPPING)
    # Its answer went through message_create (its own message.added event), with no answer.
    assert bot_calls == [(False, Answering.INLINE), (True, Answering.NONE)]
    assert bot_room.messages.filter(is_support_sender=True).count() == 1
    assert Event.objects.filter(type=EventType.MESSAGE_ADDED).count() == 2


def test_answering_none_leaves_a_visitor_message_unanswered(alice, bot_room):
    message = message_create(
        account=alice.user, room=bot_room, answer="none", body="How long does shipping take?"
    )
    message.refresh_from_db()
    assert message.support_answer is None
    assert bot_room.messages.count() == 1


def test_an_unknown_answering_is_refused(alice, bot_room):
    with pytest.raises(ValueError, match="later"):
        message_create(account=alice.user, room=bot_room, answer="later", body="Hi")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "headers, answer",
    [({}, Answering.INLINE), ({"HTTP_IDEMPOTENCY_KEY": "k-1"}, Answering.BACKGROUND)],
)
def test_the_api_view_chooses_how_the_bot_answers(alice, bot_room, bot_calls, headers, answer):
    response = alice.client.post(
        "/api/v1/messages/", {"room": str(bot_room.uuid), "body": "Hi"}, format="json", **headers
    )
    assert response.status_code == 201
    assert bot_calls[0] == (False, answer)


@pytest.fixture
def llm_on(monkeypatch, settings):
    """The model is 'configured' (never called: the inline half is only captured here)."""
    settings.BOT_ANSWER_BUDGET_SECONDS = 2.0
    monkeypatch.setattr(bot_reactions, "llm_enabled", lambda: True)


def inline_answers(callbacks):
    return [c for c in callbacks if getattr(c, "func", None) is bot_reactions._answer_within_budget]


def test_inline_answering_waits_for_the_model_after_the_commit(
    alice, bot_room, llm_on, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        message = message_create(account=alice.user, room=bot_room, answer="inline", body="Hi")
    assert len(inline_answers(callbacks)) == 1
    [task] = DBTaskResult.objects.all()
    assert task.args_kwargs["kwargs"] == {"message_id": message.pk}
    # The background task is the fallback: due once the answer budget is over.
    delay = (task.run_after - task.enqueued_at).total_seconds()
    assert 1.5 < delay < 2.5


def test_background_answering_leaves_the_answer_to_the_worker(
    alice, bot_room, llm_on, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        message = message_create(account=alice.user, room=bot_room, answer="background", body="Hi")
    assert inline_answers(callbacks) == []
    [task] = DBTaskResult.objects.all()
    assert task.args_kwargs["kwargs"] == {"message_id": message.pk}
    assert task.task.run_after is None  # due at once: nobody waits for an inline answer


def test_a_message_in_another_accounts_room_is_refused(alice, bob):
    theirs = RoomFactory(account=bob.user)
    with pytest.raises(OtherAccountError):
        message_create(account=alice.user, room=theirs, answer="inline", body="Hi")
    assert not Message.objects.exists()


def test_an_event_of_another_account_is_refused(alice, bob):
    theirs = RoomFactory(account=bob.user)
    webhook_create(account=alice.user, event=EventType.CHAT_ADDED, target="https://x.test/h")
    with transaction.atomic(), pytest.raises(OtherAccountError):
        event_emit(account=alice.user, event=EventType.CHAT_ADDED, instance=theirs)
    assert not Event.objects.exists()
    # (Outside any transaction event_emit refuses too: the test below, outside pytest's.)


def test_the_checks_hold_under_python_dash_o():
    """Asserts vanish under `python -O`; the tenancy and transaction checks must not."""
    script = textwrap.dedent(
        """
        import sys

        import django

        assert False, "asserts are on"  # removed by -O: execution goes on
        django.setup()
        from django.db import transaction

        from accounts.models import User
        from accounts.services import OtherAccountError
        from messaging.services import message_create
        from rooms.models import Room
        from webhooks.services import event_emit

        alice, theirs = User(pk=1), Room(pk=7, account_id=2)
        try:
            message_create(account=alice, room=theirs, answer="inline", body="Hi")
        except OtherAccountError:
            pass
        else:
            sys.exit("message_create took another account's room")
        try:
            event_emit(account=alice, event="chat.added", instance=theirs)
        except transaction.TransactionManagementError:
            pass
        else:
            sys.exit("event_emit ran outside a transaction")
        print("checked", sys.flags.optimize)
        """
    )
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "askhandle.settings",
        "SECRET_KEY": "test-only-secret-key",
        # The checks come before any query: an empty in-memory database will do.
        "DATABASE_URL": "sqlite://:memory:",
    }
    result = subprocess.run(
        [sys.executable, "-O", "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "checked 1"), result.stderr


def test_a_prepare_reads_before_the_message_and_its_reaction_gets_what_it_read():
    calls = []
    registry = MessageReactions(("first", "second"))
    registry.register("first", lambda *, message, answer: calls.append(("first", message)))
    registry.register(
        "second",
        lambda *, message, answer, prepared: calls.append(("second", message, prepared)),
        prepare=lambda *, account, room, answer, fields: (account, fields["body"]),
    )
    prepared = registry.prepare(
        account="a", room="r", answer=Answering.INLINE, fields={"body": "b"}
    )
    assert prepared == {"second": ("a", "b")}
    registry.run(message="m", answer=Answering.INLINE, prepared=prepared)
    registry.run(message="n", answer=Answering.INLINE)  # not prepared: the reaction reads itself
    assert calls == [
        ("first", "m"),
        ("second", "m", ("a", "b")),
        ("first", "n"),
        ("second", "n", None),
    ]


@pytest.fixture
def rankings(monkeypatch):
    """Each ranking of the bot, as the number of the account's messages when it ranked; and an
    event each ranking waits on (set: no wait)."""
    seen, go = [], threading.Event()
    go.set()
    real = answerers.knowledge_rank

    def ranking(**kwargs):
        seen.append(Message.objects.filter(account_id=kwargs["account_id"]).count())
        assert go.wait(10)
        return real(**kwargs)

    monkeypatch.setattr(answerers, "knowledge_rank", ranking)
    return seen, go


def test_the_bot_ranks_before_the_message_is_written(alice, bot_room, rankings):
    """The ranking (the visitor's text encoded, the knowledge searched) holds none of the
    message's locks: it is done before the message's transaction (`bot_ranked`)."""
    seen, _ = rankings
    response = alice.client.post(
        "/api/v1/messages/",
        {"room": str(bot_room.uuid), "body": "How long does shipping take?"},
        format="json",
    )
    assert (response.status_code, response.json()["support_answer"]) == (201, SHIPPING)
    assert seen == [0]  # ranked once, with the visitor's message not yet written
    assert bot_room.messages.count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time")
@pytest.mark.django_db(transaction=True)
def test_one_accounts_other_rooms_do_not_wait_while_the_bot_ranks(alice, bot_room, rankings):
    """On PostgreSQL one account's messages are written one at a time from their insert to their
    commit; a chat turn's ranking is outside that stretch, so while one room's turn ranks, a
    message to another room of the account is written and committed."""
    seen, go = rankings
    go.clear()
    other_room = RoomFactory(account=alice.user)
    errors, written = [], threading.Event()

    def turn():
        message_create(
            account=alice.user, room=bot_room, answer="inline", body="How long is shipping?"
        )

    def other():
        message_create(account=alice.user, room=other_room, answer="inline", body="Hello")
        written.set()

    # Each on a connection of its own; what they raise is in `errors`.
    turning = threading.Thread(target=_closing, args=(errors, turn))
    writing = threading.Thread(target=_closing, args=(errors, other))
    turning.start()
    try:
        while not seen:  # until the turn is ranking
            assert turning.is_alive(), errors
            turning.join(0.01)
        writing.start()
        assert written.wait(5), "the other room's message waited for the ranking"
    finally:
        go.set()
        turning.join(10)
        if writing.ident is not None:  # started
            writing.join(10)
    assert errors == []
    assert bot_room.messages.filter(is_support_sender=True).get().body == SHIPPING
    assert other_room.messages.get().body == "Hello"


def _statements(queries) -> list[str]:
    return [query["sql"] for query in queries]


def _first(statements, *words) -> int:
    return next(i for i, sql in enumerate(statements) if all(word in sql for word in words))


def test_the_keyword_and_webhook_lookups_run_before_the_message_is_written(alice, bob, receiver):
    """Out of the room's locked stretch (docs/performance.md, "One room's messages"): the
    account's keywords and whether it subscribes are read before the insert; the deliveries are
    still made from the subscriptions as they are in the transaction. Bob's keyword is not
    alice's."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from keywords.models import Keyword, KeywordNotification
    from keywords.services import keyword_save
    from webhooks.models import Delivery

    keyword_save(keyword=Keyword(account=alice.user, keyword="refund"))
    keyword_save(keyword=Keyword(account=bob.user, keyword="shipping"))
    hook = webhook_create(account=alice.user, event="message.added", target=receiver.url)
    room = RoomFactory(account=alice.user)
    with CaptureQueriesContext(db) as queries:
        message = message_create(
            account=alice.user, room=room, answer="background", body="A refund for shipping?"
        )
    statements = _statements(queries.captured_queries)
    insert = _first(statements, "INSERT", "messaging_message")
    assert _first(statements, "keywords_keyword") < insert
    assert _first(statements, "webhooks_webhook") < insert
    # With a subscription, it is read once more in the transaction, for the deliveries (and the
    # keyword notification's event reads its own).
    lookups = [sql for sql in statements if "webhooks_webhook" in sql and "message.added" in sql]
    assert len(lookups) == 2
    assert list(
        KeywordNotification.objects.filter(message=message).values_list("keyword", flat=True)
    ) == ["refund"]
    event = Event.objects.get(account=alice.user, type=EventType.MESSAGE_ADDED)
    assert list(Delivery.objects.filter(event=event).values_list("webhook", flat=True)) == [hook.pk]


def test_an_account_without_subscriptions_looks_none_up_in_the_transaction(alice, bob, receiver):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    webhook_create(account=bob.user, event="message.added", target=receiver.url)  # not alice's
    room = RoomFactory(account=alice.user)
    with CaptureQueriesContext(db) as queries:
        message_create(account=alice.user, room=room, answer="background", body="Hello")
    statements = _statements(queries.captured_queries)
    insert = _first(statements, "INSERT", "messaging_message")
    assert not [sql for sql in statements[insert:] if "webhooks_webhook" in sql]
    assert Event.objects.filter(account=alice.user).count() == 1


def test_a_subscription_deleted_after_the_lookup_gets_no_delivery_and_fails_nothing(
    alice, receiver, monkeypatch
):
    """The lookup before the transaction only says whether to look: the deliveries come from the
    subscriptions read in the transaction."""
    from webhooks.models import Delivery, Webhook

    hook = webhook_create(account=alice.user, event="message.added", target=receiver.url)
    looked_up = reactions.webhooks_subscribed

    def then_deleted(**kwargs):
        found = looked_up(**kwargs)
        Webhook.objects.filter(pk=hook.pk).delete()
        return found

    monkeypatch.setattr(reactions, "webhooks_subscribed", then_deleted)
    room = RoomFactory(account=alice.user)
    message_create(account=alice.user, room=room, answer="background", body="Hello")
    assert Event.objects.filter(account=alice.user, type=EventType.MESSAGE_ADDED).count() == 1
    assert not Delivery.objects.exists()


def test_an_unprepared_keyword_reaction_reads_the_keywords_itself(alice, bob):
    from keywords.models import Keyword, KeywordNotification
    from keywords.reactions import keyword_notify
    from keywords.services import keyword_save

    keyword_save(keyword=Keyword(account=alice.user, keyword="Refund"))
    keyword_save(keyword=Keyword(account=bob.user, keyword="hello"))
    room = RoomFactory(account=alice.user)
    with transaction.atomic():
        message = Message.objects.create(
            account=alice.user, room=room, body="hello, about my refund"
        )
        keyword_notify(message=message, answer=Answering.BACKGROUND, prepared=None)
    assert list(KeywordNotification.objects.values_list("keyword", flat=True)) == ["Refund"]
