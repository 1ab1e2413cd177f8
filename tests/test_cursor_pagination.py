"""`?cursor=`: keyset pages over every list, beside limit/offset (docs/api.md)."""

import base64
import datetime as dt
import json

import pytest
from django.db import connection

from leads.models import Lead
from messaging.models import Message
from rooms.models import Room

from .factories import LeadFactory, MessageFactory, RoomFactory

T0 = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)


def walk(account, url):
    """Follow `next` from `url` to the end; every page's `count` and `previous` checked."""
    seen, pages, count = [], 0, None
    while url:
        response = account.client.get(url)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["previous"] is None
        count = body["count"] if count is None else count
        assert body["count"] == count
        seen += body["results"]
        url, pages = body["next"], pages + 1
        assert pages < 100
    return seen, count, pages


@pytest.fixture
def messages(alice, bob):
    room = RoomFactory(account=alice.user)
    other = RoomFactory(account=alice.user)
    made = []
    for i in range(23):
        # Groups of three share a timestamp: the id breaks the ties.
        made.append(
            MessageFactory(
                account=alice.user,
                room=room if i % 4 else other,
                sent_at=T0 + dt.timedelta(minutes=i // 3),
            )
        )
    MessageFactory.create_batch(3, account=bob.user)
    return made


def test_walks_every_message_once_in_list_order(alice, messages):
    seen, count, pages = walk(alice, "/api/v1/messages/?cursor=&limit=5")

    expected = list(
        Message.objects.filter(account=alice.user)
        .order_by("-sent_at", "-id")
        .values_list("uuid", flat=True)
    )
    assert [item["uuid"] for item in seen] == [str(uuid) for uuid in expected]
    assert count == 23
    assert pages == 5
    offset_pages = alice.client.get("/api/v1/messages/?limit=100").json()["results"]
    assert seen == offset_pages


def test_filters_apply_to_cursor_pages(alice, messages):
    room = Room.objects.filter(account=alice.user).order_by("id").first()
    seen, count, _ = walk(alice, f"/api/v1/messages/?cursor=&limit=4&room={room.uuid}")
    assert count == len(seen) == room.messages.count()
    assert {item["room"]["uuid"] for item in seen} == {str(room.uuid)}

    seen, count, _ = walk(
        alice, "/api/v1/messages/?cursor=&limit=2&start_date=2024-05-01T12:02:00Z"
    )
    assert (
        count
        == len(seen)
        == Message.objects.filter(
            account=alice.user, sent_at__gte=T0 + dt.timedelta(minutes=2)
        ).count()
    )


@pytest.mark.parametrize("resource", ["rooms", "leads"])
def test_rooms_and_leads(alice, bob, resource):
    for i in range(7):
        RoomFactory(account=alice.user, created_at=T0 + dt.timedelta(hours=i // 2))
        LeadFactory(account=alice.user, created_at=T0 + dt.timedelta(hours=i // 2))
    RoomFactory(account=bob.user)
    seen, count, pages = walk(alice, f"/api/v1/{resource}/?cursor=&limit=3")
    model = Room if resource == "rooms" else Lead
    key = "label" if resource == "rooms" else "uuid"
    expected = model.objects.filter(account=alice.user).order_by("-created_at", "-id")
    assert [item[key] for item in seen] == [str(getattr(obj, key)) for obj in expected]
    assert (count, pages) == (7, 3)


def test_rows_created_or_deleted_while_walking_are_never_repeated(alice, messages):
    first = alice.client.get("/api/v1/messages/?cursor=&limit=10").json()
    room = Room.objects.filter(account=alice.user).first()
    MessageFactory(account=alice.user, room=room)  # newer than everything: before the cursor
    Message.objects.filter(uuid=first["results"][-1]["uuid"]).delete()

    seen, _, _ = walk(alice, first["next"])
    uuids = [item["uuid"] for item in first["results"] + seen]
    assert len(uuids) == len(set(uuids)) == 23


def test_an_empty_list(alice):
    body = alice.client.get("/api/v1/messages/?cursor=").json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


def encode(values):
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        "e30",  # {}
        encode([]),
        encode(["2024-05-01T12:00:00+00:00"]),
        encode(["2024-05-01T12:00:00+00:00", 5, 6]),
        encode(["yesterday", 5]),
        encode(["2024-05-01T12:00:00+00:00", "five"]),
        encode([None, 5]),
        encode("2024"),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_bad_cursor_is_a_400(alice, messages, cursor):
    response = alice.client.get("/api/v1/messages/", {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_cursor_and_offset_do_not_combine(alice, messages):
    response = alice.client.get("/api/v1/messages/?cursor=&offset=5")
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Cannot be combined with offset."]}
    response = alice.client.get("/api/v1/messages/?cursor=&limit=0")
    assert response.json() == {"limit": ["Ensure this value is greater than or equal to 1."]}


def test_cursor_pages_have_constant_queries(
    alice, messages, django_assert_num_queries, no_rate_limits
):
    first = alice.client.get("/api/v1/messages/?cursor=&limit=5").json()
    for url in [first["next"], "/api/v1/rooms/?cursor=&limit=2", "/api/v1/leads/?cursor="]:
        # Key, (on PostgreSQL the data version,) count, page (+ the rooms' messages).
        expected = (4 if "/rooms/" in url else 3) + (connection.vendor == "postgresql")
        with django_assert_num_queries(expected):
            assert alice.client.get(url).status_code == 200
