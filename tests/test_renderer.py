"""The orjson renderer writes the very bytes DRF's JSONRenderer would."""

import datetime as dt
import decimal
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from askhandle.api.renderers import JSONRenderer, Rendered

from .factories import MessageFactory, RoomFactory

PAYLOADS = [
    {"count": 0, "next": None, "previous": None, "results": []},
    {"text": 'Grüße "quoted" \\ \n\t\r\b\f \x00\x1f\x7f \u2028 \u2029 😀 <b>&'},
    {"detail": ErrorDetail("Invalid token.", code="authentication_failed")},
    {"room": [ErrorDetail("Must be a valid UUID.", code="invalid")]},
    ReturnDict({"a": 1, "b": [True, False, None]}, serializer=None),
    ReturnList([{"nested": {"deep": [1, 2, 3]}}], serializer=None),
    {"when": dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC), "day": dt.date(2024, 1, 2)},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "price": decimal.Decimal("1.50")},
    {"lazy": gettext_lazy("This field is required."), "big": 2**63 - 1, "float": 0.1},
    {"lone surrogate": "\ud800"},
    {1: "int key"},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_same_bytes_as_drf(payload):
    try:
        expected = DRFJSONRenderer().render(payload)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            JSONRenderer().render(payload)
        return
    assert JSONRenderer().render(payload) == expected


def test_indent_and_none_as_drf():
    payload = {"a": [1, {"b": 2}]}
    media = "application/json; indent=2"
    assert JSONRenderer().render(payload, media) == DRFJSONRenderer().render(payload, media)
    assert JSONRenderer().render(None) == b""


def test_api_answers_are_the_same_bytes(alice):
    room = RoomFactory(account=alice.user)
    MessageFactory.create_batch(3, account=alice.user, room=room, body="Hé \u2028 ok")
    for url in ["/api/v1/rooms/", "/api/v1/messages/", "/api/v1/leads/?limit=x"]:
        response = alice.client.get(url)
        assert response.content == DRFJSONRenderer().render(response.json())


def test_rendered_parts_are_placed_as_they_are():
    messages = [{"body": 'Hé \u2028 "x"', "n": 1}]
    part = Rendered(JSONRenderer().render(messages))
    payload = {"results": [{"label": "a", "messages": part}]}
    plain = {"results": [{"label": "a", "messages": messages}]}

    assert JSONRenderer().render(payload) == DRFJSONRenderer().render(plain)
    # A line separator around the parts is escaped too.
    payload["results"][0]["name"] = plain["results"][0]["name"] = "a\u2029b"
    assert JSONRenderer().render(payload) == DRFJSONRenderer().render(plain)
    assert b"\\u2029b" in JSONRenderer().render(payload)
    indent = "application/json; indent=2"
    assert JSONRenderer().render(payload, indent) == DRFJSONRenderer().render(plain, indent)
