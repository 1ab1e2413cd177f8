"""Load: 64 concurrent connections create messages for 60 s against gunicorn on PostgreSQL.

Half the time each connection posts to its own room, half the time all 64 post to one room (the
case that would deadlock or serialise badly if creating a message locked the room). Passes when
every request answered 201, the account holds exactly the messages whose uuids were answered (no
more, no fewer) and PostgreSQL counted no deadlock.

    LOAD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/askhandle_load \
        ./dev test slow/test_load.py -s

LOAD_SECONDS (default 60), LOAD_CONNECTIONS (64) and LOAD_WORKERS (gunicorn workers, 4) tune it.
Figures go to artifacts/load.json.
"""

import asyncio
import os
import time
import uuid

import psycopg

from slow import harness

DATABASE_URL = os.environ.get(
    "LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/askhandle_load"
)
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
CONNECTIONS = int(os.environ.get("LOAD_CONNECTIONS", "64"))
WORKERS = int(os.environ.get("LOAD_WORKERS", "4"))


async def create_rooms(port: int, key: str, count: int) -> list[str]:
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


async def post_messages(port: int, key: str, rooms: list[str], seconds: float) -> harness.Tally:
    """Each of len(rooms) connections posts to its room, back to back, until the time is up."""
    tally = harness.Tally()
    deadline = time.monotonic() + seconds

    async def client(index: int, room: str) -> None:
        connection = harness.Connection(port)
        n = index
        while time.monotonic() < deadline:
            tally.add(
                await connection.request(
                    "POST", "/api/v1/messages/", key=key, payload=harness.visitor_message(room, n)
                )
            )
            n += len(rooms)
        await connection.close()

    await asyncio.gather(*(client(i, room) for i, room in enumerate(rooms)))
    return tally


def deadlocks(conn: psycopg.Connection) -> int:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return row[0]


def stored_visitor_messages(conn: psycopg.Connection, username: str) -> list[str]:
    rows = conn.execute(
        """
        SELECT m.uuid::text FROM messaging_message m JOIN accounts_user u ON u.id = m.account_id
        WHERE u.username = %s AND NOT m.is_support_sender
        """,
        [username],
    ).fetchall()
    return [row[0] for row in rows]


def test_concurrent_message_creates_lose_nothing_and_never_fail():
    assert DATABASE_URL.startswith("postgres"), "the load check runs on PostgreSQL"
    harness.ensure_database(DATABASE_URL)
    # The defaults' rate limiting, counting every request, with counts this load (from one
    # address, one key, ~1,000 req/s) does not reach: the limits themselves are checked in
    # tests/test_throttling.py.
    raised = "100000000/min"
    env = harness.server_env(
        DATABASE_URL, API_KEY_THROTTLE_RATE=raised, CLIENT_ADDRESS_THROTTLE_RATE=raised
    )
    harness.manage("migrate", "--noinput", "-v0", env=env)
    username = f"load-{uuid.uuid4().hex[:12]}"
    key = harness.account_with_key(env, username)

    with (
        psycopg.connect(DATABASE_URL, autocommit=True) as db,
        harness.Server(env, WORKERS) as server,
    ):
        deadlocks_before = deadlocks(db)
        rooms = asyncio.run(create_rooms(server.port, key, CONNECTIONS))

        started = time.monotonic()
        spread = asyncio.run(post_messages(server.port, key, rooms, SECONDS / 2))
        spread_seconds = time.monotonic() - started
        started = time.monotonic()
        same_room = [rooms[0]] * CONNECTIONS
        one_room = asyncio.run(post_messages(server.port, key, same_room, SECONDS / 2))
        one_room_seconds = time.monotonic() - started

        time.sleep(1)  # statistics reach pg_stat_database shortly after each transaction
        deadlock_count = deadlocks(db) - deadlocks_before
        stored = stored_visitor_messages(db, username)

    created = spread.created + one_room.created
    figures = {
        "connections": CONNECTIONS,
        "gunicorn_workers": WORKERS,
        "spread_over_rooms": spread.summary(spread_seconds),
        "one_room": one_room.summary(one_room_seconds),
        "answered_201": len(created),
        "rows_stored": len(stored),
        "deadlocks": deadlock_count,
    }
    harness.save_figures("load", figures)

    assert set(spread.statuses) == {201}, figures["spread_over_rooms"]
    assert set(one_room.statuses) == {201}, figures["one_room"]
    assert len(set(created)) == len(created), "a uuid was answered twice"
    assert len(stored) == len(created), figures
    assert set(stored) == set(created), "stored messages differ from the acknowledged ones"
    assert deadlock_count == 0, figures
    # The check means something only if the load was real: every connection kept posting.
    assert len(created) >= CONNECTIONS * 4, figures
