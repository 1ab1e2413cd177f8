"""Live updates as clients get them (docs/streams.md): the real server (askhandle.web: granian,
askhandle/asgi.py) on a database of its own, two worker processes, two accounts. Server-Sent
Events per room and per account, resuming with Last-Event-ID after a cut connection, long-polls
with `wait=`, the per-account bound, and the API's threads left free while connections wait.

The tests' own database lives in a transaction the server cannot see, so the server runs on a
scratch database of the same kind (an SQLite file, or a PostgreSQL database made for the module).
"""

import http.client
import json
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from slow import harness

pytestmark = pytest.mark.django_db(transaction=True)

BOUND = 6  # STREAMS_PER_ACCOUNT on this server


class Client:
    def __init__(self, port: int, key: str):
        self.port, self.key = port, key

    def call(self, method: str, path: str, payload=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        conn.request(
            method,
            path,
            body=None if payload is None else json.dumps(payload),
            headers={
                **({"Authorization": f"Token {self.key}"} if self.key else {}),
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        answer = conn.getresponse()
        body = answer.read()
        conn.close()
        return answer.status, (json.loads(body) if body else None), answer

    def room(self, **fields) -> dict:
        status, room, _ = self.call("POST", "/api/v1/rooms/", {"is_bot_use": False, **fields})
        assert status == 201, room
        return room

    def message(self, room: dict, body: str, **fields) -> dict:
        payload = {"room": {"uuid": room["uuid"]}, "body": body, "nickname": "Vi", **fields}
        status, message, _ = self.call("POST", "/api/v1/messages/", payload)
        assert status == 201, message
        return message

    def stream(self, path: str, last_event_id: str | None = None) -> "Stream":
        return Stream(self, path, last_event_id)


class Stream:
    """An SSE client: the connection stays open; `events()` parses frames as they come."""

    def __init__(self, client: Client, path: str, last_event_id: str | None):
        self.conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=15)
        headers = {"Accept": "text/event-stream"}
        if client.key:
            headers["Authorization"] = f"Token {client.key}"
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}

    def body(self) -> dict:
        return json.loads(self.response.read())

    def frames(self, count: int, timeout: float = 10) -> list[dict]:
        """The next `count` events (comments and `retry` skipped)."""
        deadline = time.monotonic() + timeout
        events, frame = [], {}
        while len(events) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(events)} of {count} events within {timeout} s")
            self.conn.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                line = self.response.readline().decode()
            except TimeoutError:
                continue
            if not line:
                raise AssertionError("the stream ended")
            line = line.rstrip("\n")
            if not line:
                if "data" in frame:
                    frame["data"] = json.loads(frame["data"])
                    events.append(frame)
                frame = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                if name in ("id", "event", "data"):
                    frame[name] = value
        return events

    def quiet(self, seconds: float) -> bool:
        """True if no event comes within `seconds` (comment lines are not events)."""
        try:
            self.frames(1, timeout=seconds)
        except AssertionError:
            return True
        return False

    def close(self):
        self.conn.close()


