"""A person's reply is an answer (it fills `support_answer`), the bot stays quiet after it until
the room is handed back, and closing a conversation (docs/people.md, docs/api.md)."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from bot.answerers import Answer
from bot.models import DEFAULT_HANDOFF_MESSAGE, HandOff
from bot.services import message_answer_apply, room_close, room_hand_back, rooms_waiting
from knowledge.models import KnowledgeEntry
from messaging.models import Message
from messaging.reactions import Answering
from messaging.services import message_create
from rooms.models import Room
from webhooks.models import Event, EventType
from webhooks.services import webhook_create

from .factories import RoomFactory

URL = "/api/v1/messages/"
SHIPPING = "We ship to the US and Canada; delivery takes 3 to 5 business days."


def post(account, room, body, client=None, **extra):
    response = (client or account.client).post(
        URL, {"body": body, "room": {"uuid": str(room.uuid)}} | extra, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def reply(account, room, body, **extra):
    return post(account, room, body, is_support_sender=True, nickname="Sam", **extra)


def answer_of(account, sent):
    response = account.client.get(f"{URL}{sent['uuid']}/")
    assert response.status_code == 200
    return response.json()["support_answer"]


@pytest.fixture
def shipping(alice):
    return KnowledgeEntry.objects.create(
        account=alice.user, question="How long does shipping take?", answer=SHIPPING
    )


# The rule: the room's latest message before the reply, if a visitor's without an answer.


def test_a_reply_fills_the_latest_unanswered_visitor_message(alice):
    room = RoomFactory(account=alice.user)  # the bot is off
    first = post(alice, room, "Hello?")
    second = post(alice, room, "Is anyone there?")
    assert first["support_answer"] is second["support_answer"] is None
    sent = reply(alice, room, "Hi, I'm Sam. How can I help?")
    assert sent["support_answer"] is None  # a reply answers; it is not answered
    assert answer_of(alice, second) == "Hi, I'm Sam. How can I help?"
    # The reply answers the conversation, shown on its latest message only.
    assert answer_of(alice, first) is None


def test_a_reply_after_a_support_message_fills_nothing(alice):
    room = RoomFactory(account=alice.user)
    asked = post(alice, room, "Where is my parcel?")
    reply(alice, room, "Let me check.")
    reply(alice, room, "It left our warehouse this morning.")
    assert answer_of(alice, asked) == "Let me check."


def test_a_reply_in_an_empty_room_or_after_an_answered_message_changes_nothing(alice):
    room = RoomFactory(account=alice.user)
    reply(alice, room, "Hello from the team.")
    answered = message_create(
        account=alice.user, room=room, answer=Answering.BACKGROUND, body="Hi", support_answer="x"
    )
    reply(alice, room, "Anything else?")
    answered.refresh_from_db()
    assert answered.support_answer == "x"
    assert list(room.messages.order_by("id").values_list("support_answer", flat=True)) == [
        None,
        "x",
        None,
    ]


def test_the_bots_own_answer_is_not_a_persons_reply(alice, shipping):
    room = RoomFactory(account=alice.user, is_bot_use=True)
    asked = post(alice, room, "How long does shipping take?")
    assert asked["support_answer"] == SHIPPING
    room.refresh_from_db()
    assert room.is_bot_use is True  # the bot's message did not quiet the bot
    bot_message = message_create(
        account=alice.user, room=room, answer=Answering.NONE, body="More?", is_support_sender=True
    )
    assert bot_message.is_support_sender
    room.refresh_from_db()
    assert room.is_bot_use is True


def test_a_late_bot_answer_never_overwrites_a_persons_reply(alice):
    room = RoomFactory(account=alice.user)
    asked = post(alice, room, "Can I pay by invoice?")
    reply(alice, room, "Yes, for orders over $500.")
    message = Message.objects.get(uuid=asked["uuid"])
    assert message_answer_apply(message=message, answer=Answer(text="From the bot")) is False
    assert answer_of(alice, asked) == "Yes, for orders over $500."
    assert not room.messages.filter(body="From the bot").exists()


def test_a_reply_is_a_message_like_any_other(alice):
    webhook_create(account=alice.user, event=EventType.MESSAGE_ADDED, target="https://x.test/h")
    room = RoomFactory(account=alice.user)
    post(alice, room, "Hello?")
    sent = reply(alice, room, "Hello! Sam here.")
    events = Event.objects.filter(type=EventType.MESSAGE_ADDED).order_by("id")
    assert [e.data["body"] for e in events] == ["Hello?", "Hello! Sam here."]
    assert events.last().data["uuid"] == sent["uuid"]
    assert events.last().data["is_support_sender"] is True


def test_the_vendors_sample_frontend_shows_a_persons_reply(alice):
    """The sample frontend: a room from an empty POST, then each message polled every 1.5 s,
    up to 10 times, until `support_answer` is a non-empty string (spec, "The bot"). The bot
    hands off (no knowledge), and the person's reply shows up in the poll of the next message."""
    client = APIClient(HTTP_USER_AGENT="AskHandleClient/1.0")
    client.credentials(HTTP_AUTHORIZATION=f"Token {alice.key}")
    room = client.generic("POST", "/api/v1/rooms/").json()
    room_ref = {"uuid": room["uuid"]}

    def send(body):
        response = client.post(
            URL, {"body": body, "nickname": "Mary", "room": room_ref}, format="json"
        )
        assert response.status_code == 201
        return response.json()

    def poll(sent, person_replies_at=None):
        for attempt in range(10):
            if attempt == person_replies_at:
                reply(alice, Room.objects.get(uuid=room["uuid"]), "  Sam here: yes, we do!  ")
            answer = client.get(f"{URL}{sent['uuid']}/").json()["support_answer"]
            if isinstance(answer, str) and answer.strip():
                return answer.strip()
        return None  # the frontend's "No response received."

    handed_off = send("Do you do gift wrapping for orders to Norway?")
    assert handed_off["terminated"] is True
    assert poll(handed_off) == DEFAULT_HANDOFF_MESSAGE
    waiting = send("Hello? Anyone?")
    assert waiting["support_answer"] is None  # the bot is off: a person has the room
    assert poll(waiting, person_replies_at=3) == "Sam here: yes, we do!"
    # Before this change the loop above ran out: no answer ever reached a polled message.


