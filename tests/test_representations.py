"""The serializers' hand-written `to_representation` (a hot path) renders exactly what their
declared fields would: a field added to `Meta.fields` but not to the written-out version fails
here."""

import datetime as dt

import pytest
from django.db.models import Prefetch
from rest_framework import serializers

from leads.serializers import LeadSerializer
from messaging.models import Message
from messaging.serializers import MessageSerializer
from rooms.models import Room
from rooms.serializers import RoomSerializer

from .factories import LeadFactory, MessageFactory, RoomFactory


def field_by_field(serializer_class, instance, request):
    """DRF's own rendering through the declared fields."""
    serializer = serializer_class(instance, context={"request": request})
    return serializers.ModelSerializer.to_representation(serializer, instance)


@pytest.fixture
def request_for(rf):
    def make(user):
        request = rf.get("/")
        request.user = user
        return request

    return make


def test_messages(alice, request_for):
    room = RoomFactory(account=alice.user, label="r-1")
    messages = [
        MessageFactory(account=alice.user, room=room),
        MessageFactory(
            account=alice.user,
            room=room,
            body="Grüße \u2028 <b>",
            email="m@example.com",
            phone_number="+33 1",
            is_support_sender=True,
            support_answer="",
            terminated=True,
            sent_at=dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.UTC),
        ),
        MessageFactory(
            account=alice.user,
            room=room,
            support_answer="An answer",
            sent_at=dt.datetime(2024, 3, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ),
    ]
    for message in messages:
        expected = field_by_field(MessageSerializer, message, request_for(alice.user))
        assert MessageSerializer(message).data == expected
        assert list(MessageSerializer(message).data) == list(expected)


def test_rooms(alice, request_for):
    empty = RoomFactory(account=alice.user, rating=None)
    full = RoomFactory(account=alice.user, rating=4, is_bot_use=False, greeting_message="Hi")
    MessageFactory.create_batch(3, account=alice.user, room=full)
    for room in Room.objects.filter(pk__in=[empty.pk, full.pk]).prefetch_related("messages"):
        expected = field_by_field(RoomSerializer, room, request_for(alice.user))
        assert RoomSerializer(room).data == expected
        assert list(RoomSerializer(room).data) == list(expected)


def test_leads(alice, request_for):
    for lead in [LeadFactory(account=alice.user), LeadFactory(account=alice.user, referrer="x")]:
        expected = field_by_field(LeadSerializer, lead, request_for(alice.user))
        assert LeadSerializer(lead).data == expected
        assert list(LeadSerializer(lead).data) == list(expected)


def test_room_lists_render_messages_as_the_serializer_does(alice, request_for):
    """The list renders its page's messages from rows (messages_by_room)."""
    rooms = [RoomFactory(account=alice.user) for _ in range(3)]
    MessageFactory.create_batch(4, account=alice.user, room=rooms[0], support_answer="Yes")
    MessageFactory(account=alice.user, room=rooms[2], email="m@example.com", terminated=True)

    listed = alice.client.get("/api/v1/rooms/").json()["results"]

    request = request_for(alice.user)
    expected = [
        field_by_field(RoomSerializer, room, request)
        for room in Room.objects.filter(account=alice.user)
        .order_by("-created_at", "-id")
        .prefetch_related(Prefetch("messages", Message.objects.order_by("sent_at", "id")))
    ]
    assert listed == expected
    assert [len(room["messages"]) for room in listed] == [1, 0, 4]


def test_message_lists_render_rows_as_the_serializer_does(alice, bob, request_for):
    """The messages list renders rows (message_row_representation), not instances."""
    rooms = [RoomFactory(account=alice.user, label=label) for label in ("r-1", "r-2")]
    MessageFactory(account=alice.user, room=rooms[0])
    MessageFactory(
        account=alice.user,
        room=rooms[1],
        body="Grüße \u2028 <b>",
        email="m@example.com",
        phone_number="+33 1",
        is_support_sender=True,
        support_answer="An answer",
        terminated=True,
        sent_at=dt.datetime(2024, 3, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    )
    MessageFactory.create_batch(3, account=alice.user, room=rooms[0], support_answer="")
    MessageFactory(account=bob.user, room=RoomFactory(account=bob.user))
    request = request_for(alice.user)
    expected = [
        field_by_field(MessageSerializer, message, request)
        for message in Message.objects.filter(account=alice.user).order_by("-sent_at", "-id")
    ]
    for query in ({}, {"cursor": ""}, {"room": str(rooms[1].uuid)}, {"limit": 2, "offset": 1}):
        listed = alice.client.get("/api/v1/messages/", query).json()["results"]
        if "room" in query:
            assert listed == [m for m in expected if m["room"]["uuid"] == query["room"]]
        elif "offset" in query:
            assert listed == expected[1:3]
        else:
            assert listed == expected
        assert all(list(row) == list(expected[0]) for row in listed)
