"""A room's messages take their ids in the order of their commits, which `?after=` relies on
(messaging.filters): on PostgreSQL the message's insert locks its room first and only then takes
its id (a trigger, messaging/migrations/0006_message_order.py), whoever inserts; SQLite has one
writer at a time."""

import threading
import uuid

import psycopg
import pytest
from django.db import connection, transaction

from messaging.services import message_create

from .concurrency import dsn
from .factories import RoomFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer"),
    pytest.mark.django_db(transaction=True),
]

INSERT = (
    "INSERT INTO messaging_message (uuid, account_id, room_id, body, nickname, email, "
    "phone_number, is_support_sender, sent_at, terminated) "
    "VALUES (%s, %s, %s, 'Hi', '', '', '', false, now(), false) RETURNING id"
)
INSERT_WITH_ID = INSERT.replace("(uuid,", "(id, uuid,").replace("VALUES (%s,", "VALUES (%s, %s,")


def insert(conn, room, given_id=None) -> int:
    """A message's insert in raw SQL (whoever inserts takes the lock); its id, `given_id` if any."""
    if given_id is None:
        return conn.execute(INSERT, [uuid.uuid4(), room.account_id, room.pk]).fetchone()[0]
    values = [given_id, uuid.uuid4(), room.account_id, room.pk]
    return conn.execute(INSERT_WITH_ID, values).fetchone()[0]


def test_a_message_committed_later_in_a_room_never_has_a_smaller_id(alice, bob):
    """While one transaction has added a message to a room, another's insert into that room
    waits for its commit, and takes its id after it: even when the first adds a second message
    meanwhile (the waiting insert's column default had already taken a smaller number). Another
    account's room does not wait."""
    room, others = RoomFactory(account=alice.user), RoomFactory(account=bob.user)
    first, second, other = (psycopg.connect(dsn()) for _ in range(3))
    try:
        earliest = insert(first, room)
        assert insert(other, others)  # another account's room: at once
        other.commit()
        ids, done = [], threading.Event()

        def add():
            ids.append(insert(second, room))
            second.commit()
            done.set()

        writer = threading.Thread(target=add)
        writer.start()
        assert not done.wait(0.5)  # it waits for the first transaction's commit
        latest_of_first = insert(first, room)
        first.commit()
        writer.join(10)
        assert done.is_set()
        assert earliest < latest_of_first < ids[0]
    finally:
        for conn in (first, second, other):
            conn.close()


def test_the_room_stays_locked_until_the_message_commits(alice, bob):
    """Through the one way in (message_create) too. The lock excludes another message's insert
    (and FOR UPDATE), not the key-share lock of another row's foreign key check."""
    room, others = RoomFactory(account=alice.user), RoomFactory(account=bob.user)

    def locked_elsewhere(pk, strength="FOR NO KEY UPDATE"):
        with psycopg.connect(dsn()) as elsewhere:
            try:
                elsewhere.execute(
                    f"SELECT id FROM rooms_room WHERE id = %s {strength} NOWAIT", [pk]
                )
            except psycopg.errors.LockNotAvailable:
                return True
            return False

    with transaction.atomic():
        message_create(account=alice.user, room=room, answer="background", body="Hi")
        assert locked_elsewhere(room.pk) and locked_elsewhere(room.pk, "FOR UPDATE")
        assert not locked_elsewhere(room.pk, "FOR KEY SHARE")
        assert not locked_elsewhere(others.pk)
    assert not locked_elsewhere(room.pk)


def test_a_message_inserted_with_an_id_of_its_own_keeps_it(alice):
    """A restore or loaddata gives ids: the trigger renews only the id the column's default took,
    also in a session that never used the default (no currval)."""
    room = RoomFactory(account=alice.user)
    with psycopg.connect(dsn()) as conn:
        given = 10**12
        assert insert(conn, room, given) == given
        taken = insert(conn, room)
        assert taken != given
        assert insert(conn, room, given + 1) == given + 1
        conn.commit()
    from messaging.models import Message

    assert set(Message.objects.filter(room=room).values_list("id", flat=True)) == {
        given,
        given + 1,
        taken,
    }
