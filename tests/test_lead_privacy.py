"""A lead's data on request: everything held about it (export) and its erasure (purge)."""

import uuid

import pytest
from django.utils import timezone

from bot.models import HandOff
from idempotency.models import IdempotencyKey
from keywords.models import KeywordNotification
from leads.models import Lead
from leads.selectors import lead_rooms
from leads.services import lead_delete
from messaging.models import Message
from rooms.models import Room
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, Webhook

from .factories import LeadFactory, MessageFactory, RoomFactory

NOT_FOUND = {"detail": "Not found."}
NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}


@pytest.fixture
def held(alice, bob):
    """Alice's lead Ann, with rooms found by her email and by her phone, a room that is not
    hers, and bob's room with the same email (another account: never Ann's data at alice's)."""
    lead = LeadFactory(account=alice.user, email="Ann@Example.com", phone_number="+1 555 0100")
    by_email = RoomFactory(account=alice.user, label="by-email")
    MessageFactory(account=alice.user, room=by_email, body="hi", email="ann@example.com")
    MessageFactory(account=alice.user, room=by_email, body="answer", is_support_sender=True)
    by_phone = RoomFactory(account=alice.user, label="by-phone")
    MessageFactory(account=alice.user, room=by_phone, body="call me", phone_number="+1 555 0100")
    other = RoomFactory(account=alice.user, label="other")
    MessageFactory(account=alice.user, room=other, body="not ann", email="bea@example.com")
    bobs = RoomFactory(account=bob.user, label="bobs")
    MessageFactory(account=bob.user, room=bobs, body="same email", email="ann@example.com")
    return {"lead": lead, "by_email": by_email, "by_phone": by_phone, "other": other, "bobs": bobs}


def export_url(lead):
    return f"/api/v1/leads/{lead.uuid}/export/"


def test_export_holds_the_lead_its_rooms_and_their_messages(alice, held):
    response = alice.client.get(export_url(held["lead"]))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"lead", "rooms", "exported_at"}
    assert body["lead"] == alice.client.get(f"/api/v1/leads/{held['lead'].uuid}/").json()
    assert [room["label"] for room in body["rooms"]] == ["by-phone", "by-email"]  # newest first
    by_email = body["rooms"][1]
    assert by_email == alice.client.get("/api/v1/rooms/by-email/").json()
    assert [m["body"] for m in by_email["messages"]] == ["hi", "answer"]  # the whole room
    assert body["exported_at"].endswith("Z")


@pytest.mark.parametrize("url", ["/api/v1/leads/{}/export", "/api/v1/leads/{}/export/"])
def test_export_answers_with_and_without_the_slash(alice, held, url):
    assert alice.client.get(url.format(held["lead"].uuid)).status_code == 200


def test_a_lead_without_contact_details_has_no_rooms(alice, held):
    lead = LeadFactory(account=alice.user, email="", phone_number="")
    MessageFactory(account=alice.user, room=held["other"], email="", phone_number="")

    body = alice.client.get(export_url(lead)).json()

    assert body["rooms"] == []
    assert not lead_rooms(lead=lead).exists()


def test_a_lead_with_only_a_phone_number_finds_rooms_by_phone(alice, held):
    lead = LeadFactory(account=alice.user, email="", phone_number="+1 555 0100")
    labels = [room["label"] for room in alice.client.get(export_url(lead)).json()["rooms"]]
    assert labels == ["by-phone"]


def test_export_needs_a_key(anon, alice, held):
    response = anon.get(export_url(held["lead"]))
    assert (response.status_code, response.json()) == (401, NO_CREDENTIALS)


