"""Queries per request are constant: they do not grow with the page size or nested rows."""

import pytest
from django.db import connection

from askhandle.api.fast_lists import pages

from .factories import KnowledgeEntryFactory, LeadFactory, MessageFactory, RoomFactory


@pytest.fixture(autouse=True)
def _no_rate_limits(no_rate_limits):
    pass


# Key lookup (with its account) + count + page (+ the nested messages of the page's rooms); on
# PostgreSQL the fast path reads the account's data version first (askhandle/api/fast_lists).
FAST = connection.vendor == "postgresql"
LIST_QUERIES = {"leads": 3 + FAST, "messages": 3 + FAST, "rooms": 4 + FAST, "knowledge": 3}
# Lists answered again from the page cache while nothing changed: the key and the version only.
CACHED_QUERIES = {"leads": 2, "messages": 2, "rooms": 2} if FAST else LIST_QUERIES
CACHED_QUERIES = {**CACHED_QUERIES, "knowledge": 3}


def populate(user, rooms):
    for _ in range(rooms):
        room = RoomFactory(account=user)
        LeadFactory(account=user)
        KnowledgeEntryFactory(account=user)
        MessageFactory.create_batch(3, account=user, room=room)


@pytest.mark.parametrize("resource", sorted(LIST_QUERIES))
@pytest.mark.parametrize("rooms", [1, 12])
@pytest.mark.parametrize("limit", [5, 50])
def test_list_queries_are_constant(resource, rooms, limit, alice, bob, django_assert_num_queries):
    populate(alice.user, rooms)
    populate(bob.user, 2)
    url = f"/api/v1/{resource}/?limit={limit}"
    alice.client.get(f"/api/v1/{resource}/?limit=1")  # the key's first use records its time
    pages.fragments.clear()  # rooms' messages built from the database

    with django_assert_num_queries(LIST_QUERIES[resource]):
        response = alice.client.get(url)

    assert response.status_code == 200
    assert len(response.json()["results"]) == min(limit, response.json()["count"])

    with django_assert_num_queries(CACHED_QUERIES[resource]):
        again = alice.client.get(url)
    assert again.status_code == 200
    assert again.content == response.content


def test_filtered_lists_are_constant(alice, django_assert_num_queries):
    populate(alice.user, 5)
    room = alice.user.rooms.first()
    alice.client.get("/api/v1/leads/")
    for url in [
        f"/api/v1/messages/?room={room.uuid}&start_date=2000-01-01",
        # A datetime bound inside a day: counters plus that day's rows, still one count query.
        f"/api/v1/messages/?room={room.uuid}&start_date=2000-01-01T10:00:00Z",
        "/api/v1/messages/?end_date=2999-01-01T10:00:00Z",
        "/api/v1/leads/?start_date=2000-01-01&end_date=2999-01-01&limit=2",
        "/api/v1/rooms/?end_date=2999-01-01",
    ]:
        expected = (4 if url.startswith("/api/v1/rooms/") else 3) + FAST
        with django_assert_num_queries(expected):
            assert alice.client.get(url).status_code == 200


def test_detail_queries(alice, django_assert_num_queries):
    populate(alice.user, 1)
    room = alice.user.rooms.get()
    message = room.messages.first()
    lead = alice.user.leads.get()
    alice.client.get("/api/v1/leads/")
    cases = [
        (f"/api/v1/leads/{lead.uuid}/", 2),
        (f"/api/v1/messages/{message.uuid}/", 2),
        (f"/api/v1/rooms/{room.label}/", 3),
    ]
    for url, expected in cases:
        with django_assert_num_queries(expected):
            assert alice.client.get(url).status_code == 200


# The chat turn (docs/performance.md): a visitor's message answered by the bot in the same
# response. Key lookup (with its account) + the room; the message's insert (in a test's
# transaction its savepoint and release, in production BEGIN and COMMIT); the account's
# keywords, the message.added event and its webhooks; the knowledge's candidates with their
# counts (on PostgreSQL in the same statement as the signature of the account's vectors; on
# SQLite the signature, the counts and the candidates apart); the answer's update; the bot's
# message, its event and webhooks. On PostgreSQL each message's insert locks its room (a trigger,
# messaging/migrations/0006: no statement of its own). No savepoint of the bot's, and no history
# for a message that does not need it.
TURN_QUERIES = 13 if FAST else 15


def test_chat_turn_queries(alice, bob, django_assert_num_queries):
    from bot.models import HandOff
    from knowledge.services import knowledge_entry_create
    from messaging.models import Message

    from .tasks import run_tasks

    for account in (alice, bob):
        for question, answer in [
            ("How long does shipping take?", "Standard shipping takes 3 to 5 business days."),
            ("What is your refund policy?", "You can return any item within 30 days."),
            ("How do I apply a discount code?", "Type the code in the box at checkout."),
        ]:
            knowledge_entry_create(account=account.user, question=question, answer=answer)
    run_tasks()  # the entries' vectors
    room = RoomFactory(account=alice.user, is_bot_use=True)

    def turn(body):
        response = alice.client.post(
            "/api/v1/messages/", {"body": body, "room": {"uuid": str(room.uuid)}}, format="json"
        )
        assert response.status_code == 201, response.json()
        return response.json()

    turn("What is your refund policy for returns?")  # the key's first use, the vectors read

    with django_assert_num_queries(TURN_QUERIES):
        answered = turn("How many days does standard shipping take?")
    assert answered["support_answer"] == "Standard shipping takes 3 to 5 business days."
    assert answered["support_answer_confidence"] >= 0.55

    # A short follow-up reads the room's history, its context: one query more.
    with django_assert_num_queries(TURN_QUERIES + 1):
        follow_up = turn("And refunds?")
    assert follow_up["support_answer"] == "You can return any item within 30 days."

    # A hand-off: the hand-off message, the room's bot turned off, the hand-off recorded, its
    # chat.handed_off event and webhooks (the alert email goes after the commit).
    with django_assert_num_queries(TURN_QUERIES + 5):
        handed_off = turn("Do you sell gift cards for my grandmother's birthday party?")
    assert handed_off["terminated"] is True
    assert HandOff.objects.filter(room=room, message__uuid=handed_off["uuid"]).exists()
    assert Message.objects.filter(room=room, is_support_sender=True).count() == 4
    assert not Message.objects.filter(account=bob.user).exists()
