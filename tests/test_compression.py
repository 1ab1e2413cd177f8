"""Gzip for the API answers that ask for it; a cached page is compressed once (compression.py)."""

import gzip
import os
import zlib
from types import SimpleNamespace

import pytest

from askhandle.api import page_cache
from askhandle.api.compression import MIN_LENGTH, deflate_piece, gzipped_content, stitched_gzip
from askhandle.api.renderers import RenderedJSON
from messaging import room_messages

from .factories import LeadFactory, MessageFactory, RoomFactory
from .test_page_cache import LISTS

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


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
    real = page_cache.gzip_or_none
    monkeypatch.setattr(page_cache, "gzip_or_none", lambda body: calls.append(body) or real(body))
    return calls


def vary(response):
    return {part.strip() for part in response.get("Vary", "").split(",")}


def assert_gzipped_equal(response, plain):
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in vary(response)
    assert int(response["Content-Length"]) == len(response.content) < len(plain.content)
    assert gzip.decompress(response.content) == plain.content


@pytest.mark.parametrize("url", LISTS)
def test_a_list_page_is_compressed_once_and_served_compressed_from_the_cache(
    url, alice, room, django_assert_num_queries, monkeypatch, request
):
    with monkeypatch.context() as patch:
        patch.setattr(page_cache.pages, "max_bytes", 0)
        plain = alice.client.get(url)
    first = alice.client.get(url, **GZIP)
    assert_gzipped_equal(first, plain)

    compressions = request.getfixturevalue("compressions")
    with django_assert_num_queries(1):  # the key lookup: the page and its gzip come from memory
        again = alice.client.get(url, **GZIP)

    assert compressions == []
    assert again.content == first.content
    assert dict(again.headers) == dict(first.headers)


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
    cache = page_cache.PageCache(10_000)
    key = ("V", 1, "t", "json", "u")
    cache.put(key, b'{"results": []}' * 100, "application/json")
    before = cache.size

    compressed = cache.gzipped(key, cache.get(key))

    assert gzip.decompress(compressed) == b'{"results": []}' * 100
    assert cache.size == before + len(compressed)
    assert cache.size == sum(entry.size for entry in cache._entries.values())
    assert cache.gzipped(key, cache.get(key)) is compressed  # kept, not made again
    cache.put(("V", 1, "t2", "json", "u"), b"x" * 10, "application/json")  # a new token
    assert cache.size == sum(entry.size for entry in cache._entries.values())


def test_stitched_pieces_are_one_gzip_member_of_their_content():
    content = b'[{"body":"' + b"kept " * 500 + b'"}]'
    part = RenderedJSON(content, lambda: deflate_piece(content))
    bare = RenderedJSON(b"[]")  # no deflate of its own: compressed on the spot
    pieces = [b'{"results":[{"messages":', part, b'},{"messages":', bare, b"}]}"]
    plain = b"".join(p if isinstance(p, bytes) else p.content for p in pieces)

    stitched = stitched_gzip(pieces)

    assert gzip.decompress(stitched) == plain
    one_member = zlib.decompressobj(wbits=31)  # what a client that reads one member gets
    assert one_member.decompress(stitched) == plain
    assert one_member.eof and one_member.unused_data == b""
    assert stitched[3] & 0x08  # a (random) file name in the header, as GZipMiddleware writes
    assert len(stitched) < len(plain) / 5


@pytest.fixture
def deflated_parts(monkeypatch):
    """The room messages (parts) compressed from now on."""
    calls = []
    real = room_messages.deflate_piece
    monkeypatch.setattr(room_messages, "deflate_piece", lambda b: calls.append(b) or real(b))
    return calls


@pytest.mark.parametrize("page_cache_on", [True, False])
def test_a_rooms_page_built_after_a_write_compresses_only_the_room_that_changed(
    page_cache_on, alice, room, deflated_parts, monkeypatch
):
    if not page_cache_on:
        monkeypatch.setattr(page_cache.pages, "max_bytes", 0)  # the middleware's path
    other = RoomFactory(account=alice.user)
    MessageFactory.create_batch(5, account=alice.user, room=other, body="Another " * 30)
    first = alice.client.get("/api/v1/rooms/", **GZIP)
    assert_gzipped_equal(first, alice.client.get("/api/v1/rooms/"))
    assert len(deflated_parts) == 2
    assert alice.client.get("/api/v1/rooms/", **GZIP).content  # kept: nothing compressed again
    assert len(deflated_parts) == 2

    MessageFactory(account=alice.user, room=other, body="new")
    after = alice.client.get("/api/v1/rooms/", **GZIP)

    assert_gzipped_equal(after, alice.client.get("/api/v1/rooms/"))
    assert len(deflated_parts) == 3 and b'"new"' in deflated_parts[-1]
    assert b'"body":"new"' in gzip.decompress(after.content)


def test_parts_that_compression_would_not_shorten_stay_plain():
    # GZipMiddleware's rule: an answer is sent compressed only when that is shorter.
    noise = RenderedJSON(os.urandom(300))  # incompressible
    response = SimpleNamespace(
        content=b"[" + noise.content + b"]", rendered_pieces=[b"[", noise, b"]"]
    )
    assert gzipped_content(response) is None

    text = RenderedJSON(b'"' + b"compressible " * 30 + b'"')
    response = SimpleNamespace(
        content=b"[" + text.content + b"]", rendered_pieces=[b"[", text, b"]"]
    )
    assert gzip.decompress(gzipped_content(response)) == response.content
