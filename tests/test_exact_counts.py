"""`count` is exact whatever wrote the rows: on PostgreSQL it comes from day counters kept by
triggers (askhandle/api/fast_lists), on SQLite from `COUNT(*)`, and every case here compares it
with a real count of the rows."""

import datetime as dt
import threading

import django_filters
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from askhandle.api.fast_lists import pages
from askhandle.api.fast_lists.counting import _counter_sum
from askhandle.api.fast_lists.models import DayCount
from askhandle.api.fast_lists.registry import listed
from leads.filters import LeadFilter
from leads.models import Lead
from messaging.models import Message
from messaging.services import message_create
from rooms.models import Room

from .factories import LeadFactory, MessageFactory, RoomFactory

T0 = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)

postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the day counters exist on PostgreSQL only"
)

# Date filters cut in every way: whole days, datetimes inside a day and at midnight, one-day and
# empty ranges, open ends.
RANGES = [
    {},
    {"start_date": "2024-03-09"},
    {"end_date": "2024-03-10"},
    {"start_date": "2024-03-09", "end_date": "2024-03-11"},
    {"start_date": "2024-03-10", "end_date": "2024-03-10"},
    {"start_date": "2024-03-09T18:30:00Z"},
    {"end_date": "2024-03-11T06:00:00"},
    {"start_date": "2024-03-08T23:00:00Z", "end_date": "2024-03-11T01:00:00Z"},
    {"start_date": "2024-03-10T10:00:00Z", "end_date": "2024-03-10T14:00:00Z"},
    {"start_date": "2024-03-10T00:00:00Z", "end_date": "2024-03-12T00:00:00Z"},
    {"start_date": "2024-03-11", "end_date": "2024-03-09"},
    {"start_date": "2024-03-10T12:00:00+02:00"},
    {"end_date": "9999-12-31"},
]


def spread(user, rooms=3, per_room=8):
    """Messages every 5 hours around T0 (several UTC days) in a few rooms, and leads and rooms
    created over the same days."""
    made = []
    for r in range(rooms):
        room = RoomFactory(account=user, created_at=T0 + dt.timedelta(hours=7 * r - 20))
        for i in range(per_room):
            made.append(
                MessageFactory(
                    account=user,
                    room=room,
                    sent_at=T0 + dt.timedelta(hours=5 * i - 30 + r),
                )
            )
        LeadFactory(account=user, created_at=T0 + dt.timedelta(hours=9 * r - 24))
    return made


def real_count(queryset, field, params):
    """The filters' documented meaning, written independently of the code under test."""
    start, end = params.get("start_date"), params.get("end_date")
    if start:
        if "T" in start:
            queryset = queryset.filter(**{f"{field}__gte": dt.datetime.fromisoformat(start)})
        else:
            queryset = queryset.filter(**{f"{field}__date__gte": dt.date.fromisoformat(start)})
    if end:
        if "T" in end:
            moment = dt.datetime.fromisoformat(end)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            queryset = queryset.filter(**{f"{field}__lte": moment})
        else:
            queryset = queryset.filter(**{f"{field}__date__lte": dt.date.fromisoformat(end)})
    return queryset.count()


def api_count(account, url, params):
    response = account.client.get(url, params)
    assert response.status_code == 200, response.json()
    return response.json()["count"]


def assert_all_counts_exact(account):
    user = account.user
    for params in RANGES:
        assert api_count(account, "/api/v1/messages/", params) == real_count(
            Message.objects.filter(account=user), "sent_at", params
        ), params
        assert api_count(account, "/api/v1/rooms/", params) == real_count(
            Room.objects.filter(account=user), "created_at", params
        ), params
        assert api_count(account, "/api/v1/leads/", params) == real_count(
            Lead.objects.filter(account=user), "created_at", params
        ), params
        for room in Room.objects.filter(account=user):
            assert api_count(
                account, "/api/v1/messages/", {**params, "room": str(room.uuid)}
            ) == real_count(room.messages.all(), "sent_at", params), (params, room)


def test_counts_match_real_counts_for_every_filter(alice, bob):
    spread(alice.user)
    spread(bob.user, rooms=2)

    assert_all_counts_exact(alice)
    assert_all_counts_exact(bob)
    assert api_count(alice, "/api/v1/messages/", {}) == 24


def test_counts_follow_creates_updates_and_deletes_by_any_writer(alice, bob):
    made = spread(alice.user)
    spread(bob.user, rooms=1)
    room_a, room_b, room_c = Room.objects.filter(account=alice.user).order_by("id")

    # The API (through message_create), the service itself, and a plain ORM insert.
    assert (
        alice.client.post(
            "/api/v1/messages/", {"room": str(room_a.uuid), "body": "hi"}, format="json"
        ).status_code
        == 201
    )
    message_create(account=alice.user, room=room_b, answer="inline", body="from a service")
    Message.objects.create(account=alice.user, room=room_c, body="raw", sent_at=T0)
    assert alice.client.post("/api/v1/leads/", {}, format="json").status_code == 201
    assert alice.client.post("/api/v1/rooms/", {}, format="json").status_code == 201
    assert_all_counts_exact(alice)

    # Moved between rooms and days (the admin can change a message's room).
    Message.objects.filter(pk=made[0].pk).update(room=room_c)
    Message.objects.filter(pk=made[1].pk).update(sent_at=T0 + dt.timedelta(days=3))
    Lead.objects.filter(account=alice.user).update(created_at=T0 - dt.timedelta(days=1))
    assert_all_counts_exact(alice)

    # One delete, a bulk delete, a cascade through the API, and a lead deleted through the API.
    made[2].delete()
    Message.objects.filter(room=room_b, sent_at__lt=T0).delete()
    assert alice.client.delete(f"/api/v1/rooms/{room_a.label}/").status_code == 204
    lead = Lead.objects.filter(account=alice.user).first()
    assert alice.client.delete(f"/api/v1/leads/{lead.uuid}/").status_code == 204
    assert_all_counts_exact(alice)
    assert_all_counts_exact(bob)


