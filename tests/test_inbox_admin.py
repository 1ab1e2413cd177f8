"""The admin's inbox for the people answering (bot.admin.InboxAdmin): the waiting conversations
of the login's own account only, a reply through the message service that fills
`support_answer`, hand back and close."""

import re

import pytest
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from accounts.models import User
from bot.models import DEFAULT_HANDOFF_MESSAGE, HandOff
from knowledge.models import KnowledgeEntry
from messaging.models import Message
from webhooks.models import Event, EventType
from webhooks.services import webhook_create

from .factories import RoomFactory

INBOX = "/admin/bot/inboxroom/"
SHIPPING = "We ship to the US and Canada; delivery takes 3 to 5 business days."


def conversation_url(room):
    return f"{INBOX}{room.pk}/change/"


def post(account, room, body, **extra):
    response = account.client.post(
        "/api/v1/messages/", {"body": body, "room": {"uuid": str(room.uuid)}} | extra, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def staff_client(account):
    """A staff login of the account, without any model permission and not a superuser."""
    User.objects.filter(pk=account.user.pk).update(is_staff=True)
    client = Client()
    assert client.login(
        request=HttpRequest(), username=account.user.username, password=account.password
    )
    return client


def listed_labels(response):
    assert response.status_code == 200
    return re.findall(r'class="inbox-conversation"[^>]*data-room-label="([^"]+)"', response.text)


@pytest.fixture
def rooms(alice, bob):
    """alice: a handed-off room, an unanswered one, an answered one, one with the bot on;
    bob: a handed-off room."""
    handed_off = RoomFactory(account=alice.user, is_bot_use=True, label="a-handed-off")
    post(alice, handed_off, "Can I pay with Bitcoin on Saturdays?")
    unanswered = RoomFactory(account=alice.user, label="a-unanswered")
    post(alice, unanswered, "Hello? Is anyone there?")
    answered = RoomFactory(account=alice.user, label="a-answered")
    post(alice, answered, "Hello?")
    post(alice, answered, "Hi! Sam here.", is_support_sender=True)
    RoomFactory(account=alice.user, is_bot_use=True, label="a-bot-on")
    theirs = RoomFactory(account=bob.user, is_bot_use=True, label="b-handed-off")
    post(bob, theirs, "Can I pay with Bitcoin on Saturdays?")
    return {"handed_off": handed_off, "unanswered": unanswered, "theirs": theirs}


def test_staff_of_an_account_sees_only_its_own_waiting_rooms(alice, bob, rooms):
    client = staff_client(alice)
    assert listed_labels(client.get(INBOX)) == ["a-unanswered", "a-handed-off"]
    assert listed_labels(staff_client(bob).get(INBOX)) == ["b-handed-off"]
    # Newest activity first: a new message moves its room up.
    post(alice, rooms["handed_off"], "Hello?")
    assert listed_labels(client.get(INBOX)) == ["a-handed-off", "a-unanswered"]


def test_a_superuser_sees_every_accounts_waiting_rooms(admin_client, rooms):
    assert listed_labels(admin_client.get(INBOX)) == [
        "b-handed-off",
        "a-unanswered",
        "a-handed-off",
    ]


def test_another_accounts_conversation_is_not_found(alice, rooms):
    client = staff_client(alice)
    theirs = rooms["theirs"]
    assert client.get(conversation_url(theirs)).status_code == 404
    before = Message.objects.count()
    response = client.post(conversation_url(theirs), {"body": "Hi from alice"})
    assert response.status_code == 404
    for action in ["_hand_back", "_close"]:
        assert client.post(conversation_url(theirs), {action: "1"}).status_code == 404
    assert Message.objects.count() == before
    theirs.refresh_from_db()
    assert theirs.is_bot_use is False
    assert HandOff.objects.get(room=theirs).resolved_at is None
    # Nor through the changelist's actions: its rows are only alice's.
    client.post(INBOX, {"action": "hand_back", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.is_bot_use is False


def test_logins_that_are_not_staff_are_sent_to_the_login_page(alice, rooms):
    client = Client()
    assert client.login(request=HttpRequest(), username="alice", password=alice.password)
    response = client.get(INBOX)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_conversation_page_has_a_stable_dom(alice, rooms):
    client = staff_client(alice)
    room = rooms["handed_off"]
    page = client.get(conversation_url(room))
    assert page.status_code == 200
    html = page.text
    assert f'id="inbox-conversation" data-room-uuid="{room.uuid}"' in html
    assert 'id="inbox-messages"' in html
    assert 'id="inbox-reply-form"' in html and 'id="inbox-reply-body"' in html
    assert 'id="inbox-hand-back"' in html and 'id="inbox-close"' in html
    item = r'<li class="inbox-message inbox-message--(\w+)[^"]*"\s+id="message-([^"]+)"'
    messages = re.findall(item, html)
    assert messages == [
        ("visitor", str(m.uuid)) if not m.is_support_sender else ("support", str(m.uuid))
        for m in room.messages.order_by("sent_at", "id")
    ]
    assert len(messages) == 2
    assert "Can I pay with Bitcoin on Saturdays?" in html
    assert escape(DEFAULT_HANDOFF_MESSAGE) in html
    assert 'id="inbox-conversations"' in client.get(INBOX).text


def test_a_reply_goes_through_the_service_and_fills_support_answer(alice, rooms):
    webhook_create(account=alice.user, event=EventType.MESSAGE_ADDED, target="https://x.test/h")
    client = staff_client(alice)
    room = rooms["unanswered"]
    response = client.post(conversation_url(room), {"body": "Yes! Sam here.", "nickname": "Sam"})
    assert response.status_code == 302
    assert response["Location"] == conversation_url(room)
    reply = room.messages.get(body="Yes! Sam here.")
    assert (reply.is_support_sender, reply.nickname, reply.account) == (True, "Sam", alice.user)
    waiting = room.messages.get(body="Hello? Is anyone there?")
    assert waiting.support_answer == "Yes! Sam here."
    polled = alice.client.get(f"/api/v1/messages/{waiting.uuid}/").json()
    assert polled["support_answer"] == "Yes! Sam here."
    # What a message from the API sets off: its webhook event.
    assert Event.objects.filter(type=EventType.MESSAGE_ADDED, data__uuid=str(reply.uuid)).exists()
    # Answered: the room waits no more.
    assert listed_labels(client.get(INBOX)) == ["a-handed-off"]
    assert "Yes! Sam here." in client.get(conversation_url(room)).text


def test_an_empty_reply_is_refused_and_changes_nothing(alice, rooms):
    client = staff_client(alice)
    room = rooms["unanswered"]
    before = Message.objects.count()
    response = client.post(conversation_url(room), {"body": "   ", "nickname": "Sam"})
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert Message.objects.count() == before


def test_hand_back_makes_the_bot_answer_again(alice, rooms):
    KnowledgeEntry.objects.create(
        account=alice.user, question="How long does shipping take?", answer=SHIPPING
    )
    client = staff_client(alice)
    room = rooms["handed_off"]
    assert post(alice, room, "How long does shipping take?")["support_answer"] is None
    response = client.post(conversation_url(room), {"_hand_back": "Hand back to the bot"})
    assert response.status_code == 302
    room.refresh_from_db()
    assert room.is_bot_use is True
    assert HandOff.objects.get(room=room).resolution == "handed_back"
    assert listed_labels(client.get(INBOX)) == ["a-unanswered"]
    assert post(alice, room, "How long does shipping take?")["support_answer"] == SHIPPING


def test_close_takes_the_room_out_of_the_inbox(alice, rooms):
    client = staff_client(alice)
    room = rooms["handed_off"]
    response = client.post(conversation_url(room), {"_close": "Close"})
    assert response.status_code == 302
    assert HandOff.objects.get(room=room).resolution == "closed"
    assert room.messages.order_by("-sent_at", "-id").first().terminated is True
    assert listed_labels(client.get(INBOX)) == ["a-unanswered"]


def test_the_inbox_actions(alice, rooms):
    client = staff_client(alice)
    handed_off, unanswered = rooms["handed_off"], rooms["unanswered"]
    client.post(INBOX, {"action": "close", "_selected_action": [unanswered.pk]})
    client.post(INBOX, {"action": "hand_back", "_selected_action": [handed_off.pk]})
    handed_off.refresh_from_db()
    assert handed_off.is_bot_use is True
    assert unanswered.messages.order_by("-sent_at", "-id").first().terminated is True
    assert listed_labels(client.get(INBOX)) == []


def test_the_hand_off_admin_hands_back(admin_client, rooms):
    theirs = rooms["theirs"]
    hand_off = HandOff.objects.get(room=theirs)
    admin_client.post(
        "/admin/bot/handoff/", {"action": "hand_back", "_selected_action": [hand_off.pk]}
    )
    theirs.refresh_from_db()
    assert theirs.is_bot_use is True
    hand_off.refresh_from_db()
    assert hand_off.resolution == "handed_back"


def test_the_inbox_costs_the_same_queries_however_many_rooms_wait(alice, rooms):
    client = staff_client(alice)
    client.get(INBOX)  # the session, warm
    with CaptureQueriesContext(connection) as two:
        assert len(listed_labels(client.get(INBOX))) == 2
    for number in range(6):
        post(alice, RoomFactory(account=alice.user, label=f"more-{number}"), "Hello?")
    with CaptureQueriesContext(connection) as eight:
        assert len(listed_labels(client.get(INBOX))) == 8
    assert len(eight) == len(two) <= 10
