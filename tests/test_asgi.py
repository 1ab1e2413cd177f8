"""askhandle/asgi.py: which requests wait on the event loop, and the API's one-hop WSGI bridge
(the server itself: tests/test_streams.py and the slow checks)."""

import asyncio
import json

import pytest
from django.core.wsgi import get_wsgi_application
from django.db import connections

from askhandle.asgi import WSGIBridge, is_live


@pytest.mark.parametrize(
    ("path", "query", "live"),
    [
        ("/api/v1/events/", b"", True),
        ("/api/v1/events", b"", True),
        ("/api/v1/rooms/abc/events/", b"", True),
        ("/admin/bot/inboxroom/events/", b"", True),
        ("/api/v1/messages/", b"room=x&wait=5", True),
        ("/api/v1/messages/3f0c/", b"wait=5", True),
        ("/api/v1/messages/", b"room=x", False),
        ("/api/v1/messages/", b"waiting=5", False),
        ("/api/v1/rooms/", b"wait=5", False),  # only messages long-poll
        ("/api/v1/rooms/abc/", b"", False),
        ("/healthz", b"", False),
    ],
)
def test_only_streams_and_long_polls_go_to_the_event_loop(path, query, live):
    assert is_live({"type": "http", "path": path, "query_string": query}) is live


def call(bridge, scope, messages):
    sent = []
    incoming = iter(messages)

    async def receive():
        return next(incoming, {"type": "http.disconnect"})

    async def send(message):
        sent.append(message)

    asyncio.run(bridge(scope, receive, send))
    return sent


def scope(method, path, headers=()):
    return {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5555),
        "headers": [(b"host", b"127.0.0.1"), *headers],
    }  # fmt: skip


@pytest.fixture
def bridge():
    bridge = WSGIBridge(get_wsgi_application(), threads=1)
    yield bridge
    # Its thread's database connection goes with it (the test database is dropped after).
    bridge.pool.submit(connections.close_all).result()
    bridge.pool.shutdown()


@pytest.mark.django_db(transaction=True)
def test_the_bridge_answers_as_django_does(alice, bridge):
    sent = call(
        bridge,
        scope("GET", "/api/v1/rooms/", [(b"authorization", f"Token {alice.key}".encode())]),
        [{"type": "http.request", "body": b"", "more_body": False}],
    )
    start, body = sent
    assert start["status"] == 200
    assert (b"content-type", b"application/json") in start["headers"]
    assert json.loads(body["body"])["count"] == 0
    unauthenticated = call(bridge, scope("GET", "/api/v1/rooms/"), [{"type": "http.request"}])
    assert unauthenticated[0]["status"] == 401


@pytest.mark.django_db(transaction=True)
def test_a_body_cut_short_is_refused_and_writes_nothing(alice, bridge):
    body = json.dumps({"name": "half a room"}).encode()
    headers = [
        (b"authorization", f"Token {alice.key}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    # Half the body, then the client goes away.
    sent = call(
        bridge,
        scope("POST", "/api/v1/rooms/", headers),
        [{"type": "http.request", "body": body[:10], "more_body": True}],
    )
    assert sent[0]["status"] == 400
    assert b"Incomplete request body" in sent[1]["body"]
    assert not alice.user.rooms.exists()
