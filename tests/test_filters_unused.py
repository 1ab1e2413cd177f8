"""A list request that uses none of its FilterSet's parameters skips the FilterSet
(askhandle.api.filters.FilterBackend): its answer must be exactly what the FilterSet gives."""

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from askhandle.api import filters
from leads.filters import LeadFilter
from messaging.filters import MessageFilter
from rooms.filters import RoomFilter

from .factories import LeadFactory, MessageFactory, RoomFactory


def request_with(query):
    return Request(APIRequestFactory().get("/api/v1/messages/", query))


@pytest.mark.parametrize(
    ("filterset_class", "query", "used"),
    [
        (MessageFilter, {}, False),
        (MessageFilter, {"limit": "5", "offset": "10", "cursor": "", "other": "x"}, False),
        (MessageFilter, {"room": "5f8e6c4e-8c1f-4f7a-9d9a-000000000000"}, True),
        (MessageFilter, {"start_date": "2024-03-09"}, True),
        (MessageFilter, {"end_date": ""}, True),  # present, even empty: the FilterSet decides
        (RoomFilter, {"limit": "5"}, False),
        (RoomFilter, {"start_date": "bad"}, True),
        (LeadFilter, {"end_date": "2024-03-09"}, True),
        (LeadFilter, {"room": "x"}, False),  # not a lead filter
    ],
)
def test_filters_used(filterset_class, query, used):
    assert filters.filters_used(filterset_class, request_with(query)) is used


@pytest.mark.parametrize("url", ["/api/v1/messages/", "/api/v1/rooms/", "/api/v1/leads/"])
@pytest.mark.parametrize(
    "query", [{}, {"limit": "3"}, {"limit": "3", "offset": "4"}, {"limit": "2", "cursor": ""}]
)
def test_unfiltered_answers_are_what_the_filterset_gives(url, query, alice, bob, monkeypatch):
    for account in (alice.user, bob.user):
        for _ in range(3):
            room = RoomFactory(account=account)
            MessageFactory.create_batch(2, account=account, room=room)
            LeadFactory(account=account)

    made = []
    original_init = filters.Unfiltered.__init__

    def spy(self, *args):
        made.append(self)
        original_init(self, *args)

    monkeypatch.setattr(filters.Unfiltered, "__init__", spy)
    skipped = alice.client.get(url, query)
    assert len(made) == 1  # the FilterSet was skipped
    monkeypatch.setattr(filters, "filters_used", lambda filterset_class, request: True)
    through_filterset = alice.client.get(url, query)

    assert skipped.status_code == through_filterset.status_code == 200
    assert skipped.content == through_filterset.content
    assert skipped.json()["count"] > 0