@pytest.fixture(scope="module")
def server():
    with harness.scratch_dir() as scratch:
        if connection.vendor == "postgresql":
            settings_dict = connection.settings_dict
            name = f"askhandle_streams_{uuid.uuid4().hex[:8]}"
            url = (
                f"postgres://{settings_dict['USER'] or 'postgres'}@{settings_dict['HOST']}:"
                f"{settings_dict['PORT'] or 5432}/{name}"
            )
            harness.ensure_database(url)
            env = harness.server_env(url)
        else:
            url, name = f"sqlite:///{scratch / 'db.sqlite3'}", None
            env = harness.server_env(url, SQLITE_PATH=str(scratch / "db.sqlite3"))
        env |= {
            "STREAMS_PER_ACCOUNT": str(BOUND),
            "STREAM_HEARTBEAT_SECONDS": "1",
            "ALLOWED_HOSTS": "127.0.0.1",
            "API_KEY_THROTTLE_RATE": "100000/min",
            "CLIENT_ADDRESS_THROTTLE_RATE": "100000/min",
            "BOT_EMBEDDINGS": "false",
            "WEB_LOG_LEVEL": "error",
        }
        try:
            harness.manage("migrate", "--noinput", "-v0", env=env)
            keys = [
                harness.manage("create_account", who, "--key-name", "k", env=env).splitlines()[-1]
                for who in ("alice", "bob")
            ]
            log = Path(scratch) / "server.log"
            with harness.Server(env, workers=2, threads=2, log=log) as running:
                yield running, keys
        finally:
            if name:
                import psycopg

                maintenance = url.rsplit("/", 1)[0] + "/postgres"
                with psycopg.connect(maintenance, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def alice(server):
    running, keys = server
    return Client(running.port, keys[0])


@pytest.fixture
def bob(server):
    running, keys = server
    return Client(running.port, keys[1])


def test_a_room_stream_gets_each_message_of_the_room_only(alice, bob):
    room, other = alice.room(), alice.room()
    stream = alice.stream(f"/api/v1/rooms/{room['label']}/events/")
    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-cache"
    visitor = alice.message(room, "Where is my order?")
    alice.message(other, "Not this room")
    bob.message(bob.room(), "Not this account")
    person = alice.message(room, "On its way!", is_support_sender=True, nickname="Pat")
    events = stream.frames(2)
    assert [e["event"] for e in events] == ["message", "message"]
    assert [e["data"]["uuid"] for e in events] == [visitor["uuid"], person["uuid"]]
    # The data is the message as the API rendered it when it was added.
    assert events[0]["data"] == {**visitor, "support_answer": None}
    assert events[1]["data"]["is_support_sender"] is True
    assert stream.quiet(1.5)  # nothing of the other room or account, heartbeats only
    stream.close()


def test_the_account_stream_gets_the_webhook_events(alice, bob):
    stream = alice.stream("/api/v1/events/")
    assert stream.status == 200
    status, keyword, _ = alice.call("POST", "/api/v1/keywords/", {"keyword": "refund"})
    assert status == 201, keyword
    room = alice.room(name="Events")
    bob.room(name="Not mine")
    message = alice.message(room, "I want a refund", email="dana@example.com")
    events = stream.frames(4)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "chat.added" and events[0]["data"]["uuid"] == room["uuid"]
    assert set(kinds[1:]) == {"message.added", "lead.added", "keyword_notification.added"}
    added = next(e for e in events if e["event"] == "message.added")
    assert added["data"]["uuid"] == message["uuid"]
    assert all(e["id"] for e in events) and len({e["id"] for e in events}) == 4
    assert stream.quiet(1.5)
    stream.close()


def test_a_cut_connection_resumes_with_nothing_lost_or_repeated(alice):
    room = alice.room()
    stream = alice.stream(f"/api/v1/rooms/{room['label']}/events/")
    first = [alice.message(room, f"before the cut {n}") for n in range(2)]
    seen = stream.frames(2)
    assert [e["data"]["uuid"] for e in seen] == [m["uuid"] for m in first]
    stream.conn.sock.shutdown(socket.SHUT_RDWR)  # cut mid-stream
    stream.close()
    missed = [alice.message(room, f"while away {n}") for n in range(3)]
    resumed = alice.stream(f"/api/v1/rooms/{room['label']}/events/", seen[-1]["id"])
    later = alice.message(room, "after the return")
    events = resumed.frames(4)
    assert [e["data"]["uuid"] for e in events] == [m["uuid"] for m in [*missed, later]]
    assert resumed.quiet(1.5)
    resumed.close()
    # The same cursor as a query parameter, for clients that cannot set the header.
    again = alice.stream(f"/api/v1/rooms/{room['label']}/events/?last_event_id={seen[-1]['id']}")
    assert [e["data"]["uuid"] for e in again.frames(4)] == [e["data"]["uuid"] for e in events]
    again.close()


def test_streams_answer_errors_as_json(alice, bob):
    room = alice.room()
    for client, path, status in [
        (Client(alice.port, ""), "/api/v1/events/", 401),
        (Client(alice.port, ""), f"/api/v1/rooms/{room['label']}/events/", 401),
        (bob, f"/api/v1/rooms/{room['label']}/events/", 404),  # the other account's room
        (alice, "/api/v1/rooms/no-such-room/events/", 404),
    ]:
        stream = client.stream(path)
        assert stream.status == status, path
        assert stream.headers["content-type"] == "application/json"
        assert "detail" in stream.body()
        stream.close()
    bad = alice.stream("/api/v1/events/", last_event_id="not-a-cursor")
    assert bad.status == 400
    assert "Last-Event-ID" in bad.body()
    bad.close()


def test_the_bound_of_live_connections_is_per_account(alice, bob):
    # Two worker processes: BOUND each, so 2 * BOUND + 1 connections meet a 429 somewhere.
    opened = [alice.stream("/api/v1/events/") for _ in range(2 * BOUND + 1)]
    statuses = [s.status for s in opened]
    assert statuses.count(429) >= 1, statuses
    refused = next(s for s in opened if s.status == 429)
    assert refused.headers["content-type"] == "application/json"
    assert "live connections" in refused.body()["detail"]
    # Another account is not affected by alice's connections.
    theirs = bob.stream("/api/v1/events/")
    assert theirs.status == 200
    for stream in [*opened, theirs]:
        stream.close()
    # Closed connections are released: alice can open streams again.
    deadline = time.monotonic() + 10
    while True:
        stream = alice.stream("/api/v1/events/")
        status = stream.status
        stream.close()
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200


def test_a_long_poll_of_a_message_answers_when_a_person_replies(alice):
    room = alice.room()
    message = alice.message(room, "Can someone help?")
    reply_at = {}

    def reply():
        time.sleep(1.0)
        reply_at["t"] = time.monotonic()
        alice.message(room, "Happy to help.", is_support_sender=True, nickname="Pat")

    threading.Thread(target=reply).start()
    started = time.monotonic()
    status, answer, _ = alice.call("GET", f"/api/v1/messages/{message['uuid']}/?wait=10")
    took = time.monotonic() - started
    assert status == 200
    assert answer["support_answer"] == "Happy to help."
    assert 0.9 < took < 5, took  # as soon as the reply is in, not after the whole wait
    # Nothing to wait for: an answered message comes back at once.
    started = time.monotonic()
    status, again, _ = alice.call("GET", f"/api/v1/messages/{message['uuid']}/?wait=10")
    assert status == 200 and again == answer and time.monotonic() - started < 1


def test_a_long_poll_answers_as_it_is_after_the_wait(alice):
    room = alice.room()
    message = alice.message(room, "Anyone?")
    started = time.monotonic()
    status, answer, _ = alice.call("GET", f"/api/v1/messages/{message['uuid']}/?wait=1.5")
    assert status == 200 and answer["support_answer"] is None
    assert 1.4 < time.monotonic() - started < 5
    started = time.monotonic()
    path = f"/api/v1/messages/?room={room['uuid']}&after={message['uuid']}&wait=1"
    status, page, _ = alice.call("GET", path)
    assert status == 200 and page["results"] == [] and page["count"] == 0
    assert 0.9 < time.monotonic() - started < 5


def test_a_long_poll_of_a_room_answers_with_the_next_messages(alice, bob):
    room = alice.room()
    first = alice.message(room, "first")

    def later():
        time.sleep(0.8)
        alice.message(alice.room(), "another room: no answer for this poll")
        bob.message(bob.room(), "another account")
        time.sleep(0.5)
        alice.message(room, "second")

    threading.Thread(target=later).start()
    started = time.monotonic()
    path = f"/api/v1/messages/?room={room['uuid']}&after={first['uuid']}&wait=10"
    status, page, _ = alice.call("GET", path)
    assert status == 200
    assert [m["body"] for m in page["results"]] == ["second"]
    assert 1.2 < time.monotonic() - started < 6


def test_long_poll_errors_are_json_and_wait_nothing(alice, bob):
    room = alice.room()
    message = alice.message(room, "hello")
    cases = [
        (alice, f"/api/v1/messages/{message['uuid']}/?wait=abc", 400),
        (alice, f"/api/v1/messages/{message['uuid']}/?wait=31", 400),
        (alice, f"/api/v1/messages/{message['uuid']}/?wait=-1", 400),
        (bob, f"/api/v1/messages/{message['uuid']}/?wait=10", 404),
        (Client(alice.port, ""), f"/api/v1/messages/{message['uuid']}/?wait=10", 401),
        (bob, f"/api/v1/messages/?room={room['uuid']}&after={message['uuid']}&wait=10", 400),
    ]
    for client, path, expected in cases:
        started = time.monotonic()
        status, body, answer = client.call("GET", path)
        assert status == expected, (path, body)
        assert answer.getheader("Content-Type") == "application/json"
        assert time.monotonic() - started < 2, path


def test_waiting_connections_hold_none_of_the_api_threads(alice):
    """2 workers x 2 API threads, and 6 connections waiting (3 streams, 3 long-polls; at most
    BOUND in either process): the API still answers at once."""
    room = alice.room()
    message = alice.message(room, "waiting")
    streams = [alice.stream("/api/v1/events/") for _ in range(3)]
    polls = []
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", alice.port, timeout=30)
        conn.request(
            "GET",
            f"/api/v1/messages/{message['uuid']}/?wait=20",
            headers={"Authorization": f"Token {alice.key}"},
        )
        polls.append(conn)
    time.sleep(0.5)
    started = time.monotonic()
    for _ in range(10):
        status, _, _ = alice.call("GET", "/api/v1/rooms/?limit=5")
        assert status == 200
    assert time.monotonic() - started < 5
    # And the waiting ones are all answered by one reply.
    alice.message(room, "answered", is_support_sender=True, nickname="Pat")
    for conn in polls:
        answer = conn.getresponse()
        assert answer.status == 200
        assert json.loads(answer.read())["support_answer"] == "answered"
        conn.close()
    for stream in streams:
        assert stream.status == 200
        stream.close()