def test_export_of_another_accounts_lead_is_not_found(bob, held):
    response = bob.client.get(export_url(held["lead"]))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_export_of_a_missing_lead_is_not_found(alice):
    response = alice.client.get(f"/api/v1/leads/{uuid.uuid4()}/export/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_export_is_read_only(alice, held, method):
    response = getattr(alice.client, method)(export_url(held["lead"]), {}, format="json")
    assert response.status_code == 405
    assert Lead.objects.filter(pk=held["lead"].pk).exists()


def test_export_queries_do_not_grow_with_rooms(alice, held, settings, django_assert_num_queries):
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "off"  # cache traffic
    alice.client.get("/api/v1/leads/")  # records the key's last use
    # Key + lead + rooms + their messages.
    with django_assert_num_queries(4):
        assert alice.client.get(export_url(held["lead"])).status_code == 200
    for n in range(5):
        room = RoomFactory(account=alice.user)
        MessageFactory(account=alice.user, room=room, email="ann@example.com", body=f"m{n}")
    with django_assert_num_queries(4):
        body = alice.client.get(export_url(held["lead"])).json()
    assert len(body["rooms"]) == 7


def rows():
    return {
        "leads": set(Lead.objects.values_list("pk", flat=True)),
        "rooms": set(Room.objects.values_list("label", flat=True)),
        "messages": Message.objects.count(),
    }


def test_delete_without_purge_keeps_the_rooms(alice, held):
    response = alice.client.delete(f"/api/v1/leads/{held['lead'].uuid}/")

    assert response.status_code == 204
    assert not Lead.objects.filter(pk=held["lead"].pk).exists()
    assert rows()["rooms"] == {"by-email", "by-phone", "other", "bobs"}
    assert rows()["messages"] == 5


@pytest.mark.parametrize("flag", ["true", "True", "1"])
def test_purge_deletes_the_lead_its_rooms_and_their_messages(alice, held, flag):
    response = alice.client.delete(f"/api/v1/leads/{held['lead'].uuid}?purge={flag}")

    assert response.status_code == 204
    assert not Lead.objects.filter(pk=held["lead"].pk).exists()
    assert rows()["rooms"] == {"other", "bobs"}
    assert set(Message.objects.values_list("body", flat=True)) == {"not ann", "same email"}
    assert alice.client.get("/api/v1/rooms/by-email/").status_code == 404


@pytest.mark.parametrize("flag", ["false", "0"])
def test_purge_false_is_a_plain_delete(alice, held, flag):
    response = alice.client.delete(f"/api/v1/leads/{held['lead'].uuid}/?purge={flag}")
    assert response.status_code == 204
    assert rows()["rooms"] == {"by-email", "by-phone", "other", "bobs"}


@pytest.mark.parametrize("flag", ["maybe", "", "2"])
def test_a_malformed_purge_answers_400_and_deletes_nothing(alice, held, flag):
    before = rows()
    response = alice.client.delete(f"/api/v1/leads/{held['lead'].uuid}/?purge={flag}")

    assert response.status_code == 400
    assert response.json() == {"purge": ["Must be a valid boolean."]}
    assert rows() == before


def test_purge_of_another_accounts_lead_is_not_found(bob, held):
    before = rows()
    response = bob.client.delete(f"/api/v1/leads/{held['lead'].uuid}/?purge=true")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert rows() == before


def test_purge_needs_a_key(anon, held):
    before = rows()
    response = anon.delete(f"/api/v1/leads/{held['lead'].uuid}/?purge=true")
    assert (response.status_code, response.json()) == (401, NO_CREDENTIALS)
    assert rows() == before


def test_schema_documents_export_and_purge(anon):
    schema = anon.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    export = schema["paths"]["/api/v1/leads/{uuid}/export/"]
    assert set(export) == {"get"}
    assert set(export["get"]["responses"]) == {"200", "401", "404", "429", "503"}
    assert set(schema["components"]["schemas"]["LeadExport"]["properties"]) == {
        "lead",
        "rooms",
        "exported_at",
    }
    delete = schema["paths"]["/api/v1/leads/{uuid}/"]["delete"]
    assert "purge" in {p["name"] for p in delete["parameters"]}
    assert set(delete["responses"]) == {"204", "400", "401", "404", "429", "503"}


def test_purge_also_forgets_stored_create_answers_about_the_lead(alice, bob, held):
    """Idempotency-Key replays keep copies of create answers for 24 h: erasure removes those."""

    def create(account, url, payload, key):
        response = account.client.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 201, response.json()

    create(alice, "/api/v1/leads/", {"email": "ANN@example.com"}, "lead-copy")
    create(alice, "/api/v1/rooms/", {"name": "Sales"}, "unrelated-room")
    room = str(held["by_email"].uuid)
    create(alice, "/api/v1/messages/", {"body": "more", "room": room}, "message-in-anns-room")
    by_phone = {"body": "x", "phone_number": "+1 555 0100", "room": str(held["other"].uuid)}
    create(alice, "/api/v1/messages/", by_phone, "by-phone")
    create(bob, "/api/v1/leads/", {"email": "ann@example.com"}, "bobs-copy")

    response = alice.client.delete(f"/api/v1/leads/{held['lead'].uuid}/?purge=true")

    assert response.status_code == 204
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {
        "unrelated-room",
        "bobs-copy",  # another account's data is not alice's to erase
    }


# Purge: every stored copy about the person, matched exactly -----------------------------------

ALL_EVENTS = [
    "message.added",
    "lead.added",
    "chat.added",
    "keyword_notification.added",
    "chat.handed_off",
]


@pytest.fixture
def subscribed(alice, bob):
    """Both accounts subscribed to every event (targets never contacted here)."""
    for account in (alice, bob):
        for event in ALL_EVENTS:
            Webhook.objects.create(
                account=account.user, event=event, target=f"https://hooks.example.com/{event}"
            )


def api_post(account, url, payload, key=None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = account.client.post(url, payload, format="json", **extra)
    assert response.status_code == 201, response.json()
    return response.json()


def ann_and_others(alice, bob):
    """Through the API: Ann (a lead from chat, in a room with the bot on, so a hand-off too, and
    a keyword notification), Bea in another room, and bob's Ann with the same email."""
    api_post(alice, "/api/v1/keywords/", {"keyword": "refund"})
    api_post(bob, "/api/v1/keywords/", {"keyword": "refund"})
    anns_room = api_post(
        alice, "/api/v1/rooms/", {"name": "Ann's", "is_bot_use": False}, key="anns-room"
    )
    bots_room = api_post(alice, "/api/v1/rooms/", {"name": "Ann asks the bot", "is_bot_use": True})
    beas_room = api_post(
        alice, "/api/v1/rooms/", {"name": "Bea's", "is_bot_use": False}, key="beas-room"
    )
    bobs_room = api_post(
        bob, "/api/v1/rooms/", {"name": "Bob's Ann", "is_bot_use": False}, key="bobs-room"
    )
    ann = {"email": "Ann@Example.com", "phone_number": "+1 555 0100", "nickname": "Ann"}
    api_post(
        alice,
        "/api/v1/messages/",
        {"body": "I want a refund", "room": anns_room["uuid"], **ann},
        key="anns-message",
    )
    # Her phone alone, in the bot's room: a hand-off (no knowledge) and a support answer.
    api_post(
        alice,
        "/api/v1/messages/",
        {"body": "Call me back", "room": bots_room["uuid"], "phone_number": "+1 555 0100"},
    )
    api_post(
        alice,
        "/api/v1/messages/",
        {"body": "I want a refund too", "room": beas_room["uuid"], "email": "bea@example.com"},
        key="beas-message",
    )
    api_post(
        bob,
        "/api/v1/messages/",
        {"body": "refund", "room": bobs_room["uuid"], "email": "ann@example.com"},
        key="bobs-message",
    )
    lead = Lead.objects.get(account=alice.user, email__iexact="ann@example.com")
    return lead, anns_room, bots_room, beas_room, bobs_room


def about(events, room_uuid):
    return [
        e
        for e in events
        if room_uuid in {e.data.get("uuid"), (e.data.get("room") or {}).get("uuid")}
    ]


def test_purge_forgets_webhook_events_about_the_lead_with_their_deliveries_and_logs(
    alice, bob, subscribed
):
    lead, anns_room, bots_room, *_ = ann_and_others(alice, bob)
    events = list(Event.objects.filter(account=alice.user))
    anns = [e for e in events if e.data.get("uuid") == str(lead.uuid)]
    anns += about(events, anns_room["uuid"]) + about(events, bots_room["uuid"])
    # Every kind of event was recorded about Ann: the check below is not vacuous.
    assert {e.type for e in anns} == set(ALL_EVENTS)
    # Some deliveries were sent and logged (one failed, one succeeded), the rest are pending.
    finished = Delivery.objects.filter(event__in=anns).order_by("id")[:2]
    for number, delivery in enumerate(finished):
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=1,
            started_at=timezone.now(),
            duration_ms=5,
            status_code=500 if number else 200,
            error="HTTP 500: the receiver echoed ann@example.com" if number else "",
        )
        delivery.status = DeliveryStatus.FAILED if number else DeliveryStatus.SUCCEEDED
        delivery.save()
    assert Delivery.objects.filter(event__in=anns, status=DeliveryStatus.PENDING).exists()
    kept = {e.pk for e in events} - {e.pk for e in anns}
    bobs = set(Event.objects.filter(account=bob.user).values_list("pk", flat=True))
    assert kept and bobs

    response = alice.client.delete(f"/api/v1/leads/{lead.uuid}/?purge=true")

    assert response.status_code == 204
    assert set(Event.objects.filter(account=alice.user).values_list("pk", flat=True)) == kept
    assert not Delivery.objects.filter(event__in=[e.pk for e in anns]).exists()
    assert not DeliveryAttempt.objects.exists()
    assert set(Event.objects.filter(account=bob.user).values_list("pk", flat=True)) == bobs
    left = [e.data for e in Event.objects.filter(account=alice.user)]
    assert "ann@example.com" not in str(left).lower()
    assert "555 0100" not in str(left)
    # What stays is Bea's: her room, her message, her lead, her keyword notification.
    assert {(e.type, e.data.get("email") or "") for e in Event.objects.filter(pk__in=kept)} == {
        ("chat.added", ""),
        ("lead.added", "bea@example.com"),
        ("message.added", "bea@example.com"),
        ("keyword_notification.added", ""),
    }


def test_purge_forgets_events_carrying_the_email_or_phone_from_rooms_deleted_before(
    alice, subscribed
):
    """A room deleted earlier took its messages, not the events that copied them."""
    lead = LeadFactory(account=alice.user, email="ann@example.com", phone_number="+1 555 0100")
    gone = api_post(alice, "/api/v1/rooms/", {"is_bot_use": False})
    api_post(
        alice,
        "/api/v1/messages/",
        {"body": "hi", "room": gone["uuid"], "email": "ANN@example.com"},
    )
    api_post(
        alice,
        "/api/v1/messages/",
        {"body": "hi", "room": gone["uuid"], "phone_number": "+1 555 0100"},
    )
    Room.objects.filter(uuid=gone["uuid"]).delete()
    copies = Event.objects.filter(type="message.added")
    assert copies.count() == 2

    assert alice.client.delete(f"/api/v1/leads/{lead.uuid}/?purge=true").status_code == 204

    assert not copies.exists()
    assert Event.objects.filter(type="chat.added").count() == 1  # an empty room: nobody's


def test_purge_forgets_the_keyword_notifications_of_the_leads_rooms(alice, bob, subscribed):
    lead, anns_room, _, beas_room, bobs_room = ann_and_others(alice, bob)
    notifications = KeywordNotification.objects.select_related("room")
    assert {n.room.uuid for n in notifications} == {
        uuid.UUID(r["uuid"]) for r in (anns_room, beas_room, bobs_room)
    }

    assert alice.client.delete(f"/api/v1/leads/{lead.uuid}/?purge=true").status_code == 204

    left = {str(n.room.uuid) for n in KeywordNotification.objects.select_related("room")}
    assert left == {beas_room["uuid"], bobs_room["uuid"]}
    assert not HandOff.objects.exists()  # the hand-off was in Ann's (the bot's) room


def test_purge_forgets_the_replays_about_the_lead_matched_exactly(alice, bob, subscribed):
    lead, *_ = ann_and_others(alice, bob)
    api_post(alice, "/api/v1/leads/", {"email": "ANN@example.com"}, key="ann-again")
    # Not Ann's, though her email is in the text: only exact field values count.
    api_post(alice, "/api/v1/leads/", {"email": "xann@example.com"}, key="lookalike")
    api_post(
        alice,
        "/api/v1/leads/",
        {"nickname": "ann@example.com", "referrer": "mailto:ann@example.com"},
        key="text-mentions",
    )

    assert alice.client.delete(f"/api/v1/leads/{lead.uuid}/?purge=true").status_code == 204

    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {
        "beas-room",
        "beas-message",
        "lookalike",
        "text-mentions",
        "bobs-room",
        "bobs-message",
    }


def test_a_one_character_phone_number_forgets_only_what_is_exactly_that(alice, subscribed):
    """Before: the replays were matched by substring, so the phone "5" matched every stored
    answer with a 5 in a uuid or a date."""
    lead = LeadFactory(account=alice.user, email="", phone_number="5")
    rooms = [
        api_post(alice, "/api/v1/rooms/", {"name": f"Room 5-{n}"}, key=f"room-{n}")
        for n in range(10)
    ]
    for n, room in enumerate(rooms):
        api_post(
            alice,
            "/api/v1/messages/",
            {"body": "5 5 5", "room": room["uuid"], "phone_number": "+55"},
            key=f"message-{n}",
        )
        api_post(alice, "/api/v1/leads/", {"phone_number": "555"}, key=f"lead-{n}")
    api_post(alice, "/api/v1/leads/", {"phone_number": "5"}, key="exactly-5")
    keys = set(IdempotencyKey.objects.values_list("key", flat=True))
    events = Event.objects.count()
    assert sum("5" in str(k.response_body) for k in IdempotencyKey.objects.all()) == len(keys)

    assert alice.client.delete(f"/api/v1/leads/{lead.uuid}/?purge=true").status_code == 204

    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == keys - {"exactly-5"}
    assert Event.objects.count() == events - 1  # the lead.added of the other "5"
    assert Room.objects.count() == 10


def test_purge_needs_no_more_than_the_lead_without_contact_details(alice, subscribed):
    """A lead with no email or phone: its own event and replay go, nothing else."""
    lead = Lead.objects.get(uuid=api_post(alice, "/api/v1/leads/", {}, key="empty")["uuid"])
    api_post(alice, "/api/v1/leads/", {}, key="another-empty")

    assert alice.client.delete(f"/api/v1/leads/{lead.uuid}/?purge=true").status_code == 204

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["another-empty"]
    assert Event.objects.count() == 1


def test_a_delivery_purged_while_it_was_being_sent_is_not_recorded(alice, subscribed):
    from webhooks import transport, worker

    lead = Lead.objects.get(
        uuid=api_post(alice, "/api/v1/leads/", {"email": "a@example.com"})["uuid"]
    )
    delivery = Delivery.objects.get(event__type="lead.added")

    lead_delete(lead=lead, purge=True)  # meanwhile the worker posts it
    worker.delivery_record(
        delivery,
        started_at=timezone.now(),
        outcome=transport.Outcome(status_code=200, error="", duration_ms=3),
    )

    assert not Delivery.objects.exists()
    assert not DeliveryAttempt.objects.exists()


def test_the_purge_is_one_transaction(alice, bob, subscribed, monkeypatch):
    lead, *_ = ann_and_others(alice, bob)
    before = (Event.objects.count(), IdempotencyKey.objects.count(), Room.objects.count())

    def fail(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("leads.services.idempotency_keys_forget", fail)
    with pytest.raises(RuntimeError):
        lead_delete(lead=lead, purge=True)

    assert (Event.objects.count(), IdempotencyKey.objects.count(), Room.objects.count()) == before
    assert Lead.objects.filter(pk=lead.pk).exists()
