"""Gzip for the API answers that ask for it (Django's GZipMiddleware, API paths only); a page the
fast path keeps (PostgreSQL) is compressed once, not per request."""

import gzip

import pytest
from django.db import connection

from askhandle.api.fast_lists import cache as fast_cache
from askhandle.api.fast_lists import pages
from askhandle.api.fast_lists.cache import MIN_GZIP_LENGTH as MIN_LENGTH
from askhandle.api.fast_lists.cache import Cache

from .factories import LeadFactory, MessageFactory, RoomFactory
from .test_page_cache import LISTS

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}

postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the fast path keeps pages on PostgreSQL only"
)


@pytest.fixture(autouse=True)
def _no_rate_limits(no_rate_limits):
    pass


@pytest.fixture
def room(alice):
    room = RoomFactory(account=alice.user)
    MessageFactory.create_batch(5, account=alice.user, room=room, body="A question " * 20)
    LeadFactory.create_batch(5, account=alice.user)
    return room


@pytest.fixture
def compressions(monkeypatch):
    """The bodies the page cache compresses from now on."""
    calls = []
    real = fast_cache.gzip_or_none
    monkeypatch.setattr(fast_cache, "gzip_or_none", lambda body: calls.append(body) or real(body))
    return calls


def vary(response):
    return {part.strip() for part in response.get("Vary", "").split(",")}


def assert_gzipped_equal(response, plain):
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in vary(response)
    assert int(response["Content-Length"]) == len(response.content) < len(plain.content)
    assert gzip.decompress(response.content) == plain.content


@postgresql
@pytest.mark.parametrize("url", LISTS)
def test_a_list_page_is_compressed_once_and_served_compressed_from_the_cache(
    url, alice, room, django_assert_num_queries, monkeypatch, request
):
    with monkeypatch.context() as patch:
        patch.setattr(pages.pages, "max_bytes", 0)
        plain = alice.client.get(url)
    first = alice.client.get(url, **GZIP)
    assert_gzipped_equal(first, plain)

    compressions = request.getfixturevalue("compressions")
    with django_assert_num_queries(2):  # key and version: the page and its gzip from memory
        again = alice.client.get(url, **GZIP)

    assert compressions == []
    assert again.content == first.content
    assert dict(again.headers) == dict(first.headers)


@postgresql
def test_a_page_first_asked_plain_is_compressed_at_the_first_gzip_request_only(
    alice, room, compressions
):
    plain = alice.client.get("/api/v1/rooms/")
    assert "Content-Encoding" not in plain
    assert "Accept-Encoding" in vary(plain)
    assert compressions == []

    first = alice.client.get("/api/v1/rooms/", **GZIP)
    again = alice.client.get("/api/v1/rooms/", **GZIP)
    plain_again = alice.client.get("/api/v1/rooms/")

    assert compressions == [plain.content]
    assert_gzipped_equal(first, plain)
    assert again.content == first.content
    assert plain_again.content == plain.content and "Content-Encoding" not in plain_again
    assert "Accept-Encoding" in vary(plain_again)


def test_a_write_replaces_the_compressed_page_too(alice, room):
    before = alice.client.get("/api/v1/messages/", **GZIP)
    response = alice.client.post(
        "/api/v1/messages/", {"room": str(room.uuid), "body": "Something new"}, format="json"
    )
    assert response.status_code == 201

    after = alice.client.get("/api/v1/messages/", **GZIP)

    assert after["Content-Encoding"] == "gzip"
    assert gzip.decompress(after.content) != gzip.decompress(before.content)
    assert gzip.decompress(after.content) == alice.client.get("/api/v1/messages/").content


def test_other_api_answers_are_compressed_by_the_middleware(alice, room):
    message = MessageFactory(account=alice.user, room=room, body="Hello " * 60)
    url = f"/api/v1/messages/{message.uuid}/"
    plain = alice.client.get(url)
    assert "Content-Encoding" not in plain

    assert_gzipped_equal(alice.client.get(url, **GZIP), plain)
    created = alice.client.post(
        "/api/v1/messages/", {"room": str(room.uuid), "body": "Hi " * 100}, format="json", **GZIP
    )
    assert created.status_code == 201
    assert created["Content-Encoding"] == "gzip"
    assert gzip.decompress(created.content).startswith(b'{"uuid"')


