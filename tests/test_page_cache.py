"""List pages answered from the fast path's page cache (askhandle/api/fast_lists, PostgreSQL only):
never stale, never another account's, and equal to what DRF's own path answers."""

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from askhandle.api.fast_lists import pages
from askhandle.api.fast_lists.cache import Cache
from askhandle.api.fast_lists.models import DataVersion
from leads.models import Lead
from messaging.models import Message
from messaging.services import message_create
from rooms.models import Room

from .concurrency import in_another_connection, writes_under_reads
from .factories import LeadFactory, MessageFactory, RoomFactory

LISTS = [
    "/api/v1/messages/",
    "/api/v1/messages/?limit=2",
    "/api/v1/rooms/",
    "/api/v1/leads/",
    "/api/v1/messages/?cursor=",
    "/api/v1/leads/?start_date=2000-01-01",
]


@pytest.fixture(autouse=True)
def _no_rate_limits(no_rate_limits):
    pass


postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the fast path runs on PostgreSQL only"
)


@pytest.fixture
def uncached(monkeypatch):
    """What a list answers through DRF's own path (serializers, COUNT(*), nothing kept)."""

    def render(client, url, **extra):
        with monkeypatch.context() as patch:
            patch.setattr(pages, "trusted", lambda connection: False)
            return client.get(url, **extra)

    return render


def token(user):
    return DataVersion.objects.filter(account_id=user.pk).values_list("token", flat=True).first()


def populate(user):
    room = RoomFactory(account=user)
    MessageFactory.create_batch(3, account=user, room=room)
    LeadFactory(account=user)
    return room


def warm(client):
    for url in LISTS:
        assert client.get(url).status_code == 200


def assert_lists_fresh(client, uncached):
    for url in LISTS:
        assert client.get(url).json() == uncached(client, url).json(), url


@postgresql
@pytest.mark.parametrize("url", LISTS)
def test_a_repeated_page_comes_from_the_cache_with_the_same_bytes_and_headers(
    url, alice, django_assert_num_queries
):
    populate(alice.user)
    first = alice.client.get(url)

    with django_assert_num_queries(2):  # the key lookup and the account's data version
        again = alice.client.get(url)

    assert again.status_code == first.status_code == 200
    assert again.content == first.content
    assert dict(again.headers) == dict(first.headers)


def write_message_by_api(alice, room):
    alice.client.post("/api/v1/messages/", {"room": str(room.uuid), "body": "new"}, format="json")


def answer_message_like_the_bot(alice, room):
    Message.objects.filter(room=room).update(support_answer="An answer", terminated=True)


def rename_room_by_api(alice, room):
    response = alice.client.patch(f"/api/v1/rooms/{room.label}/", {"name": "Renamed"})
    assert response.status_code == 200


def relabel_room(alice, room):
    room.label = "relabelled"
    room.save()


def delete_room_by_api(alice, room):
    assert alice.client.delete(f"/api/v1/rooms/{room.label}/").status_code == 204


def delete_messages_in_bulk(alice, room):
    Message.objects.filter(room=room)[:1].get().delete()
    Message.objects.filter(room=room).delete()


def write_raw_sql(alice, room):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE messaging_message SET body = 'raw' WHERE room_id = %s", [room.pk])


def create_lead_by_api(alice, room):
    assert alice.client.post("/api/v1/leads/", {"email": "x@example.com"}).status_code == 201


def update_lead(alice, room):
    Lead.objects.filter(account=alice.user).update(nickname="Changed")


def delete_lead_by_api(alice, room):
    lead = Lead.objects.filter(account=alice.user).first()
    assert alice.client.delete(f"/api/v1/leads/{lead.uuid}/").status_code == 204


def lead_from_chat(alice, room):
    message_create(
        account=alice.user, room=room, answer="inline", body="hi", email="chat@example.com"
    )


WRITES = [
    write_message_by_api,
    answer_message_like_the_bot,
    rename_room_by_api,
    relabel_room,
    delete_room_by_api,
    delete_messages_in_bulk,
    write_raw_sql,
    create_lead_by_api,
    update_lead,
    delete_lead_by_api,
    lead_from_chat,
]


@postgresql
@pytest.mark.parametrize("write", WRITES, ids=[write.__name__ for write in WRITES])
def test_every_write_shows_in_the_next_page(write, alice, uncached):
    room = populate(alice.user)
    warm(alice.client)
    before = token(alice.user)

    write(alice, room)

    assert token(alice.user) != before
    assert_lists_fresh(alice.client, uncached)


@postgresql
def test_another_accounts_writes_keep_the_page_and_never_share_it(
    alice, bob, uncached, django_assert_num_queries
):
    populate(alice.user)
    populate(bob.user)
    warm(alice.client)
    populate(bob.user)

    with django_assert_num_queries(2):
        alice.client.get("/api/v1/messages/")
    for url in LISTS:
        assert bob.client.get(url).json() == uncached(bob.client, url).json()
        assert bob.client.get(url).content != alice.client.get(url).content


