"""Every answer is bounded: a room nests at most ROOM_MESSAGES_MAX of its messages (the newest,
oldest first) and counts them all in `message_count`; the whole history pages through
`GET /messages/?room=<uuid>` (docs/api.md)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from askhandle.api.fast_lists import pages

from .factories import MessageFactory, RoomFactory
from .test_fast_lists import drf_path

ROOMS = "/api/v1/rooms/"


@pytest.fixture(autouse=True)
def _bounded(settings, no_rate_limits):
    settings.ROOM_MESSAGES_MAX = 3
    # Pages and rendered groups kept by earlier tests were made under another bound.
    pages.pages.clear()
    pages.fragments.clear()


def room_with(account, count, **room_fields):
    room = RoomFactory(account=account, **room_fields)
    start = timezone.now() - timedelta(hours=1)
    for index in range(count):
        MessageFactory(
            account=account, room=room, body=f"m{index}", sent_at=start + timedelta(minutes=index)
        )
    return room


def bodies(room_json):
    return [message["body"] for message in room_json["messages"]]


def test_list_and_detail_nest_the_newest_messages_oldest_first(alice, bob):
    busy = room_with(alice.user, 7, label="busy")
    quiet = room_with(alice.user, 2, label="quiet")
    room_with(bob.user, 5, label="busy")

    listed = {room["label"]: room for room in alice.client.get(ROOMS).json()["results"]}
    assert set(listed) == {"busy", "quiet"}
    assert bodies(listed["busy"]) == ["m4", "m5", "m6"]
    assert listed["busy"]["message_count"] == 7
    assert bodies(listed["quiet"]) == ["m0", "m1"]
    assert listed["quiet"]["message_count"] == 2

    detail = alice.client.get(f"{ROOMS}busy/").json()
    assert bodies(detail) == ["m4", "m5", "m6"]
    assert detail["message_count"] == 7
    assert str(busy.uuid) == detail["uuid"]
    assert str(quiet.uuid) == listed["quiet"]["uuid"]

    theirs = bob.client.get(f"{ROOMS}busy/").json()
    assert bodies(theirs) == ["m2", "m3", "m4"]
    assert theirs["message_count"] == 5


def test_fast_path_and_drfs_path_agree_on_the_bound(alice, bob, monkeypatch):
    room_with(alice.user, 7, label="busy")
    room_with(alice.user, 1, label="quiet")
    room_with(bob.user, 4)
    for url in (ROOMS, f"{ROOMS}?limit=1", f"{ROOMS}?limit=1&offset=1"):
        fast = alice.client.get(url)
        assert fast.status_code == 200
        assert fast.content == drf_path(monkeypatch, alice.client, url).content, url


def test_a_new_message_moves_the_window(alice):
    from messaging.services import message_create

    room = room_with(alice.user, 3, label="busy", is_bot_use=False)
    assert bodies(alice.client.get(ROOMS).json()["results"][0]) == ["m0", "m1", "m2"]

    message_create(account=alice.user, room=room, answer="none", body="newest")

    found = alice.client.get(ROOMS).json()["results"][0]
    assert bodies(found) == ["m1", "m2", "newest"]
    assert found["message_count"] == 4


def test_the_whole_history_pages_through_messages(alice, bob):
    room = room_with(alice.user, 7)
    room_with(bob.user, 3)
    seen, url = [], f"/api/v1/messages/?room={room.uuid}&limit=2"
    while url:
        body = alice.client.get(url).json()
        seen += [message["body"] for message in body["results"]]
        url = body["next"]
    assert sorted(seen) == [f"m{index}" for index in range(7)]


def test_a_new_room_counts_no_messages(alice):
    response = alice.client.post(ROOMS, {"name": "n"}, format="json")
    assert response.status_code == 201
    assert response.json()["messages"] == []
    assert response.json()["message_count"] == 0


def test_an_update_answers_the_bounded_room(alice):
    room_with(alice.user, 5, label="busy")
    response = alice.client.patch(f"{ROOMS}busy/", {"name": "renamed"}, format="json")
    assert response.status_code == 200
    assert bodies(response.json()) == ["m2", "m3", "m4"]
    assert response.json()["message_count"] == 5


def test_the_lead_export_nests_bounded_rooms(alice, bob):
    room = room_with(alice.user, 5, label="busy")
    MessageFactory(account=alice.user, room=room, body="it is me", email="ann@example.com")
    lead = alice.client.post("/api/v1/leads/", {"email": "ann@example.com"}, format="json")
    room_with(bob.user, 4)
    export = alice.client.get(f"/api/v1/leads/{lead.json()['uuid']}/export/")
    assert export.status_code == 200
    rooms = export.json()["rooms"]
    assert [room["message_count"] for room in rooms] == [6]
    assert bodies(rooms[0]) == ["m3", "m4", "it is me"]