def test_short_answers_and_errors_stay_plain(alice, anon):
    missing = alice.client.get("/api/v1/rooms/no-such-room/", **GZIP)
    assert missing.status_code == 404
    assert len(missing.content) < MIN_LENGTH
    assert "Content-Encoding" not in missing
    assert missing.json() == {"detail": "Not found."}

    unauthorized = anon.get("/api/v1/rooms/", **GZIP)
    assert unauthorized.status_code == 401
    assert "Content-Encoding" not in unauthorized


def test_admin_pages_are_never_compressed(admin_client):
    # Cookie-authenticated HTML with CSRF tokens: the BREACH setting. Only /api/ is compressed.
    response = admin_client.get("/admin/", **GZIP)
    assert response.status_code == 200
    assert len(response.content) > MIN_LENGTH
    assert "Content-Encoding" not in response


def test_the_cache_counts_the_compressed_form_in_its_bytes():
    cache = Cache(10_000)
    key = ("V", 1, "t", "u")
    cache.put(key, b'{"results": []}' * 100)
    before = cache.size

    compressed = cache.gzipped(key, cache.get(key))

    assert gzip.decompress(compressed) == b'{"results": []}' * 100
    assert cache.size == before + len(compressed)
    assert cache.size == sum(entry.size for entry in cache._entries.values())
    assert cache.gzipped(key, cache.get(key)) is compressed  # kept, not made again
    cache.put(("V", 1, "t2", "u"), b"x" * 10)  # a new token
    assert cache.size == sum(entry.size for entry in cache._entries.values())


@pytest.mark.parametrize("url", LISTS)
def test_lists_are_compressed_on_both_databases(url, alice, room):
    """Through the fast path (PostgreSQL) or GZipMiddleware (SQLite, or a page not kept)."""
    plain = alice.client.get(url)
    assert_gzipped_equal(alice.client.get(url, **GZIP), plain)


@pytest.mark.parametrize(
    "accept_encoding",
    ["gzip;q=0", "gzip; q=0.0, deflate", "identity", "*;q=0", "deflate, br", "gzip;q=bad", ""],
)
def test_a_client_that_refuses_gzip_gets_the_plain_answer(accept_encoding, alice, room):
    for url in ["/api/v1/rooms/", f"/api/v1/rooms/{room.label}/"]:
        for _ in range(2):  # the second from the fast path's kept page (PostgreSQL)
            response = alice.client.get(url, HTTP_ACCEPT_ENCODING=accept_encoding)
            assert response.status_code == 200
            assert "Content-Encoding" not in response
            assert "Accept-Encoding" in vary(response)
            assert response.json()  # plain JSON


@pytest.mark.parametrize(
    "accept_encoding", ["gzip;q=0.5", "GZIP", "identity;q=0.1, gzip;q=1", "x-gzip", "br, gzip"]
)
def test_a_client_that_accepts_gzip_with_any_quality_gets_it(accept_encoding, alice, room):
    for url in ["/api/v1/rooms/", f"/api/v1/rooms/{room.label}/"]:
        plain = alice.client.get(url)
        for _ in range(2):
            assert_gzipped_equal(alice.client.get(url, HTTP_ACCEPT_ENCODING=accept_encoding), plain)


def test_gzip_accepted_reads_qualities():
    from askhandle.api.compression import gzip_accepted

    assert gzip_accepted("gzip")
    assert gzip_accepted("deflate, gzip;q=0.001")
    assert not gzip_accepted("gzip;q=0, *")  # the explicit refusal wins
    assert not gzip_accepted("*")  # gzip must be named
    assert not gzip_accepted("gzip;q=1.5")  # out of range: malformed
    assert not gzip_accepted("gzipx, xgzip")
