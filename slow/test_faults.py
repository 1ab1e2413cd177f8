"""Faults, on a private PostgreSQL cluster (the shared server is never restarted):

- PostgreSQL restarted while clients create messages: during the outage the server answers
  503 JSON (never a 500, never a dropped connection), it answers 201 again within 5 s of
  PostgreSQL being back without being restarted itself, and every message it answered 201 for
  is in the database afterwards.
- A client that sends its headers and part of the body, then disconnects: nothing is written.

    slow/run faults          # or: ./dev test slow/test_faults.py -s

FAULT_PG_PORT (default 15433) and FAULT_PG_OS_USER (postgres) choose the private cluster's port
and owner. Figures go to artifacts/faults.json.
"""

import asyncio
import json
import os
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import psycopg
import pytest

from slow import harness

CONNECTIONS = int(os.environ.get("FAULT_CONNECTIONS", "16"))
# How long PostgreSQL stays down (a restart for an upgrade or a failover takes seconds).
OUTAGE_SECONDS = float(os.environ.get("FAULT_OUTAGE_SECONDS", "3"))
RECOVERY_LIMIT_SECONDS = 5.0
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def postgres():
    with harness.PrivatePostgres() as cluster:
        yield cluster


@dataclass
class Target:
    """The running server and what the clients need to post messages to it."""

    server: harness.Server
    key: str
    rooms: list[str]

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture(scope="module")
def server(postgres):
    # Its clients send far more than CLIENT_ADDRESS_THROTTLE_RATE from one address: the limits
    # are off, as what is checked is the outage (the limits: tests/test_throttling.py).
    env = harness.server_env(
        postgres.url, API_KEY_THROTTLE_RATE="off", CLIENT_ADDRESS_THROTTLE_RATE="off"
    )
    harness.manage("migrate", "--noinput", "-v0", env=env)
    key = harness.account_with_key(env, "faults")
    with harness.Server(env, workers=4) as running:
        yield Target(running, key, asyncio.run(_rooms(running.port, key, 4)))


async def _rooms(port: int, key: str, count: int) -> list[str]:
    connection = harness.Connection(port)
    rooms = []
    for _ in range(count):
        answer = await connection.request(
            "POST", "/api/v1/rooms/", key=key, payload={"is_bot_use": False}
        )
        assert answer.status == 201, answer
        rooms.append(answer.json()["uuid"])
    await connection.close()
    return rooms


def stored_uuids(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT uuid::text FROM messaging_message")}


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("messaging_message", "rooms_room", "leads_lead")
        }


async def load_through_restart(server, postgres, *, before: float, after: float):
    """Clients post messages back to back; `before` seconds in, PostgreSQL is restarted (in a
    thread, so the clients keep going); they stop `after` seconds after it is back."""
    answers: list[tuple[float, float, harness.Answer]] = []  # (started, ended, answer)
    stop = asyncio.Event()

    async def client(index: int) -> None:
        connection = harness.Connection(server.port, timeout=30)
        n = index
        while not stop.is_set():
            started = time.monotonic()
            payload = harness.visitor_message(server.rooms[index % len(server.rooms)], n)
            answer = await connection.request(
                "POST", "/api/v1/messages/", key=server.key, payload=payload
            )
            answers.append((started, time.monotonic(), answer))
            n += CONNECTIONS
        await connection.close()

    async def restart() -> tuple[float, float]:
        await asyncio.sleep(before)
        down = time.monotonic()
        await asyncio.to_thread(postgres.restart, OUTAGE_SECONDS)
        back = time.monotonic()
        await asyncio.sleep(after)
        stop.set()
        return down, back

    *_, (down, back) = await asyncio.gather(*(client(i) for i in range(CONNECTIONS)), restart())
    return answers, down, back


