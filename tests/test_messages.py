import datetime as dt
import uuid

import pytest

from messaging.models import Message

from .factories import MessageFactory, RoomFactory

URL = "/api/v1/messages/"
FIELDS = [
    "uuid",
    "room",
    "body",
    "nickname",
    "email",
    "phone_number",
    "is_support_sender",
    "sent_at",
    "support_answer",
    "terminated",
]
# Extensions, after the reference's fields (clients that read those are unaffected).
EXTENSION_FIELDS = ["support_answer_sources", "support_answer_confidence"]


@pytest.fixture
def room(alice):
    return RoomFactory(account=alice.user)


def test_create_as_in_the_reference(alice, room):
    payload = {
        "body": "Hello!",
        "email": "mary@example.com",
        "nickname": "Mary",
        "room": {"uuid": str(room.uuid)},
    }
    response = alice.client.post(URL, payload, format="json")

    assert response.status_code == 201
    body = response.json()
    assert list(body) == FIELDS + EXTENSION_FIELDS
    assert body | {"uuid": None, "sent_at": None} == {
        "uuid": None,
        "room": {"uuid": str(room.uuid), "label": room.label},
        "body": "Hello!",
        "nickname": "Mary",
        "email": "mary@example.com",
        "phone_number": "",
        "is_support_sender": False,
        "sent_at": None,
        "support_answer": None,
        "terminated": False,
        "support_answer_sources": [],
        "support_answer_confidence": None,
    }
    message = Message.objects.get(uuid=body["uuid"])
    assert (message.account, message.room) == (alice.user, room)


def test_room_as_a_bare_uuid_and_as_form_data(alice, room):
    response = alice.client.post(URL, {"body": "Hi", "room": str(room.uuid)}, format="json")
    assert response.status_code == 201
    response = alice.client.post(URL, {"body": "Hi", "room": str(room.uuid)})  # multipart
    assert response.status_code == 201
    response = alice.client.post(
        URL,
        f"body=Hi&room={room.uuid}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201
    assert room.messages.count() == 3


def test_another_accounts_room_is_refused_like_a_missing_one(alice, bob):
    theirs = RoomFactory(account=bob.user)
    missing = uuid.uuid4()
    for room_uuid in [theirs.uuid, missing]:
        response = alice.client.post(
            URL, {"body": "Hi", "room": {"uuid": str(room_uuid)}}, format="json"
        )
        assert (response.status_code, response.json()) == (
            400,
            {"room": [f'Invalid room "{room_uuid}" - object does not exist.']},
        )
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"body": "Hi"}, {"room": ["This field is required."]}),
        ({"body": "Hi", "room": None}, {"room": ["This field may not be null."]}),
        (
            {"body": "Hi", "room": {}},
            {"room": ['Expected a room object {"uuid": "<room uuid>"} or a room uuid string.']},
        ),
        (
            {"body": "Hi", "room": 42},
            {"room": ['Expected a room object {"uuid": "<room uuid>"} or a room uuid string.']},
        ),
        ({"body": "Hi", "room": {"uuid": "nope"}}, {"room": ["Must be a valid UUID."]}),
        ({"body": "Hi", "room": "nope"}, {"room": ["Must be a valid UUID."]}),
    ],
)
def test_bad_room_references(payload, errors, alice):
    response = alice.client.post(URL, payload, format="json")
    assert (response.status_code, response.json()) == (400, errors)
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "This field is required."),
        ({"body": ""}, "This field may not be blank."),
        ({"body": "   "}, "This field may not be blank."),
        ({"body": None}, "This field may not be null."),
        ({"body": ["x"]}, "Not a valid string."),
        ({"body": "x" * 10001}, "Ensure this field has no more than 10000 characters."),
        ({"body": "nul\u0000byte"}, "Null characters are not allowed."),
    ],
)
def test_body_is_required_and_not_blank(body, error, alice, room):
    response = alice.client.post(URL, {"room": {"uuid": str(room.uuid)}} | body, format="json")
    assert (response.status_code, response.json()) == (400, {"body": [error]})
    assert Message.objects.count() == 0


def test_invalid_email_is_refused(alice, room):
    response = alice.client.post(
        URL, {"body": "Hi", "room": str(room.uuid), "email": "mary@"}, format="json"
    )
    assert (response.status_code, response.json()) == (
        400,
        {"email": ["Enter a valid email address."]},
    )


def test_support_sender_is_writable_answer_fields_are_not(alice, room):
    response = alice.client.post(
        URL,
        {
            "body": "An agent's reply",
            "room": str(room.uuid),
            "is_support_sender": True,
            "support_answer": "injected",
            "terminated": True,
            "support_answer_sources": [{"uuid": str(uuid.uuid4()), "question": "injected"}],
            "support_answer_confidence": 1.0,
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["is_support_sender"], body["support_answer"], body["terminated"]) == (
        True,
        None,
        False,
    )
    assert (body["support_answer_sources"], body["support_answer_confidence"]) == ([], None)
    message = Message.objects.get(uuid=body["uuid"])
    assert (message.support_answer_sources, message.support_answer_confidence) == ([], None)


def test_list_is_newest_first_and_filters_by_room(alice, bob, room):
    start = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    other_room = RoomFactory(account=alice.user)
    first = MessageFactory(account=alice.user, room=room, sent_at=start)
    second = MessageFactory(account=alice.user, room=room, sent_at=start + dt.timedelta(days=1))
    elsewhere = MessageFactory(account=alice.user, room=other_room, sent_at=start)
    bobs = MessageFactory(account=bob.user)

    everything = alice.client.get(URL).json()
    # Same time: the later row first.
    assert [m["uuid"] for m in everything["results"]] == [
        str(second.uuid),
        str(elsewhere.uuid),
        str(first.uuid),
    ]
    in_room = alice.client.get(URL, {"room": str(room.uuid)}).json()
    assert [m["uuid"] for m in in_room["results"]] == [str(second.uuid), str(first.uuid)]
    assert in_room["count"] == 2
    # Another account's room matches nothing of yours; it does not reveal their messages.
    assert alice.client.get(URL, {"room": str(bobs.room.uuid)}).json()["count"] == 0
    response = alice.client.get(URL, {"room": "not-a-uuid"})
    assert (response.status_code, response.json()) == (400, {"room": ["Enter a valid UUID."]})


def test_date_filters_use_sent_at(alice, room):
    early = MessageFactory(
        account=alice.user, room=room, sent_at=dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC)
    )
    MessageFactory(account=alice.user, room=room, sent_at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC))

    body = alice.client.get(URL, {"start_date": "2024-01-01", "end_date": "2024-01-01"}).json()

    assert [m["uuid"] for m in body["results"]] == [str(early.uuid)]


def test_retrieve_returns_what_create_returned(alice, room):
    created = alice.client.post(URL, {"body": "Hi", "room": str(room.uuid)}, format="json")
    assert alice.client.get(f"{URL}{created.json()['uuid']}/").json() == created.json()


@pytest.mark.parametrize("bad", ["not-a-uuid", "12345678-1234-1234-1234-12345678901g", "1"])
def test_malformed_uuid_in_path_is_a_json_404(bad, alice):
    response = alice.client.get(f"{URL}{bad}/")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
