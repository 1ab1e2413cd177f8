"""Every write of the admin goes through the same service as the API: a message added in the admin
sets off what one posted to the API does (its lead, keyword notification, webhook event and the
bot's answer), and rooms, leads, keywords and knowledge entries are added and changed by their
services. Two accounts: what the admin does in bob's account leaves alice's untouched."""

import pytest

from keywords.models import Keyword, KeywordNotification
from knowledge.models import KnowledgeEntry
from knowledge.services import knowledge_entry_create
from leads.models import Lead
from messaging.models import Message
from rooms.models import Room
from webhooks.models import Event, EventType
from webhooks.services import webhook_create

from .factories import RoomFactory
from .tasks import run_tasks

SHIPPING = "Standard shipping takes 3 to 5 business days."
QUESTION = "How long does shipping take? Otherwise I want a refund."
INLINE_MANAGEMENT = {
    "messages-TOTAL_FORMS": "0", "messages-INITIAL_FORMS": "0",
    "messages-MIN_NUM_FORMS": "0", "messages-MAX_NUM_FORMS": "1000",
}  # fmt: skip


def spy(monkeypatch, module, name):
    """Record the keyword arguments of each call of `module.name`, still calling it."""
    calls = []
    real = getattr(module, name)

    def recording(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


def set_up(account):
    """An account that reacts to everything: a subscription per event, a keyword, knowledge the
    bot answers from, and a room with the bot on."""
    for event in EventType:
        webhook_create(account=account, event=event, target="https://example.com/hook")
    Keyword.objects.create(account=account, keyword="refund", normalized="refund")
    knowledge_entry_create(
        account=account, question="How long does shipping take?", answer=SHIPPING
    )
    run_tasks()  # its vector, as the task worker makes it
    return RoomFactory(account=account, is_bot_use=True)


def effects(account, room):
    """What a visitor message in `room` set off, in a form two accounts can be compared by."""
    visitor = room.messages.get(is_support_sender=False)
    room.refresh_from_db()
    return {
        "support_answer": visitor.support_answer,
        "room_messages": list(
            room.messages.order_by("sent_at", "id").values_list("is_support_sender", "body")
        ),
        "keywords": list(
            KeywordNotification.objects.filter(account=account).values_list("keyword", "message")
        ),
        "lead": room.lead and (room.lead.email, room.lead.nickname),
        "events": list(Event.objects.filter(account=account).order_by("id").values_list("type")),
    }


def expected_effects(visitor, answer):
    return {
        "support_answer": SHIPPING,
        "room_messages": [(False, QUESTION), (True, SHIPPING)],
        "keywords": [("refund", visitor.pk)],
        "lead": ("mary@example.com", "Mary"),
        # In the order of messaging.reactions.ORDER; the bot's answer is a message too.
        "events": [
            (EventType.LEAD_ADDED,),
            (EventType.KEYWORD_NOTIFICATION_ADDED,),
            (EventType.MESSAGE_ADDED,),
            (EventType.MESSAGE_ADDED,),
        ],
    }


def test_a_message_added_in_the_admin_sets_off_what_the_api_does(
    admin_client, alice, bob, monkeypatch
):
    from messaging import admin as messaging_admin

    alice_room, bob_room = set_up(alice.user), set_up(bob.user)
    response = alice.client.post(
        "/api/v1/messages/",
        {"room": str(alice_room.uuid), "body": QUESTION, "email": "mary@example.com"}
        | {"nickname": "Mary"},
        format="json",
    )
    assert response.status_code == 201
    calls = spy(monkeypatch, messaging_admin, "message_create")
    response = admin_client.post(
        "/admin/messaging/message/add/",
        {"room": bob_room.pk, "body": QUESTION, "nickname": "Mary", "email": "mary@example.com"}
        | {"phone_number": "", "support_answer": ""},
    )
    assert response.status_code == 302, response.content[:2000]
    assert [(call["account"], call["room"], call["answer"]) for call in calls] == [
        (bob.user, bob_room, "background")
    ]
    from_api = effects(alice.user, alice_room)
    from_admin = effects(bob.user, bob_room)
    assert from_admin == expected_effects(bob_room.messages.get(is_support_sender=False), SHIPPING)
    assert from_api == expected_effects(alice_room.messages.get(is_support_sender=False), SHIPPING)
    # The admin's message went to bob's account only.
    assert Message.objects.filter(account=alice.user).count() == 2


def test_a_message_added_inline_in_the_room_admin_sets_off_what_the_api_does(
    admin_client, alice, bob
):
    set_up(alice.user)
    room = set_up(bob.user)
    data = {
        "label": room.label, "name": room.name, "greeting_message": "", "is_bot_use": "on",
        **INLINE_MANAGEMENT, "messages-TOTAL_FORMS": "1",
        "messages-0-body": QUESTION, "messages-0-nickname": "Mary",
        "messages-0-support_answer": "",
    }  # fmt: skip
    response = admin_client.post(f"/admin/rooms/room/{room.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    visitor = room.messages.get(is_support_sender=False)
    assert visitor.account == bob.user
    found = effects(bob.user, room)
    # The inline has no email box: no lead; the rest as from the API.
    assert found == expected_effects(visitor, SHIPPING) | {
        "lead": None,
        "events": [
            (EventType.KEYWORD_NOTIFICATION_ADDED,),
            (EventType.MESSAGE_ADDED,),
            (EventType.MESSAGE_ADDED,),
        ],
    }
    assert not Event.objects.filter(account=alice.user).exists()


def test_a_message_changed_in_the_admin_goes_through_message_update(admin_client, bob, monkeypatch):
    from messaging import admin as messaging_admin

    room = RoomFactory(account=bob.user)
    message = Message.objects.create(account=bob.user, room=room, body="Helo", nickname="Mary")
    calls = spy(monkeypatch, messaging_admin, "message_update")
    response = admin_client.post(
        f"/admin/messaging/message/{message.pk}/change/",
        {"body": "Hello", "nickname": "Mary", "email": "", "phone_number": ""}
        | {"support_answer": "", "room": RoomFactory(account=bob.user).pk},
    )
    assert response.status_code == 302, response.content[:2000]
    assert calls == [{"message": message, "body": "Hello"}]
    message.refresh_from_db()
    # The room is read-only once the message exists: the posted one is ignored.
    assert (message.body, message.room) == ("Hello", room)
    assert not Event.objects.exists()  # a correction is not a new message


def test_rooms_are_added_and_changed_in_the_admin_through_their_services(
    admin_client, alice, bob, monkeypatch
):
    from rooms import admin as rooms_admin

    webhook_create(account=bob.user, event=EventType.CHAT_ADDED, target="https://example.com/h")
    created = spy(monkeypatch, rooms_admin, "room_create")
    updated = spy(monkeypatch, rooms_admin, "room_update")
    fields = {"label": "from-admin", "name": "From the admin", "greeting_message": "Hi"}
    response = admin_client.post(
        "/admin/rooms/room/add/", {"account": bob.user.pk, **fields, **INLINE_MANAGEMENT}
    )
    assert response.status_code == 302, response.content[:2000]
    room = Room.objects.get(label="from-admin")
    assert (room.account, room.name, room.greeting_message) == (bob.user, "From the admin", "Hi")
    assert [(call["account"], call["label"]) for call in created] == [(bob.user, "from-admin")]
    # Announced once, by the service.
    [event] = Event.objects.all()
    assert (event.account, event.type, event.data["uuid"]) == (
        bob.user,
        EventType.CHAT_ADDED,
        str(room.uuid),
    )

    response = admin_client.post(
        f"/admin/rooms/room/{room.pk}/change/",
        {**fields, "name": "Renamed", **INLINE_MANAGEMENT},
    )
    assert response.status_code == 302, response.content[:2000]
    assert updated == [{"room": room, "name": "Renamed"}]
    room.refresh_from_db()
    assert room.name == "Renamed"
    assert Event.objects.count() == 1
    assert not Room.objects.filter(account=alice.user).exists()


def test_leads_are_added_and_changed_in_the_admin_through_their_services(
    admin_client, alice, bob, monkeypatch
):
    from leads import admin as leads_admin

    webhook_create(account=bob.user, event=EventType.LEAD_ADDED, target="https://example.com/h")
    created = spy(monkeypatch, leads_admin, "lead_create")
    updated = spy(monkeypatch, leads_admin, "lead_update")
    fields = {"nickname": "Ann", "email": "ann@example.com", "phone_number": ""}
    fields |= {"device": "", "from_page_title": "", "referrer": ""}
    response = admin_client.post("/admin/leads/lead/add/", {"account": bob.user.pk, **fields})
    assert response.status_code == 302, response.content[:2000]
    lead = Lead.objects.get()
    assert (lead.account, lead.email) == (bob.user, "ann@example.com")
    assert [call["account"] for call in created] == [bob.user]
    [event] = Event.objects.all()
    assert (event.account, event.type, event.data["uuid"]) == (
        bob.user,
        EventType.LEAD_ADDED,
        str(lead.uuid),
    )

    response = admin_client.post(
        f"/admin/leads/lead/{lead.pk}/change/",
        {"account": bob.user.pk, **fields, "nickname": "Ann B."},
    )
    assert response.status_code == 302, response.content[:2000]
    assert updated == [{"lead": lead, "nickname": "Ann B."}]
    lead.refresh_from_db()
    assert lead.nickname == "Ann B."
    assert Event.objects.count() == 1
    assert not Lead.objects.filter(account=alice.user).exists()


def test_the_api_changes_leads_through_lead_update(alice, bob, monkeypatch):
    from leads import views as leads_views

    updated = spy(monkeypatch, leads_views, "lead_update")
    lead = Lead.objects.create(account=alice.user, nickname="Ann")
    url = f"/api/v1/leads/{lead.uuid}/"
    assert bob.client.patch(url, {"nickname": "Bob's"}, format="json").status_code == 404
    response = alice.client.patch(url, {"nickname": "Ann B."}, format="json")
    assert (response.status_code, response.json()["nickname"]) == (200, "Ann B.")
    assert updated == [{"lead": lead, "nickname": "Ann B."}]


def test_keywords_are_saved_in_the_admin_through_keyword_save(admin_client, bob, monkeypatch):
    from keywords import admin as keywords_admin

    saved = spy(monkeypatch, keywords_admin, "keyword_save")
    response = admin_client.post(
        "/admin/keywords/keyword/add/", {"account": bob.user.pk, "keyword": "  Refund   Please "}
    )
    assert response.status_code == 302, response.content[:2000]
    keyword = Keyword.objects.get()
    # Tidied and normalised by the service, as through the API.
    assert (keyword.account, keyword.keyword, keyword.normalized) == (
        bob.user,
        "Refund Please",
        "refund please",
    )
    response = admin_client.post(
        f"/admin/keywords/keyword/{keyword.pk}/change/", {"keyword": "Refunds"}
    )
    assert response.status_code == 302, response.content[:2000]
    keyword.refresh_from_db()
    assert (keyword.keyword, len(saved)) == ("Refunds", 2)


def test_knowledge_entries_are_added_and_changed_in_the_admin_through_their_services(
    admin_client, alice, bob, monkeypatch
):
    from knowledge import admin as knowledge_admin

    created = spy(monkeypatch, knowledge_admin, "knowledge_entry_create")
    updated = spy(monkeypatch, knowledge_admin, "knowledge_entry_update")
    fields = {"question": "Do you ship to Canada?", "answer": "Yes.", "tags": "shipping,  Canada"}
    response = admin_client.post(
        "/admin/knowledge/knowledgeentry/add/", {"account": bob.user.pk, **fields}
    )
    assert response.status_code == 302, response.content[:2000]
    entry = KnowledgeEntry.objects.get()
    # Tags tidied by the service, as through the API.
    assert (entry.account, entry.tags) == (bob.user, "shipping, Canada")
    assert [call["account"] for call in created] == [bob.user]

    before = entry.updated_at
    response = admin_client.post(
        f"/admin/knowledge/knowledgeentry/{entry.pk}/change/",
        {"account": bob.user.pk, **fields, "tags": entry.tags, "answer": "Yes, in 5 to 8 days."},
    )
    assert response.status_code == 302, response.content[:2000]
    assert updated == [{"entry": entry, "answer": "Yes, in 5 to 8 days."}]
    entry.refresh_from_db()
    assert entry.answer == "Yes, in 5 to 8 days."
    assert entry.updated_at > before
    assert not KnowledgeEntry.objects.filter(account=alice.user).exists()


@pytest.mark.parametrize(
    "module, name",
    [
        ("messaging.admin", "message_added"),
        ("rooms.admin", "event_emit"),
        ("leads.admin", "event_emit"),
    ],
)
def test_no_admin_sets_off_events_itself(module, name):
    import importlib

    assert not hasattr(importlib.import_module(module), name)
