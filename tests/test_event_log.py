"""The event log the live streams read (webhooks/streams.py): commit order on PostgreSQL, cursors,
tenancy, batches and retention."""

import json
import threading
import uuid
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from webhooks import worker
from webhooks.models import Delivery, Event
from webhooks.streams import cursor_now, cursor_parse, log_read

from .concurrency import dsn
from .factories import RoomFactory

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="commit order differs from id order there only"
)


def read(account, after, room_id=None):
    rows, more = log_read(account_id=account.pk, room_id=room_id, types=None, after=after)
    return [json.loads(row.data)["n"] for row in rows], more, rows


def emit(account, n, room_id=None):
    return Event.objects.create(
        account=account, type="message.added", data={"n": n}, room_id=room_id
    )


@pytest.mark.django_db
def test_the_log_reads_the_account_after_a_cursor_in_batches(alice, bob, settings):
    settings.STREAM_BATCH = 3
    start = cursor_now()
    room = RoomFactory(account=alice.user)
    for n in range(5):
        emit(alice.user, n, room_id=room.pk if n % 2 else None)
    emit(bob.user, 99)
    numbers, more, rows = read(alice.user, start)
    assert numbers == [0, 1, 2] and more  # a full batch: more may follow
    numbers, more, _ = read(alice.user, rows[-1].cursor)
    assert numbers == [3, 4] and not more  # and never bob's
    assert read(alice.user, start, room_id=room.pk)[0] == [1, 3]
    assert read(bob.user, start)[0] == [99]
    assert read(alice.user, cursor_parse("0"))[0] == [0, 1, 2]  # "0": the oldest kept


@pytest.mark.django_db
def test_cursors_of_another_kind_are_refused():
    for raw in ["abc", "-1", "1-", "1.5", "9" * 30, ""]:
        with pytest.raises(ValidationError):
            cursor_parse(raw)
    assert cursor_parse(" 12 ") == 12 and cursor_parse("0") == 0


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_commits_late_is_never_skipped(alice, bob):
    """Ids follow one account's commits: while a transaction that wrote an event of the account
    is running, another that writes one waits for it (its id comes after); another account's
    does not wait. With ids for cursors, a reader at the later id would otherwise skip the
    earlier one forever."""
    start = cursor_now()
    insert = (
        "INSERT INTO webhooks_event (uuid, account_id, type, data, created_at)"
        " VALUES (%s, %s, 'message.added', %s, now()) RETURNING id"
    )
    first, second, other = (psycopg.connect(dsn()) for _ in range(3))
    try:
        first.execute(insert, [uuid.uuid4(), alice.user.pk, json.dumps({"n": 1})])
        # Another account's event is written and committed at once.
        other.execute(insert, [uuid.uuid4(), bob.user.pk, json.dumps({"n": 9})])
        other.commit()
        done = threading.Event()

        def write_second():
            second.execute(insert, [uuid.uuid4(), alice.user.pk, json.dumps({"n": 2})])
            second.commit()
            done.set()

        writer = threading.Thread(target=write_second)
        writer.start()
        assert not done.wait(0.5)  # it waits for the first transaction of the account
        assert read(alice.user, start)[0] == []
        assert read(bob.user, start)[0] == [9]
        first.commit()
        writer.join(10)
        assert done.is_set()
        numbers, more, rows = read(alice.user, start)
        assert numbers == [1, 2] and not more
        assert rows[0].cursor < rows[1].cursor
    finally:
        for conn in (first, second, other):
            conn.close()


@pytest.mark.django_db
def test_events_no_delivery_needs_are_kept_for_the_retention_period(alice, settings, receiver):
    settings.EVENT_LOG_RETENTION_HOURS = 24
    old = timezone.now() - timedelta(hours=25)
    room = RoomFactory(account=alice.user)
    kept_new = emit(alice.user, 1, room_id=room.pk)
    gone = emit(alice.user, 2, room_id=room.pk)
    needed = emit(alice.user, 3, room_id=room.pk)
    Event.objects.filter(pk__in=[gone.pk, needed.pk]).update(created_at=old)
    from webhooks.services import webhook_create

    hook = webhook_create(account=alice.user, event="message.added", target=receiver.url)
    Delivery.objects.create(webhook=hook, event=needed, give_up_at=timezone.now())
    worker.deliveries_prune()
    assert set(Event.objects.values_list("pk", flat=True)) == {kept_new.pk, needed.pk}
