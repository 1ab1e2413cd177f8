import datetime as dt
import re

import pytest
from rest_framework.exceptions import ValidationError

from messaging.models import Message
from rooms.models import Room
from rooms.services import room_create

from .factories import MessageFactory, RoomFactory

URL = "/api/v1/rooms/"
FIELDS = [
    "label",
    "uuid",
    "name",
    "rating",
    "is_bot_use",
    "greeting_message",
    "is_confirmed_form",
    "is_scheduling_only",
    "created_at",
    "messages",
    "message_count",
]


@pytest.mark.parametrize("url", [URL, URL.rstrip("/")])
def test_empty_post_with_no_body_creates_a_room_with_defaults(url, alice):
    # No body and no Content-Type at all, as the vendor's sample frontend sends it.
    response = alice.client.generic("POST", url)

    assert response.status_code == 201
    body = response.json()
    assert list(body) == FIELDS
    assert re.fullmatch(r"[0-9a-f]{16}", body["label"])
    assert body | {"label": None, "uuid": None, "created_at": None} == {
        "label": None,
        "uuid": None,
        "name": "",
        "rating": None,
        "is_bot_use": True,
        "greeting_message": "",
        "is_confirmed_form": False,
        "is_scheduling_only": False,
        "created_at": None,
        "messages": [],
        "message_count": 0,
    }
    assert Room.objects.get(uuid=body["uuid"]).account == alice.user


def test_empty_json_object_also_creates(alice):
    response = alice.client.post(URL, {}, format="json")
    assert response.status_code == 201
    second = alice.client.post(URL, {}, format="json")
    assert second.json()["label"] != response.json()["label"]


def test_create_with_every_field(alice):
    payload = {
        "label": "support-1",
        "name": "Support",
        "rating": 5,
        "is_bot_use": False,
        "greeting_message": "Hi! How can we help?",
        "is_confirmed_form": True,
        "is_scheduling_only": True,
    }
    response = alice.client.post(URL, payload, format="json")

    assert response.status_code == 201
    assert {k: response.json()[k] for k in payload} == payload
    assert alice.client.get(f"{URL}support-1/").json() == response.json()


def test_labels_are_unique_per_account_only(alice, bob):
    RoomFactory(account=bob.user, label="shared")
    assert alice.client.post(URL, {"label": "shared"}, format="json").status_code == 201

    response = alice.client.post(URL, {"label": "shared"}, format="json")

    assert (response.status_code, response.json()) == (
        400,
        {"label": ["A room with this label already exists."]},
    )
    assert Room.objects.filter(account=alice.user).count() == 1


def test_a_label_race_lost_at_the_database_is_a_400(alice):
    # The serializer's check can pass for two concurrent requests; the constraint decides.
    room_create(account=alice.user, label="taken")
    with pytest.raises(ValidationError) as error:
        room_create(account=alice.user, label="taken")
    assert error.value.detail == {"label": ["A room with this label already exists."]}


def test_generated_labels_retry_on_collision(alice, monkeypatch):
    RoomFactory(account=alice.user, label="aaaa")
    labels = iter(["aaaa", "aaaa", "bbbb"])
    monkeypatch.setattr("rooms.services.room_label_generate", lambda: next(labels))

    assert room_create(account=alice.user).label == "bbbb"


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"rating": 0}, {"rating": ["Ensure this value is greater than or equal to 1."]}),
        ({"rating": 6}, {"rating": ["Ensure this value is less than or equal to 5."]}),
        ({"rating": "good"}, {"rating": ["A valid integer is required."]}),
        ({"rating": 2.5}, {"rating": ["A valid integer is required."]}),
        ({"is_bot_use": "maybe"}, {"is_bot_use": ["Must be a valid boolean."]}),
        (
            {"label": "has spaces"},
            {
                "label": [
                    'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'
                ]
            },
        ),
        ({"label": "x" * 65}, {"label": ["Ensure this field has no more than 64 characters."]}),
        ({"name": "x" * 256}, {"name": ["Ensure this field has no more than 255 characters."]}),
    ],
)
def test_invalid_fields_answer_400_and_write_nothing(payload, errors, alice):
    response = alice.client.post(URL, payload, format="json")
    assert (response.status_code, response.json()) == (400, errors)
    assert Room.objects.count() == 0


def test_rating_is_updatable_and_clearable(alice):
    room = RoomFactory(account=alice.user)
    url = f"{URL}{room.label}/"

    assert alice.client.patch(url, {"rating": 4}, format="json").json()["rating"] == 4
    response = alice.client.patch(url, {"rating": 9}, format="json")
    assert response.status_code == 400
    room.refresh_from_db()
    assert room.rating == 4
    assert alice.client.patch(url, {"rating": None}, format="json").json()["rating"] is None


def test_label_can_be_changed_but_not_to_a_taken_one(alice):
    room = RoomFactory(account=alice.user, label="old")
    RoomFactory(account=alice.user, label="taken")

    response = alice.client.patch(f"{URL}old/", {"label": "taken"}, format="json")
    assert response.status_code == 400
    # Re-saving its own label is not a conflict.
    assert alice.client.put(f"{URL}old/", {"label": "old"}, format="json").status_code == 200

    response = alice.client.patch(f"{URL}old/", {"label": "new"}, format="json")
    assert response.status_code == 200
    assert alice.client.get(f"{URL}new/").json()["uuid"] == str(room.uuid)
    assert alice.client.get(f"{URL}old/").status_code == 404


def test_nested_messages_oldest_first(alice):
    room = RoomFactory(account=alice.user)
    start = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    later = MessageFactory(account=alice.user, room=room, sent_at=start + dt.timedelta(hours=1))
    first = MessageFactory(account=alice.user, room=room, sent_at=start)
    MessageFactory(account=alice.user)  # another room

    body = alice.client.get(f"{URL}{room.label}/").json()

    assert [m["uuid"] for m in body["messages"]] == [str(first.uuid), str(later.uuid)]
    assert body["messages"][0]["room"] == {"uuid": str(room.uuid), "label": room.label}
    listed = alice.client.get(URL).json()["results"]
    assert next(r for r in listed if r["label"] == room.label)["messages"] == body["messages"]


def test_delete_removes_the_rooms_messages(alice):
    room = RoomFactory(account=alice.user)
    MessageFactory.create_batch(2, account=alice.user, room=room)

    assert alice.client.delete(f"{URL}{room.label}/").status_code == 204
    assert Message.objects.count() == 0


def test_date_filters(alice):
    old = RoomFactory(account=alice.user, created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    RoomFactory(account=alice.user, created_at=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))

    body = alice.client.get(URL, {"end_date": "2024-01-01"}).json()

    assert [r["uuid"] for r in body["results"]] == [str(old.uuid)]
    response = alice.client.get(URL, {"start_date": "01-01-2024"})
    assert response.status_code == 400
    assert list(response.json()) == ["start_date"]


def test_malformed_label_in_path_is_a_json_404(alice):
    response = alice.client.get(f"{URL}bad%20label!/")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