def test_a_rolled_back_write_leaves_the_counts_alone(alice):
    room = RoomFactory(account=alice.user)
    MessageFactory(account=alice.user, room=room)
    with pytest.raises(RuntimeError), transaction.atomic():
        message_create(account=alice.user, room=room, answer="inline", body="never committed")
        raise RuntimeError
    assert api_count(alice, "/api/v1/messages/", {}) == 1
    assert api_count(alice, "/api/v1/messages/", {"room": str(room.uuid)}) == 1


def test_another_accounts_room_counts_nothing(alice, bob):
    spread(bob.user, rooms=1)
    bobs_room = Room.objects.get(account=bob.user)
    assert api_count(alice, "/api/v1/messages/", {"room": str(bobs_room.uuid)}) == 0


@postgresql
def test_counts_do_not_scan_the_rows(alice, no_rate_limits):
    spread(alice.user)
    alice.client.get("/api/v1/messages/")
    with CaptureQueriesContext(connection) as queries:
        alice.client.get("/api/v1/messages/", {"start_date": "2024-03-09"})
    sql = [query["sql"] for query in queries.captured_queries]
    assert any("fast_lists_daycount" in statement for statement in sql)
    assert not any(
        "COUNT(" in statement.upper() and "MESSAGING_MESSAGE" in statement.upper()
        for statement in sql
    )


@postgresql
def test_a_filter_the_counters_do_not_know_falls_back_to_counting_rows(alice):
    """A FilterSet filter added later without counters must not give a wrong count."""

    class WithNickname(LeadFilter):
        nickname = django_filters.CharFilter()

    spread(alice.user)
    rows = Lead.objects.filter(account=alice.user)
    day = dt.date(2024, 3, 9)
    found = pages._count(listed(Lead), WithNickname, rows, {"start_date": day}, alice.user.pk)
    assert found == rows.filter(created_at__date__gte=day).count()
    unknown = {"start_date": day, "nickname": "x"}
    assert pages._count(listed(Lead), WithNickname, rows, unknown, alice.user.pk) is None


@postgresql
def test_rebuild_counts_recomputes_the_counters(alice):
    spread(alice.user)
    DayCount.objects.filter(table_name="messaging_message").update(n=0)
    DayCount.objects.filter(table_name="leads_lead").delete()

    call_command("rebuild_counts", stdout=None)

    assert_all_counts_exact(alice)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers: PostgreSQL")
def test_counts_stay_exact_under_concurrent_writes(make_account):
    """Writers in parallel transactions (creating in the same rooms and days, deleting, some
    rolling back) leave counters equal to the rows."""
    alice = make_account("alice")
    rooms = [RoomFactory(account=alice.user) for _ in range(3)]
    MessageFactory.create_batch(30, account=alice.user, room=rooms[0])
    errors = []

    def writer(index):
        try:
            for i in range(15):
                room = rooms[(index + i) % len(rooms)]
                if i % 5 == 4:
                    with transaction.atomic():
                        victim = (
                            Message.objects.select_for_update(skip_locked=True)
                            .filter(account=alice.user)
                            .first()
                        )
                        if victim:
                            victim.delete()
                elif i % 7 == 6:
                    try:
                        with transaction.atomic():
                            message_create(
                                account=alice.user, room=room, answer="inline", body="rolled back"
                            )
                            raise RuntimeError
                    except RuntimeError:
                        pass
                else:
                    message_create(
                        account=alice.user, room=room, answer="inline", body=f"w{index}-{i}"
                    )
        except Exception as error:  # reported below: a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert_all_counts_exact(alice)
    assert api_count(alice, "/api/v1/messages/", {}) == Message.objects.count()


@postgresql
@pytest.mark.parametrize("table", ["messaging_message", "leads_lead"])
def test_the_written_out_counter_sum_matches_the_orm_sum(table, alice, bob):
    from django.db.models import Sum

    spread(alice.user)
    spread(bob.user, rooms=2)
    room = Room.objects.filter(account=alice.user).first()
    days = [None, *(T0.date() + dt.timedelta(days=d) for d in (-2, -1, 0, 1, 2))]
    for user in (alice.user, bob.user):
        for scope in (0, room.pk):
            for first in days:
                for last in days:
                    orm = DayCount.objects.filter(table_name=table, account_id=user.pk)
                    orm = orm.filter(scope=scope)
                    orm = orm.filter(day__gte=first) if first else orm
                    orm = orm.filter(day__lte=last) if last else orm
                    expected = orm.aggregate(n=Sum("n"))["n"] or 0
                    found = _counter_sum("default", table, user.pk, scope, first, last)
                    assert found == expected, (user, scope, first, last)
    assert _counter_sum("default", "messaging_message", alice.user.pk, 0, None, None) == 24