def test_postgres_restart_during_load(server, postgres):
    answers, down, back = asyncio.run(load_through_restart(server, postgres, before=4, after=10))
    tally = harness.Tally()
    for _, _, answer in answers:
        tally.add(answer)
    failures = [(s, e, a) for s, e, a in answers if a.status != 201]
    last_failure_end = max((e for _, e, _ in failures), default=down)
    first_success_after = min(
        (e for _, e, a in answers if a.status == 201 and e > back), default=None
    )
    stored = stored_uuids(postgres.url)
    figures = {
        "connections": CONNECTIONS,
        "postgres_unavailable_seconds": round(back - down, 2),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "errors": dict(tally.errors.most_common(5)),
        "last_failure_after_postgres_back_seconds": round(last_failure_end - back, 2),
        "first_201_after_postgres_back_seconds": (
            round(first_success_after - back, 2) if first_success_after else None
        ),
        "answered_201": len(tally.created),
        "acknowledged_but_missing": len(set(tally.created) - stored),
        "rows_not_acknowledged": len(stored) - len(set(tally.created) & stored),
        "latency_ms": tally.summary(1)["latency_ms"],
    }
    harness.save_figures("faults", figures)

    # The outage was real: some requests met it.
    assert failures, "no request met the outage; the check tested nothing"
    # During the outage: a JSON 503 the client can retry, never a 500 or a dropped connection.
    assert set(tally.statuses) <= {201, 503}, figures
    for _, _, answer in failures:
        assert answer.json() == {"detail": answer.json()["detail"]}, answer
    # Back without restarting the server (same gunicorn master throughout).
    assert server.server.process.poll() is None
    assert first_success_after is not None, figures
    assert last_failure_end - back <= RECOVERY_LIMIT_SECONDS, figures
    assert first_success_after - back <= RECOVERY_LIMIT_SECONDS, figures
    # Nothing acknowledged is lost.
    assert set(tally.created) <= stored, figures


def _half_request(
    port: int, path: str, key: str, body: bytes, sent: int, content_type: str = "application/json"
) -> bytes:
    """Send the headers and the first `sent` bytes of the body, then close the connection."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Token {key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body[:sent])
        time.sleep(0.2)
        sock.shutdown(socket.SHUT_WR)
        # gunicorn answers (or closes) once it sees the body end early; wait for that.
        sock.settimeout(10)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer


def test_client_disconnecting_mid_body_writes_nothing(server, postgres):
    before = table_counts(postgres.url)
    message = json.dumps(
        {
            "room": {"uuid": server.rooms[0]},
            "body": "half " * 200,
            "email": "half@example.com",
        }
    ).encode()
    room = json.dumps({"name": "half a room", "greeting_message": "x" * 500}).encode()
    # Cut anywhere after its first field, what arrived of a form body is a valid form body.
    form = urlencode({"room": server.rooms[0], "body": "Hello, my order has not arrived"}).encode()
    answers = (
        [
            _half_request(server.port, "/api/v1/messages/", server.key, message, sent)
            for sent in (0, 1, len(message) // 2, len(message) - 1)
        ]
        + [
            _half_request(server.port, "/api/v1/rooms/", server.key, room, sent)
            for sent in (0, len(room) // 2, len(room) - 1)
        ]
        + [
            _half_request(server.port, "/api/v1/messages/", server.key, form, sent, FORM)
            for sent in (form.index(b"order"), len(form) - 1)
        ]
    )
    assert table_counts(postgres.url) == before
    # Nobody is left to read the answer, but the server gave one: the body was incomplete.
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 400 "), answer
        assert b"Incomplete request body" in answer, answer

    # The server is fine afterwards and the complete request still works.
    async def complete() -> harness.Answer:
        connection = harness.Connection(server.port)
        answer = await connection.request(
            "POST", "/api/v1/messages/", key=server.key, payload=json.loads(message)
        )
        await connection.close()
        return answer

    answer = asyncio.run(complete())
    assert answer.status == 201, answer
    after = table_counts(postgres.url)
    assert after["messaging_message"] == before["messaging_message"] + 1