@postgresql
def test_a_rolled_back_write_keeps_the_token(alice):
    room = populate(alice.user)
    before = token(alice.user)
    with pytest.raises(RuntimeError), transaction.atomic():
        message_create(account=alice.user, room=room, answer="inline", body="never")
        raise RuntimeError

    assert token(alice.user) == before


@postgresql
def test_the_url_is_part_of_the_key(alice):
    populate(alice.user)
    MessageFactory.create_batch(3, account=alice.user, room=Room.objects.get())
    first = alice.client.get("/api/v1/messages/?limit=1")
    other_host = alice.client.get("/api/v1/messages/?limit=1", HTTP_HOST="127.0.0.1")

    assert first.json()["next"].startswith("http://testserver/")
    assert other_host.json()["next"].startswith("http://127.0.0.1/")


@postgresql
def test_what_is_not_cached(alice, make_account, django_assert_num_queries):
    # An account that never wrote has no token yet.
    carol = make_account("carol")
    carol.client.get("/api/v1/leads/")
    for _ in range(2):
        with django_assert_num_queries(3):  # key, version, count (no page query for 0 rows)
            assert carol.client.get("/api/v1/messages/").status_code == 200
    # Errors and answers in other media types than JSON.
    populate(alice.user)
    for _ in range(2):
        assert alice.client.get("/api/v1/messages/?limit=x").status_code == 400
        assert alice.client.get("/api/v1/messages/", HTTP_ACCEPT="text/html").status_code == 406
    assert len(pages.pages) == 0
    assert alice.client.get("/api/v1/messages/").status_code == 200
    assert len(pages.pages) == 1


@postgresql
def test_rebuild_counts_gives_every_account_a_new_token(alice, bob):
    populate(alice.user)
    populate(bob.user)
    before = {user.pk: token(user) for user in (alice.user, bob.user)}

    call_command("rebuild_counts", stdout=None)

    after = {user.pk: token(user) for user in (alice.user, bob.user)}
    assert None not in after.values()
    assert all(after[pk] != before[pk] for pk in before)


def test_the_cache_keeps_the_recently_used_pages_within_its_bytes():
    cache = Cache(4000)
    body = b"x" * (900 - Cache.OVERHEAD - len("u0"))
    keys = [("V", 1, 1, f"u{n}") for n in range(5)]
    for key in keys[:4]:
        cache.put(key, body)
    assert len(cache) == 4
    cache.get(keys[0])  # used: the oldest is now keys[1]

    cache.put(keys[4], body)

    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is not None and cache.get(keys[4]) is not None
    assert cache.size <= 4000
    # An entry bigger than a quarter of the budget is not kept at all.
    cache.put(("V", 1, 1, "big"), b"x" * 1001)
    assert cache.get(("V", 1, 1, "big")) is None


def test_a_new_token_drops_the_accounts_older_pages_only():
    cache = Cache(100_000)
    for account in (1, 2):
        for url in ("a", "b"):
            cache.put(("V", account, "t1", url), b"x")
    cache.put(("W", 1, "t1", "a"), b"x")  # another view: its own versions

    cache.put(("V", 1, "t2", "a"), b"y")

    assert cache.get(("V", 1, "t1", "a")) is None
    assert cache.get(("V", 1, "t1", "b")) is None
    assert cache.get(("V", 1, "t2", "a")).content == b"y"
    assert cache.get(("V", 2, "t1", "a")) is not None
    assert cache.get(("W", 1, "t1", "a")) is not None
    assert len(cache) == 4
    assert cache.size == sum(entry.size for entry in cache._entries.values())
    cache.clear()
    assert len(cache) == 0 and cache.size == 0 and cache._tokens == {}


@postgresql
@pytest.mark.django_db(transaction=True)
def test_the_token_changes_when_the_write_commits(make_account):
    alice = make_account("alice")
    room = populate(alice.user)
    before = token(alice.user)

    with transaction.atomic():
        message_create(account=alice.user, room=room, answer="inline", body="pending")
        # Another connection: unchanged until the commit.
        assert in_another_connection(lambda: token(alice.user)) == before

    assert token(alice.user) != before


@postgresql
@pytest.mark.django_db(transaction=True)
def test_pages_stay_fresh_under_concurrent_writes_and_reads(make_account, uncached):
    """Writers commit while readers poll every list (filling the cache); afterwards every
    cached page equals the database's."""
    alice = make_account("alice")
    rooms = [populate(alice.user) for _ in range(3)]

    def write(index):
        for i in range(20):
            message_create(
                account=alice.user, room=rooms[(index + i) % 3], answer="inline", body=f"{i}"
            )
            if i % 5 == 0:
                Message.objects.filter(room=rooms[i % 3]).update(support_answer=f"a{i}")

    def read():
        for url in LISTS:
            assert alice.client.get(url).status_code == 200

    assert writes_under_reads(write, read) == []
    assert len(pages.pages) > 0
    assert_lists_fresh(alice.client, uncached)
    assert alice.client.get("/api/v1/messages/").json()["count"] == Message.objects.count()
