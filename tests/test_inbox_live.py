"""The inbox's live updates (docs/people.md, "Live updates"): the pages load bot/inbox-live.js
with the events URL; the events stream (bot.admin.InboxAdmin.events_view) lets in only a staff
login, scoped to its own account (every account's for a superuser), and wakes a login only for
its own account's events. The browser itself: slow/test_inbox_browser.py."""

import asyncio
import json
import re
import threading
from pathlib import Path
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.contrib import admin
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.core.signals import request_finished
from django.db import close_old_connections, connections
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import User
from bot.models import InboxRoom
from webhooks import streams

from .factories import RoomFactory
from .test_inbox_admin import INBOX, conversation_url, post, staff_client

EVENTS = "/admin/bot/inboxroom/events/"


def live_script(html: str) -> dict[str, str]:
    """The attributes of the page's live-update script tag."""
    tag = re.search(r'<script id="inbox-live"([^>]*)>', html)
    assert tag, "no live-update script on the page"
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag[1]))


def test_the_events_url_is_the_one_the_server_streams():
    assert reverse("admin:bot_inboxroom_events") == EVENTS
    from askhandle.asgi import is_live

    # askhandle/asgi.py sends it to the event loop, not to the thread pool.
    assert is_live({"type": "http", "path": EVENTS, "query_string": b""})


def test_the_inbox_pages_load_the_script_with_the_events_url(alice, bob):
    client = staff_client(alice)
    room = RoomFactory(account=alice.user, label="a-waiting")
    post(alice, room, "Hello? Is anyone there?")
    assert finders.find("bot/inbox-live.js"), "the script is not a static file"

    inbox = client.get(INBOX)
    assert inbox.status_code == 200
    script = live_script(inbox.text)
    assert script["src"] == static("bot/inbox-live.js")
    assert script["data-events-url"] == EVENTS
    assert script["data-parts"].split() == ["inbox-conversations", "inbox-pagination"]
    for part in script["data-parts"].split():
        assert f'id="{part}"' in inbox.text

    page = client.get(conversation_url(room))
    assert page.status_code == 200
    script = live_script(page.text)
    assert script["src"] == static("bot/inbox-live.js")
    assert script["data-events-url"] == EVENTS
    # The messages and the room's state are renewed; the reply form never is.
    assert script["data-parts"].split() == ["inbox-room-state", "inbox-messages"]
    assert re.search(r'id="inbox-room-state".*id="inbox-bot-state"', page.text, re.S)
    assert "inbox-reply-form" not in script["data-parts"]
    # The empty inbox (bob's) loads it too: a first conversation appears without a reload.
    empty = staff_client(bob).get(INBOX).text
    assert 'id="inbox-empty"' in empty
    assert live_script(empty)["data-events-url"] == EVENTS


def test_the_script_is_served_with_the_static_files():
    # What collectstatic gathers (and WhiteNoise serves): the app's static folder.
    text = Path(finders.find("bot/inbox-live.js")).read_text()
    assert "new EventSource(" in text and "'changed'" in text
    # It never renews the reply form (the person may be typing in it).
    assert "inbox-reply" not in text


def test_anonymous_is_sent_to_the_login_page_not_a_stream(db):
    response = Client().get(EVENTS)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not response.streaming


def test_a_login_that_is_not_staff_is_sent_to_the_login_page(alice):
    client = Client()
    assert client.login(request=HttpRequest(), username="alice", password=alice.password)
    response = client.get(EVENTS)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not response.streaming


def test_without_view_permission_the_view_itself_refuses(alice):
    """Past the admin site's own check (staff only), the view checks the inbox's view
    permission: a login without it gets a 403, never a stream."""
    request = RequestFactory().get(EVENTS)
    request.user = alice.user  # not staff: no view permission on the inbox
    inbox_admin = admin.site._registry[InboxRoom]
    assert not inbox_admin.has_view_permission(request)
    with (
        mock.patch("bot.admin.wake_stream") as wake_stream,
        pytest.raises(PermissionDenied),
    ):
        inbox_admin.events_view(request)
    wake_stream.assert_not_called()


def test_a_staff_login_without_view_permission_gets_403(alice):
    client = staff_client(alice)
    with (
        mock.patch("bot.admin.InboxAdmin.has_view_permission", return_value=False),
        mock.patch("bot.admin.wake_stream") as wake_stream,
    ):
        response = client.get(EVENTS)
    assert response.status_code == 403
    assert not response.streaming
    wake_stream.assert_not_called()


