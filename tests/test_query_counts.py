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
