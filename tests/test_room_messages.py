"""The rooms list keeps each room's rendered messages (askhandle/api/fast_lists, PostgreSQL
only): a page built again after a write renders only the rooms whose messages changed, and is
never stale."""

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from askhandle.api.fast_lists import pages, rendering
from askhandle.api.fast_lists.models import GroupVersion
from messaging.models import Message
from messaging.services import message_create
from rooms.models import Room

from .concurrency import in_another_connection, writes_under_reads
from .factories import MessageFactory, RoomFactory
from .test_page_cache import WRITES, populate

ROOMS = "/api/v1/rooms/"

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the fast path runs on PostgreSQL only"
)


@pytest.fixture(autouse=True)
def _no_rate_limits(no_rate_limits):
    pass


@pytest.fixture
def no_page_cache(monkeypatch):
    """Every request builds its page (the account's data version changes at every write
    anyway); only the rooms' rendered messages are kept."""
    monkeypatch.setattr(pages.pages, "max_bytes", 0)


@pytest.fixture
def rendered_rooms(monkeypatch):
    """The ids of the rooms whose messages each page rendered from the database."""
    calls = []
    real = rendering.render_groups

    def spy(pks, **kwargs):
        calls.append(sorted(pks))
        return real(pks, **kwargs)

    monkeypatch.setattr(rendering, "render_groups", spy)
    return calls


def from_the_database(client, url, monkeypatch, **extra):
    """DRF's own path: serializers over model instances, nothing kept."""
    with monkeypatch.context() as patch:
        patch.setattr(pages, "trusted", lambda connection: False)
        return client.get(url, **extra)


def versions(room):
    return GroupVersion.objects.filter(table_name="messaging_message", group_id=room.pk)


def version(room):
    return versions(room).values_list("token", flat=True)[0]


def test_a_page_renders_only_the_rooms_whose_messages_changed(
    alice, no_page_cache, rendered_rooms, django_assert_num_queries, monkeypatch
):
    rooms = [populate(alice.user) for _ in range(3)]
    first = alice.client.get(ROOMS)
    assert rendered_rooms == [sorted(room.pk for room in rooms)]

    with django_assert_num_queries(4):  # key, version, count, rooms with tokens: no messages
        again = alice.client.get(ROOMS)
    assert again.content == first.content
    assert rendered_rooms[1:] == []

    message_create(account=alice.user, room=rooms[1], answer="inline", body="new")
    with django_assert_num_queries(5):  # ... and the messages of the one room that changed
        after = alice.client.get(ROOMS)
    assert rendered_rooms[1:] == [[rooms[1].pk]]
    assert after.content == from_the_database(alice.client, ROOMS, monkeypatch).content
    assert after.json()["results"][1]["messages"][-1]["body"] == "new"


def test_one_room_nests_the_same_messages_as_the_list(alice):
    room = populate(alice.user)
    listed = alice.client.get(ROOMS).json()["results"][0]
    one = alice.client.get(f"{ROOMS}{room.label}/").json()

    assert one == listed
    assert len(one["messages"]) == 3


def move_a_message(alice, room):
    other = RoomFactory(account=alice.user)
    Message.objects.filter(pk=room.messages.first().pk).update(room=other)


def delete_a_message_by_raw_sql(alice, room):
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM messaging_message WHERE id = %s", [room.messages.order_by("id")[0].pk]
        )


ROOM_WRITES = [*WRITES, move_a_message, delete_a_message_by_raw_sql]


@pytest.mark.parametrize("write", ROOM_WRITES, ids=[write.__name__ for write in ROOM_WRITES])
def test_every_write_shows_in_a_page_built_from_kept_messages(
    write, alice, no_page_cache, monkeypatch
):
    room = populate(alice.user)
    populate(alice.user)
    alice.client.get(ROOMS)
    assert len(pages.fragments) == 2

    write(alice, room)

    labels = Room.objects.filter(account=alice.user).values_list("label", flat=True)
    for url in [ROOMS, *(f"{ROOMS}{label}/" for label in labels)]:
        expected = from_the_database(alice.client, url, monkeypatch)
        kept = alice.client.get(url)
        assert (kept.status_code, kept.json()) == (expected.status_code, expected.json()), url