def close(response) -> None:
    """Close a response as the server does once it is sent, without request_finished closing
    the test's database connection (as Django's test client does)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def streamed_account(client) -> list:
    """The account ids the events view asked a stream of."""
    asked = []

    def fake(*, account_id):
        asked.append(account_id)
        return HttpResponse("stream", content_type="text/event-stream")

    with mock.patch("bot.admin.wake_stream", side_effect=fake):
        response = client.get(EVENTS)
    assert response.status_code == 200
    return asked


def test_the_stream_is_of_the_logins_own_account(alice, bob, admin_client):
    assert streamed_account(staff_client(alice)) == [alice.user.pk]
    assert streamed_account(staff_client(bob)) == [bob.user.pk]
    # A person of alice's account (a login of its own) gets alice's account.
    User.objects.create_user(
        username="sam", password="pw-sam-secret", account=alice.user, is_staff=True
    )
    client = Client()
    assert client.login(request=HttpRequest(), username="sam", password="pw-sam-secret")
    assert streamed_account(client) == [alice.user.pk]
    # A superuser: every account's.
    assert streamed_account(admin_client) == [None]


def test_the_real_stream_answers_a_staff_login(alice, settings):
    """The view's answer itself (not a stand-in): an event stream, uncached, counted against
    alice's bound of live connections until closed."""
    response = staff_client(alice).get(EVENTS)
    try:
        assert response.status_code == 200
        assert response.streaming
        assert response["Content-Type"] == "text/event-stream"
        assert "no-store" in response["Cache-Control"]  # the admin's never_cache
        assert streams._live[alice.user.pk] == 1
    finally:
        close(response)
    assert alice.user.pk not in streams._live


# --- the stream's wake-ups, on the event loop as the server runs it -----------------------------


@pytest.fixture
def reader_connections_closed():
    """The stream reads the log on threads of their own (webhooks.streams._readers): close their
    database connections afterwards, so the test database can be dropped."""
    yield
    workers = streams._readers._max_workers
    barrier = threading.Barrier(workers)

    def close():
        barrier.wait(10)  # one call on each reader thread
        connections.close_all()

    for future in [streams._readers.submit(close) for _ in range(workers)]:
        future.result(20)


async def quiet(chunks, seconds: float) -> asyncio.Task:
    """The stream's next read once it has been quiet for `seconds`, still pending. A wake-up of
    no room is let pass first: on PostgreSQL the listener wakes every subscriber once it
    listens (what committed while it connected)."""
    while True:
        task = asyncio.ensure_future(anext(chunks))
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if not done:
            return task
        assert changed_rooms(task.result()) == [], task.result()


def changed_rooms(chunk: bytes) -> list:
    text = chunk.decode()
    assert text.startswith("event: changed\n"), text
    return json.loads(re.search(r"^data: (.*)$", text, re.M)[1])["rooms"]


@pytest.mark.django_db(transaction=True)
def test_a_login_is_woken_only_by_its_own_accounts_events(
    alice, bob, settings, reader_connections_closed
):
    settings.STREAM_HEARTBEAT_SECONDS = 60  # no heartbeat within the test
    settings.STREAM_HUB_LINGER_SECONDS = 0.2
    theirs = RoomFactory(account=bob.user, label="b-room")
    ours = RoomFactory(account=alice.user, label="a-room")

    def post_and_close(*args):
        try:
            return post(*args)
        finally:
            connections.close_all()  # this thread's connection

    post_async = sync_to_async(post_and_close, thread_sensitive=False)

    async def scenario():
        responses = [
            streams.wake_stream(account_id=alice.user.pk),
            streams.wake_stream(account_id=None),  # a superuser's
        ]
        alices, everyones = (response.streaming_content for response in responses)
        try:
            for chunks in (alices, everyones):
                assert b": connected" in await asyncio.wait_for(anext(chunks), 10)
            alice_next = await quiet(alices, 0.5)
            everyone_next = await quiet(everyones, 0.5)
            # Bob's visitor writes: the superuser's stream is woken, alice's is not.
            await post_async(bob, theirs, "Bob's visitor here")
            assert changed_rooms(await asyncio.wait_for(everyone_next, 10)) == [theirs.pk]
            await asyncio.sleep(1.0)
            assert not alice_next.done(), f"alice woken by bob's event: {alice_next.result()}"
            # Alice's visitor writes: alice's stream names alice's room, and only it.
            await post_async(alice, ours, "Alice's visitor here")
            assert changed_rooms(await asyncio.wait_for(alice_next, 10)) == [ours.pk]
            assert changed_rooms(await asyncio.wait_for(anext(everyones), 10)) == [ours.pk]
        finally:
            for chunks, response in zip((alices, everyones), responses, strict=True):
                await chunks.aclose()
                close(response)

    asyncio.run(scenario())
