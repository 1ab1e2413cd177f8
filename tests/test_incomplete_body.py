"""A body shorter than its Content-Length (the client disconnected mid-upload) is refused whole:
nothing of it is stored. The same over a real socket against gunicorn: slow/test_faults.py."""

import io
import json
from urllib.parse import urlencode

import pytest

from messaging.models import Message
from rooms.models import Room
from tests.factories import RoomFactory

INCOMPLETE = {"detail": "Incomplete request body: the connection closed before it ended."}


def post_cut_short(client, path, body: bytes, content_type: str, sent: int):
    """POST announcing the whole body's length but delivering only its first `sent` bytes."""
    return client.generic(
        "POST",
        path,
        data=body,
        content_type=content_type,
        CONTENT_LENGTH=str(len(body)),
        **{"wsgi.input": io.BytesIO(body[:sent])},
    )


def test_truncated_form_body_stores_nothing(alice):
    room = RoomFactory(account=alice.user)
    body = urlencode({"room": str(room.uuid), "body": "Hello, my order has not arrived"}).encode()
    # Cut inside the message text: what arrived is itself a valid form body ("body=Hello%2C+my").
    cut = body.index(b"order")
    alice.client.raise_request_exception = False

    response = post_cut_short(
        alice.client, "/api/v1/messages/", body, "application/x-www-form-urlencoded", cut
    )

    assert (response.status_code, response.json()) == (400, INCOMPLETE)
    assert not Message.objects.exists()


@pytest.mark.parametrize("missing", [1, 3])
def test_truncated_json_that_still_parses_stores_nothing(alice, missing):
    body = json.dumps({"name": "half"}).encode() + b"   "

    response = post_cut_short(
        alice.client, "/api/v1/rooms/", body, "application/json", len(body) - missing
    )

    assert (response.status_code, response.json()) == (400, INCOMPLETE)
    assert not Room.objects.exists()


def test_complete_bodies_are_unaffected(alice):
    room = RoomFactory(account=alice.user)
    body = urlencode({"room": str(room.uuid), "body": "Hello"}).encode()

    response = post_cut_short(
        alice.client, "/api/v1/messages/", body, "application/x-www-form-urlencoded", len(body)
    )

    assert response.status_code == 201, response.content
    assert Message.objects.get().body == "Hello"