def test_two_accounts(alice, bob):
    mine = RoomFactory(account=alice.user)
    theirs = RoomFactory(account=bob.user)
    asked = post(alice, mine, "Hello?")
    their_asked = post(bob, theirs, "Hello?")
    # Bob cannot reply in alice's room: it does not exist for him.
    response = bob.client.post(
        URL,
        {"body": "Hi from bob", "room": {"uuid": str(mine.uuid)}, "is_support_sender": True},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["room"]
    assert answer_of(alice, asked) is None
    assert bob.client.get(f"{URL}{asked['uuid']}/").status_code == 404
    # His reply in his own room answers only his message.
    reply(bob, theirs, "Bob's team here.")
    assert answer_of(bob, their_asked) == "Bob's team here."
    assert answer_of(alice, asked) is None


# The bot stays quiet after a person's reply, until the room is handed back.


def test_after_a_persons_reply_the_bot_is_quiet_until_handed_back(alice, shipping):
    room = RoomFactory(account=alice.user, is_bot_use=True)
    assert post(alice, room, "How long does shipping take?")["support_answer"] == SHIPPING
    reply(alice, room, "Sam here: yours left today.")
    room.refresh_from_db()
    assert room.is_bot_use is False
    later = post(alice, room, "How long does shipping take?")
    assert later["support_answer"] is None  # left to the person
    room_hand_back(room=room)
    again = post(alice, room, "How long does shipping take?")
    assert again["support_answer"] == SHIPPING
    # The message a person was answering is not answered by the bot after the hand-back.
    assert answer_of(alice, later) is None


@override_settings(BOT_QUIET_AFTER_PERSON=False)
def test_without_quiet_the_bot_answers_after_a_persons_reply(alice, shipping):
    room = RoomFactory(account=alice.user, is_bot_use=True)
    reply(alice, room, "Welcome! Sam here.")
    room.refresh_from_db()
    assert room.is_bot_use is True
    assert post(alice, room, "How long does shipping take?")["support_answer"] == SHIPPING


def test_a_reply_resolves_the_open_hand_off(alice):
    room = RoomFactory(account=alice.user, is_bot_use=True)
    handed_off = post(alice, room, "Can I pay with Bitcoin on Saturdays?")
    assert handed_off["terminated"] is True
    hand_off = HandOff.objects.get()
    assert hand_off.resolved_at is None
    assert list(rooms_waiting(rooms=Room.objects.all())) == [room]
    reply(alice, room, "We don't take Bitcoin, sorry.")
    hand_off.refresh_from_db()
    assert (hand_off.resolution, hand_off.resolved_at is not None) == ("replied", True)
    # The hand-off text already answered the visitor's message; the reply does not replace it.
    assert answer_of(alice, handed_off) == DEFAULT_HANDOFF_MESSAGE
    assert list(rooms_waiting(rooms=Room.objects.all())) == []


def test_hand_back_resolves_hand_offs_and_turns_the_bot_on(alice, shipping):
    room = RoomFactory(account=alice.user, is_bot_use=True)
    post(alice, room, "Can I pay with Bitcoin on Saturdays?")
    room.refresh_from_db()
    assert room.is_bot_use is False
    room_hand_back(room=room)
    room.refresh_from_db()
    assert room.is_bot_use is True
    assert HandOff.objects.get().resolution == "handed_back"
    assert post(alice, room, "How long does shipping take?")["support_answer"] == SHIPPING


def test_close_ends_the_conversation_until_the_visitor_writes_again(alice):
    room = RoomFactory(account=alice.user, is_bot_use=True)
    post(alice, room, "Can I pay with Bitcoin on Saturdays?")
    reply(alice, room, "No, sorry.")
    post(alice, room, "Ok, thanks!")
    assert list(rooms_waiting(rooms=Room.objects.all())) == [room]
    room_close(room=room)
    latest = room.messages.order_by("-sent_at", "-id").first()
    assert (latest.body, latest.terminated) == ("Ok, thanks!", True)
    assert list(rooms_waiting(rooms=Room.objects.all())) == []
    room.refresh_from_db()
    assert room.is_bot_use is False  # closing does not give the room to the bot
    post(alice, room, "One more question!")
    assert list(rooms_waiting(rooms=Room.objects.all())) == [room]


def test_rooms_waiting(alice, bob):
    handed_off = RoomFactory(account=alice.user, is_bot_use=True)
    post(alice, handed_off, "Can I pay with Bitcoin on Saturdays?")
    unanswered = RoomFactory(account=alice.user)
    post(alice, unanswered, "Hello?")
    answered = RoomFactory(account=alice.user)
    post(alice, answered, "Hello?")
    reply(alice, answered, "Hi!")
    RoomFactory(account=alice.user)  # empty
    bot_on = RoomFactory(account=alice.user, is_bot_use=True)
    message_create(account=alice.user, room=bot_on, answer=Answering.NONE, body="Unanswered")
    theirs = RoomFactory(account=bob.user)
    post(bob, theirs, "Hello?")
    waiting = rooms_waiting(rooms=Room.objects.filter(account=alice.user))
    # Newest activity first.
    assert list(waiting) == [unanswered, handed_off]
    assert [(r.has_open_hand_off, r.latest_body) for r in waiting] == [
        (False, "Hello?"),
        (True, DEFAULT_HANDOFF_MESSAGE),
    ]
    post(alice, handed_off, "Still there?")
    assert list(rooms_waiting(rooms=Room.objects.filter(account=alice.user))) == [
        handed_off,
        unanswered,
    ]


# The API extension: POST /api/v1/rooms/<label>/hand_back/.


@pytest.mark.parametrize("slash", ["/", ""])
def test_hand_back_through_the_api(alice, shipping, slash):
    room = RoomFactory(account=alice.user, is_bot_use=True)
    post(alice, room, "Can I pay with Bitcoin on Saturdays?")
    response = alice.client.post(f"/api/v1/rooms/{room.label}/hand_back{slash}")
    assert response.status_code == 200
    body = response.json()
    assert (body["label"], body["uuid"], body["is_bot_use"]) == (room.label, str(room.uuid), True)
    assert [m["is_support_sender"] for m in body["messages"]] == [False, True]
    assert HandOff.objects.get().resolution == "handed_back"
    assert post(alice, room, "How long does shipping take?")["support_answer"] == SHIPPING
    # Again: nothing left to change.
    assert alice.client.post(f"/api/v1/rooms/{room.label}/hand_back/").status_code == 200


def test_hand_back_through_the_api_two_accounts(alice, bob, anon):
    room = RoomFactory(account=alice.user, is_bot_use=True)
    post(alice, room, "Can I pay with Bitcoin on Saturdays?")
    url = f"/api/v1/rooms/{room.label}/hand_back/"
    assert anon.post(url).status_code == 401
    response = bob.client.post(url)
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert alice.client.get(url).status_code == 405
    room.refresh_from_db()
    assert room.is_bot_use is False
    assert HandOff.objects.get().resolved_at is None