def test_the_triggers_keep_one_version_per_room(alice, bob):
    room = RoomFactory(account=alice.user)
    other = RoomFactory(account=bob.user)
    assert versions(room).exists()  # from its creation
    before = {r.pk: version(r) for r in (room, other)}

    MessageFactory(account=alice.user, room=room)
    assert version(room) != before[room.pk]
    assert version(other) == before[other.pk]  # another room's write keeps it

    changed = version(room)
    Message.objects.filter(room=room).update(body="same")
    assert version(room) != changed
    changed = version(room)
    Message.objects.filter(room=room).update(body="same")
    assert version(room) == changed  # an update that changes nothing keeps it
    Room.objects.filter(pk=room.pk).update(label="renamed")
    room.label = "renamed"
    assert version(room) != changed  # the room's own row: its label is in every message
    changed = version(room)

    with pytest.raises(RuntimeError), transaction.atomic():
        MessageFactory(account=alice.user, room=room)
        raise RuntimeError
    assert version(room) == changed  # a rolled back write keeps it

    room_id = room.pk
    assert alice.client.delete(f"/api/v1/rooms/{room.label}/").status_code == 204
    assert not GroupVersion.objects.filter(group_id=room_id).exists()


def test_a_room_without_a_version_is_rendered_every_time_until_rebuild_counts(
    alice, no_page_cache, rendered_rooms, monkeypatch
):
    room = populate(alice.user)
    GroupVersion.objects.all().delete()  # as after a load with triggers off

    for _ in range(2):
        assert alice.client.get(ROOMS).status_code == 200
    assert rendered_rooms == [[room.pk], [room.pk]]
    assert len(pages.fragments) == 0

    call_command("rebuild_counts", stdout=None)
    assert versions(room).exists()
    for _ in range(2):
        page = alice.client.get(ROOMS)
    assert rendered_rooms == [[room.pk], [room.pk], [room.pk]]
    assert page.json() == from_the_database(alice.client, ROOMS, monkeypatch).json()


def test_off_when_its_budget_is_zero(alice, no_page_cache, rendered_rooms, monkeypatch):
    populate(alice.user)
    monkeypatch.setattr(pages.fragments, "max_bytes", 0)
    alice.client.get(ROOMS)
    alice.client.get(ROOMS)
    assert len(rendered_rooms) == 2 and len(pages.fragments) == 0


def test_indented_pages_take_drfs_path(alice, no_page_cache, monkeypatch):
    populate(alice.user)
    alice.client.get(ROOMS)
    indent = {"HTTP_ACCEPT": "application/json; indent=2"}

    page = alice.client.get(ROOMS, **indent)

    assert page.content == from_the_database(alice.client, ROOMS, monkeypatch, **indent).content
    assert b'\n  "count": 1' in page.content


@pytest.mark.django_db(transaction=True)
def test_the_version_changes_when_the_write_commits(make_account):
    alice = make_account("alice")
    room = populate(alice.user)
    before = version(room)

    with transaction.atomic():
        message_create(account=alice.user, room=room, answer="inline", body="pending")
        assert in_another_connection(lambda: version(room)) == before

    assert version(room) != before


@pytest.mark.django_db(transaction=True)
def test_rooms_pages_stay_fresh_under_concurrent_writes(make_account, no_page_cache, monkeypatch):
    alice = make_account("alice")
    rooms = [populate(alice.user) for _ in range(4)]

    def write(index):
        for i in range(15):
            room = rooms[(index + i) % 4]
            message_create(account=alice.user, room=room, answer="inline", body=f"{index}-{i}")
            if i % 4 == 0:
                Message.objects.filter(room=room).update(support_answer=f"a{i}")
            if i % 7 == 0:
                Room.objects.filter(pk=room.pk).update(name=f"n{i}")

    def read():
        assert alice.client.get(ROOMS).status_code == 200

    assert writes_under_reads(write, read) == []
    assert len(pages.fragments) > 0
    kept = alice.client.get(ROOMS).json()
    assert kept == from_the_database(alice.client, ROOMS, monkeypatch).json()
    assert sum(len(room["messages"]) for room in kept["results"]) == Message.objects.count()
